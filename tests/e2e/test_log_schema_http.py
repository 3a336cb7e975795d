"""Over HTTP on the local platform, as a user would: scikit-learn's diabetes data with seven of
its features renamed to names the prediction log uses, a linear model fitted by scikit-learn,
scored, labelled, evaluated for drift and retrained, each on the features' own values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

from steward.client import Client
from steward.lifecycle.retrain import is_holdout
from steward.local.platform import LocalPlatform
from steward.polling import until
from tests.factories import model_spec

ROOT = Path(__file__).resolve().parents[2]
NAME = "diabetes-clashing"
RENAMED = {
    "age": "score",
    "sex": "version",
    "bmi": "ts",
    "bp": "model",
    "s1": "variant",
    "s2": "request_id",
    "s3": "latency_ms",
}


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def test_a_model_with_log_column_names_is_monitored_joined_and_retrained(
    platform: LocalPlatform,
) -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x = x.rename(columns=RENAMED)
    fitted = LinearRegression().fit(x, y)
    coefficients = dict(zip(x.columns, fitted.coef_.tolist(), strict=True))
    artifact = json.dumps({"intercept": float(fitted.intercept_), "coefficients": coefficients})
    alice = Client(url=platform.url, user="alice")
    spec = model_spec(
        NAME,
        task="regression",
        monitoring={"schedule": "rate(1 hour)", "window_hours": 1},
        retrain={"on_drift": False, "cooldown_hours": 0, "min_labels": 100},
    )
    alice.post("/models", spec)
    signature = {"inputs": [{"name": c, "type": "double"} for c in x.columns]}
    alice.register(
        NAME,
        flavor="linear",
        artifact=artifact.encode(),
        signature=signature,
        reference=x,
        holdout=x.iloc[::4],
        labels=y.iloc[::4],
        metrics={"r2": 0.5},
        code_ref="git:diabetes",
    )
    until(
        lambda: alice.get(f"/models/{NAME}/versions/1")["status"] == "PENDING_APPROVAL",
        30,
        step_s=0.1,
        what="validation",
    )
    alice.as_user("bob").post(
        f"/models/{NAME}/versions/1/decision", {"decision": "approve", "comment": "ok"}
    )
    alice.put(f"/models/{NAME}/aliases/production", {"version": 1})

    start = datetime.now(UTC) - timedelta(seconds=1)
    ids: list[str] = []
    for first in range(0, len(x), 150):  # the reference rows themselves: nothing drifts
        ids += alice.predict(NAME, x.iloc[first : first + 150])["request_ids"]
    records = [{"request_id": i, "label": float(v)} for i, v in zip(ids, y, strict=True)]
    alice.post(f"/models/{NAME}/feedback", {"records": records})
    platform.flush()
    window = {
        "start": start.isoformat(),
        "end": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    }

    report = alice.post(f"/models/{NAME}/drift/evaluate", window)
    assert report["rows"] == len(x)
    assert sorted(report["features"]) == sorted(x.columns)
    assert report["drifted_features"] == []  # "version" is sex, not the version number
    for name in x.columns:
        assert report["features"][name]["statistics"]["wasserstein"] < 0.01, name
    assert report["data_quality"]["type_mismatches"] == []  # "ts" is bmi, not a time
    performance = report["performance"]
    assert performance["rows_labelled"] == len(x)
    rmse = float(np.sqrt(mean_squared_error(y, fitted.predict(x))))
    assert performance["metrics"]["rmse"] == pytest.approx(rmse, rel=1e-6)

    run = alice.post(f"/models/{NAME}/retrain", {})
    assert run["run"].startswith(NAME)
    retrained = until(
        lambda: (
            (v := alice.get(f"/models/{NAME}/versions")["items"])
            and len(v) > 1
            and v[0]["status"] == "PENDING_APPROVAL"
            and v[0]
        ),
        60,
        step_s=0.2,
        what="the retrained version",
    )
    lineage = retrained["lineage"]
    assert lineage["parent_version"] == 1 and lineage["training_data"]["rows"] == len(x)
    # refitted on the features' own values (the rows whose request id is not held out), it
    # errs on the held-out rows exactly as scikit-learn's fit on the same rows does
    held = np.array([is_holdout(i) for i in ids])
    refitted = LinearRegression().fit(x[~held], y[~held])
    expected = float(np.sqrt(mean_squared_error(y[held], refitted.predict(x[held]))))
    assert retrained["metrics"]["rmse"] == pytest.approx(expected, rel=1e-6)
