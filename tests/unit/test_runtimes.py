"""Every flavor through the one Runtime interface."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from steward.domain.errors import ValidationFailed
from steward.domain.frames import columns_from_records
from steward.domain.models import Flavor, Signature, Task
from steward.runtimes.loader import load_runtime, validate_artifact
from tests.factories import (
    TENURE_PLAN_SCORECARD,
    TENURE_PLAN_SIGNATURE,
    onnx_logistic,
    reference_rows,
)

SIG = Signature.model_validate(TENURE_PLAN_SIGNATURE)
ROWS = [
    {"tenure": 10.0, "charges": 50.0, "plan": "basic"},
    {"tenure": 60.0, "charges": 20.0, "plan": "pro"},
    {"tenure": None, "charges": 95.0, "plan": None},
]


def _cols() -> dict[str, np.ndarray]:
    return columns_from_records(ROWS, SIG)


def test_linear_and_logistic_match_the_formula() -> None:
    spec = {"intercept": -1.0, "coefficients": {"tenure": -0.04, "charges": 0.02}}
    linear = load_runtime(Flavor.LINEAR, json.dumps(spec).encode(), SIG, Task.REGRESSION)
    cols = {k: v[:2] for k, v in _cols().items()}
    z = np.array([-1 - 0.4 + 1.0, -1 - 2.4 + 0.4])
    assert np.allclose(linear.predict(cols).values, z)
    logistic = load_runtime(Flavor.LOGISTIC, json.dumps(spec).encode(), SIG, Task.CLASSIFICATION)
    out = logistic.predict(cols)
    assert out.scores is not None and np.allclose(out.scores, 1 / (1 + np.exp(-z)))
    assert out.values.tolist() == (1 / (1 + np.exp(-z)) >= 0.5).astype(int).tolist()


def test_scorecard_points_and_reasons() -> None:
    card = json.dumps(TENURE_PLAN_SCORECARD).encode()
    runtime = load_runtime(Flavor.SCORECARD, card, SIG, Task.DECISION)
    out = runtime.predict(_cols())
    assert out.scores is not None and out.scores.tolist() == [580.0, 645.0, 550.0]
    assert out.values.tolist() == ["decline", "approve", "decline"]
    assert out.explanations is not None and out.explanations[2] == {"tenure": -50.0, "plan": 0.0}


def test_rules_fire_in_order_with_explanations() -> None:
    rules = {
        "rules": [
            {
                "id": "no-tenure",
                "when": [{"feature": "tenure", "op": "is_null"}],
                "outcome": "review",
            },
            {
                "id": "loyal-pro",
                "when": [
                    {"feature": "tenure", "op": ">=", "value": 24},
                    {"feature": "plan", "op": "==", "value": "pro"},
                ],
                "outcome": "keep",
            },
            {
                "id": "pricey",
                "when": [{"feature": "charges", "op": ">", "value": 40}],
                "outcome": "offer",
            },
        ],
        "default": "none",
    }
    runtime = load_runtime(Flavor.RULES, json.dumps(rules).encode(), SIG, Task.DECISION)
    out = runtime.predict(_cols())
    assert out.values.tolist() == ["offer", "keep", "review"]
    assert [e["rule"] for e in out.explanations or []] == ["pricey", "loyal-pro", "no-tenure"]


@pytest.mark.parametrize(
    ("flavor", "body"),
    [
        (Flavor.LINEAR, b"not json"),
        (Flavor.LOGISTIC, b'{"coefficients": {}}'),
        (Flavor.SCORECARD, b'{"features": {"tenure": {"bins": [], "categories": {}}}}'),
        (Flavor.RULES, b'{"rules": [], "default": 0}'),
        (Flavor.LINEAR, b'{"coefficients": {"age": 1}}'),
    ],
)
def test_bad_decision_models_are_422(flavor: Flavor, body: bytes) -> None:
    with pytest.raises(ValidationFailed):
        load_runtime(flavor, body, SIG, Task.DECISION)


def test_onnx_logistic_scores_like_numpy() -> None:
    sig = Signature.model_validate({"inputs": [{"name": "tenure"}, {"name": "charges"}]})
    runtime = load_runtime(Flavor.ONNX, onnx_logistic(), sig, Task.CLASSIFICATION)
    rows = [{"tenure": 10.0, "charges": 50.0}, {"tenure": 60.0, "charges": 20.0}]
    out = runtime.predict(columns_from_records(rows, sig))
    z = np.array([-1 - 0.4 + 1.0, -1 - 2.4 + 0.4])
    assert out.scores is not None and np.allclose(out.scores, 1 / (1 + np.exp(-z)), atol=1e-6)
    assert out.values.tolist() == (1 / (1 + np.exp(-z)) >= 0.5).astype(int).tolist()


def test_onnx_garbage_is_422() -> None:
    with pytest.raises(ValidationFailed, match="ONNX"):
        load_runtime(Flavor.ONNX, b"\x08\x01garbage", SIG, Task.CLASSIFICATION)


def test_sklearn_via_skops() -> None:
    skops_io = pytest.importorskip("skops.io")
    from sklearn.linear_model import LogisticRegression

    sig = Signature.model_validate({"inputs": [{"name": "tenure"}, {"name": "charges"}]})
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    runtime = load_runtime(Flavor.SKLEARN, skops_io.dumps(model), sig, Task.CLASSIFICATION)
    cols = {"tenure": x[:5, 0], "charges": x[:5, 1]}
    out = runtime.predict(cols)
    assert out.scores is not None and np.allclose(out.scores, model.predict_proba(x[:5])[:, 1])


def test_validation_checks_output_against_task() -> None:
    sig = Signature.model_validate({"inputs": [{"name": "tenure"}, {"name": "charges"}]})
    rows = [{"tenure": float(i), "charges": float(i)} for i in range(1500)]
    cols = columns_from_records(rows, sig)
    linear = json.dumps({"coefficients": {"tenure": 1.0}}).encode()
    result = validate_artifact(Flavor.LINEAR, linear, sig, Task.REGRESSION, cols)
    assert result.checks["output_matches_task"] == "finite numeric outputs"
    with pytest.raises(ValidationFailed, match="regression"):
        validate_artifact(Flavor.LINEAR, linear, sig, Task.CLASSIFICATION, cols)


def test_row_samples_round_trip() -> None:
    from steward.registry.tabular import decode_sample, encode_sample

    rows = reference_rows(10)
    back, labels = decode_sample(encode_sample(rows, [0, 1] * 5))
    assert back == rows and labels == [0, 1] * 5
    assert decode_sample(encode_sample(rows)) == (rows, None)
    assert io.BytesIO(encode_sample(rows)).read(2) == b"\x1f\x8b"
