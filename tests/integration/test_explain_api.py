"""Explanations over the scoring function's routes, on moto: an ONNX gradient-boosted
classifier, a logistic model, a scorecard and a multiclass forest; reason codes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from steward import wiring
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.registry.requests import Decision, RegisterVersion
from tests.factories import b64, model_spec, multiclass_data, multiclass_rows, register_body
from tests.integration.conftest import Stack
from tests.integration.support import scoring, wait_status

USERS = UserDirectory()


def _serve(stack: Stack, name: str, body: dict[str, Any], **spec: Any) -> None:
    registry = wiring.registry()
    registry.create_model(
        ModelSpec.model_validate(model_spec(name, **spec)), USERS.identify("alice")
    )
    number = registry.register_version(
        name, RegisterVersion.model_validate(body), USERS.identify("alice")
    ).version
    wait_status(stack, name, number, "PENDING_APPROVAL")
    registry.decide(name, number, Decision(decision="approve", comment="ok"), USERS.identify("bob"))
    registry.set_alias(name, "production", number, USERS.identify("alice"))


def _additive(answer: dict[str, Any], tolerance: float) -> None:
    for record in answer["explanations"]:
        base = record.get("base_value", answer["base_value"])
        total = base + sum(record["attributions"].values())
        assert abs(total - record["output"]) <= tolerance * max(1.0, abs(record["output"]))


def test_an_onnx_gradient_boosted_classifier_is_explained_exactly(stack: Stack) -> None:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    x, y = load_breast_cancer(return_X_y=True)
    x = x[:, :8]
    model = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(x, y)
    graph = to_onnx(model, x[:1].astype(np.float32)).SerializeToString()
    rows = multiclass_rows(x)
    signature = {"inputs": [{"name": f"f{i}", "type": "double"} for i in range(8)]}
    body = register_body(flavor="onnx", signature=signature, reference_data={"instances": rows})
    body["artifact_b64"] = b64(graph)
    _serve(stack, "gbc", body)

    code, answer = scoring(stack, "/models/gbc/explain", {"instances": rows[200:205]})
    assert code == 200, answer
    assert (answer["method"], answer["output_space"], answer["version"]) == (
        "tree_shap",
        "log_odds",
        1,
    )
    _additive(answer, 1e-4)
    code, scored = scoring(stack, "/models/gbc/predict", {"instances": rows[200:205]})
    for record, prediction in zip(answer["explanations"], scored["predictions"], strict=True):
        p = prediction["probability"]
        assert abs(record["output"] - np.log(p / (1 - p))) < 1e-4

    code, scored = scoring(stack, "/models/gbc/predict?explain=3", {"instances": rows[200:205]})
    assert code == 200, scored
    for prediction, record in zip(scored["predictions"], answer["explanations"], strict=True):
        down = sorted((v, f) for f, v in record["attributions"].items() if v < 0)[:3]
        assert [(r["contribution"], r["feature"]) for r in prediction["reasons"]] == down


def test_a_logistic_model_gives_exact_linear_attributions_and_reasons_up(stack: Stack) -> None:
    _serve(stack, "risk", register_body(), adverse_direction="up")
    record = {"tenure": 3.0, "charges": 120.0, "plan": "pro"}
    code, answer = scoring(stack, "/models/risk/explain", {"instances": [record]})
    assert code == 200, answer
    assert (answer["method"], answer["output_space"]) == ("linear", "log_odds")
    _additive(answer, 1e-9)
    attributions = answer["explanations"][0]["attributions"]
    # a short tenure (3 against the background's ~36) and high charges both raise the risk
    assert attributions["plan"] == 0.0 and attributions["tenure"] > attributions["charges"] > 0
    code, scored = scoring(stack, "/models/risk/predict?explain=5", {"instances": [record]})
    assert code == 200, scored
    # adverse_direction "up": what raised the risk, largest first (plan weighs nothing)
    reasons = scored["predictions"][0]["reasons"]
    assert [r["feature"] for r in reasons] == ["tenure", "charges"]
    assert reasons[0]["contribution"] == attributions["tenure"]


def test_a_scorecard_gives_reasons_a_lender_could_print(stack: Stack) -> None:
    card = {
        "base_points": 600,
        "features": {
            "tenure": {"bins": [{"max": 12, "points": -40}, {"min": 12, "points": 20}]},
            "charges": {"bins": [{"max": 80, "points": 15}, {"min": 80, "points": -25}]},
        },
        "cutoff": 580,
        "outcomes": ["decline", "approve"],
    }
    body = register_body(flavor="scorecard", artifact_b64=b64(json.dumps(card).encode()))
    _serve(stack, "card", body, task="decision")
    record = {"tenure": 3.0, "charges": 120.0, "plan": "pro"}
    code, answer = scoring(stack, "/models/card/explain", {"instances": [record]})
    assert code == 200, answer
    assert (answer["method"], answer["output_space"], answer["base_value"]) == (
        "points",
        "points",
        635,
    )
    assert answer["explanations"][0] == {
        "attributions": {"tenure": -60.0, "charges": -40.0},
        "output": 535.0,
    }
    code, scored = scoring(stack, "/models/card/predict?explain=2", {"instances": [record]})
    assert scored["predictions"][0]["outcome"] == "decline"
    assert scored["predictions"][0]["reasons"] == [
        {"feature": "tenure", "contribution": -60.0},
        {"feature": "charges", "contribution": -40.0},
    ]


def test_a_multiclass_forest_explains_each_record_s_predicted_class(stack: Stack) -> None:
    from tests.factories import onnx_forest

    x, y, signature = multiclass_data("wine")
    graph, forest = onnx_forest(x, y, trees=10)
    rows = multiclass_rows(x)
    body = register_body(flavor="onnx", signature=signature, reference_data={"instances": rows})
    body["artifact_b64"] = b64(graph)
    _serve(stack, "wine", body)
    code, answer = scoring(stack, "/models/wine/explain", {"instances": rows[::40]})
    assert code == 200, answer
    assert answer["output_space"] == "probability"
    _additive(answer, 1e-4)
    predicted = forest.predict(x[::40]).tolist()
    assert [int(r["class"]) for r in answer["explanations"]] == predicted
    assert set(answer["base_value"]) <= {"0", "1", "2"}


def test_registration_stores_the_attribution_profile_shown_in_the_model_card(
    stack: Stack,
) -> None:
    _serve(stack, "profiled", register_body())
    version = wiring.registry().get_version("profiled", 1)
    profile = version.attribution_profile
    assert profile is not None
    assert (profile["method"], profile["output_space"], profile["rows"]) == (
        "linear",
        "log_odds",
        200,
    )
    # linear: mean |w (x - mean)| over the reference rows, 0 for a feature without weight
    from tests.factories import reference_rows

    rows = reference_rows()
    tenure = np.array([r["tenure"] for r in rows])
    background = tenure[:100].mean()
    assert abs(profile["features"]["tenure"] - np.abs(-0.04 * (tenure - background)).mean()) < 1e-9
    assert profile["features"]["plan"] == 0.0
    from steward.registry.card import card_json

    card = json.dumps(card_json(wiring.registry().get_model("profiled"), version))
    assert "Attributions" in card and "mean |attribution| in log_odds" in card
