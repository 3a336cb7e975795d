"""scikit-learn's own estimators over HTTP on the local platform, as a new user would bring
them: a histogram GBM regressor on diabetes, a histogram GBM classifier on breast cancer and a
scaler + logistic regression pipeline on wine, saved with skops, registered, approved and
asked; their answers equal scikit-learn's own to 1e-6."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steward.client import ApiError, Client
from steward.local.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def _rows(x: np.ndarray, names: list[str]) -> list[dict[str, float]]:
    return [dict(zip(names, map(float, r), strict=True)) for r in x]


def _serve(platform: LocalPlatform, name: str, task: str, model: Any, rows: list[Any]) -> Client:
    client = Client(url=platform.url)
    alice, bob = client.as_user("alice"), client.as_user("bob")
    alice.post("/models", {"name": name, "task": task})
    version = alice.post(
        f"/models/{name}/versions",
        {
            "flavor": "sklearn",
            "artifact_b64": base64.b64encode(sio.dumps(model)).decode(),
            "signature": {"inputs": [{"name": n, "type": "double"} for n in rows[0]]},
            "reference_data": {"instances": rows[:100]},
        },
    )
    path = f"/models/{name}/versions/{version['version']}"
    for _ in range(400):
        if alice.get(path)["status"] == "PENDING_APPROVAL":
            break
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "reviewed"})
    alice.put(f"/models/{name}/aliases/production", {"version": version["version"]})
    return client


def test_hist_gradient_boosting_regressor_on_diabetes(platform: LocalPlatform) -> None:
    data = load_diabetes()
    model = HistGradientBoostingRegressor(random_state=0).fit(data.data, data.target)
    rows = _rows(data.data, list(data.feature_names))
    client = _serve(platform, "sk-hgb-diabetes", "regression", model, rows)
    answer = client.post("/models/sk-hgb-diabetes/predict", {"instances": rows})
    got = np.array([p["value"] for p in answer["predictions"]])
    np.testing.assert_allclose(got, model.predict(data.data), rtol=0, atol=1e-6)


def test_hist_gradient_boosting_classifier_on_breast_cancer(platform: LocalPlatform) -> None:
    data = load_breast_cancer()
    model = HistGradientBoostingClassifier(random_state=0).fit(data.data, data.target)
    rows = _rows(data.data, [n.replace(" ", "_") for n in data.feature_names])
    client = _serve(platform, "sk-hgb-cancer", "classification", model, rows)
    answer = client.post("/models/sk-hgb-cancer/predict", {"instances": rows})
    got = np.array([p["probability"] for p in answer["predictions"]])
    np.testing.assert_allclose(got, model.predict_proba(data.data)[:, 1], rtol=0, atol=1e-6)
    assert [p["label"] for p in answer["predictions"]] == model.predict(data.data).tolist()


def test_scaler_and_logistic_pipeline_on_wine(platform: LocalPlatform) -> None:
    data = load_wine()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.data, data.target)
    rows = _rows(data.data, [n.replace("/", "_") for n in data.feature_names])
    client = _serve(platform, "sk-wine-pipeline", "classification", model, rows)
    answer = client.post("/models/sk-wine-pipeline/predict", {"instances": rows})
    assert [p["label"] for p in answer["predictions"]] == model.predict(data.data).tolist()
    expected = model.predict_proba(data.data)
    got = np.array(
        [[p["probabilities"][str(c)] for c in model.classes_] for p in answer["predictions"]]
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_a_crafted_tree_is_refused_over_http_naming_what_is_wrong(
    platform: LocalPlatform,
) -> None:
    data = load_breast_cancer()
    model = HistGradientBoostingClassifier(max_iter=5).fit(data.data, data.target)
    nodes = model._predictors[0][0].nodes
    nodes["left"][int(np.flatnonzero(nodes["is_leaf"] == 0)[0])] = 10**6
    client = Client(url=platform.url, user="alice")
    client.post("/models", {"name": "sk-crafted", "task": "classification"})
    rows = _rows(data.data[:20], [f"f{i}" for i in range(data.data.shape[1])])
    with pytest.raises(ApiError) as refused:
        client.post(
            "/models/sk-crafted/versions",
            {
                "flavor": "sklearn",
                "artifact_b64": base64.b64encode(sio.dumps(model)).decode(),
                "signature": {"inputs": [{"name": n, "type": "double"} for n in rows[0]]},
                "reference_data": {"instances": rows},
            },
        )
    assert refused.value.status == 422 and "is malformed" in refused.value.message
