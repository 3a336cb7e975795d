"""sampling_shap over HTTP on the local platform: an ONNX MLP (scaler + MLPClassifier by
skl2onnx) on scikit-learn's breast cancer data, registered, approved and explained; the
answer is additive, carries each attribution's standard error within the stated error, and
a budget that cannot reach the error is a 422 naming it (from the request and from the
model's explain policy)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steward.client import ApiError, Client
from steward.local.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e-explain") as running:
        yield running


def test_an_onnx_mlp_is_explained_by_sampling_with_its_errors(platform: LocalPlatform) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=800, random_state=0),
    ).fit(x, y)
    graph = to_onnx(model, x[:1].astype(np.float32)).SerializeToString()  # with its ZipMap
    names = [f"f{i}" for i in range(x.shape[1])]
    rows = [dict(zip(names, map(float, r), strict=True)) for r in x]
    client = Client(url=platform.url)
    alice, bob = client.as_user("alice"), client.as_user("bob")
    alice.post("/models", {"name": "mlp", "task": "classification"})
    version = alice.post(
        "/models/mlp/versions",
        {
            "flavor": "onnx",
            "artifact_b64": base64.b64encode(graph).decode(),
            "signature": {"inputs": [{"name": n, "type": "double"} for n in names]},
            "reference_data": {"instances": rows[:150]},
        },
    )
    path = f"/models/mlp/versions/{version['version']}"
    for _ in range(600):
        if alice.get(path)["status"] == "PENDING_APPROVAL":
            break
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "reviewed"})
    alice.put("/models/mlp/aliases/production", {"version": version["version"]})

    asked = rows[-3:]
    answer = client.explain("mlp", asked, error=0.05)
    assert (answer["method"], answer["output_space"]) == ("sampling_shap", "log_odds")
    scored = client.predict("mlp", asked)["predictions"]
    for record, prediction in zip(answer["explanations"], scored, strict=True):
        total = answer["base_value"] + sum(record["attributions"].values())
        assert abs(total - record["output"]) <= 1e-6 * max(1.0, abs(record["output"]))
        p = min(max(prediction["probability"], 1e-7), 1 - 1e-7)
        assert abs(record["output"] - np.log(p / (1 - p))) < 1e-4
        assert set(record["error"]) == set(names)
        assert max(record["error"].values()) <= 0.05
        assert 0 < record["evaluations"] <= 100_000  # the default budget

    with pytest.raises(ApiError) as refused:
        client.explain("mlp", asked[:1], budget=2000)
    assert refused.value.status == 422
    assert refused.value.code == "explanation_budget_exceeded"
    assert "budget of 2000 model evaluations" in refused.value.message

    # The model's explain policy applies to predict?explain=K as well (within the scoring
    # function's model TTL).
    alice.patch("/models/mlp", {"explain": {"budget": 2000}, "reason": "cheap reasons"})
    deadline = time.monotonic() + 30
    refusal = None
    while refusal is None and time.monotonic() < deadline:
        try:
            client.predict("mlp", asked[:1], explain=3)
            time.sleep(0.5)
        except ApiError as exc:
            refusal = exc
    assert refusal is not None and refusal.status == 422
    assert "budget of 2000" in refusal.message
    alice.patch("/models/mlp", {"explain": {"budget": 200_000, "error": 0.5}, "reason": "ok"})
    deadline = time.monotonic() + 30
    while True:
        try:
            answers = client.predict("mlp", asked[:1], explain=3)["predictions"]
            break
        except ApiError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    reasons = answers[0]["reasons"]
    assert len(reasons) <= 3
    assert all(r["contribution"] < 0 for r in reasons)  # adverse_direction down
