"""scikit-learn's own estimators through skops on moto: a histogram GBM registers, validates
in the approval workflow and answers as scikit-learn does; an untrusted type is a 422 that
names it and says how to allow it; the deployment's allowlist is on the audit trail, once
per change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steward import wiring
from steward.runtimes.skops_trust import trust_added
from tests.factories import b64, model_spec, register_body
from tests.integration.conftest import Stack
from tests.integration.support import api, scoring, wait_status


def _body(model: Any, x: np.ndarray, names: list[str]) -> dict[str, Any]:
    rows = [dict(zip(names, map(float, r), strict=True)) for r in x[:100]]
    signature = {"inputs": [{"name": n, "type": "double"} for n in names]}
    return register_body(
        flavor="sklearn",
        artifact_b64=b64(sio.dumps(model)),
        signature=signature,
        reference_data={"instances": rows},
    )


def _skops_events(stack: Stack) -> list[dict[str, Any]]:
    items = api(stack, "GET", "/audit?limit=200", user="admin")[1]["items"]
    return [e for e in items if e["action"] == "deployment.skops_trusted"]


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Redeploy with ``STEWARD_SKOPS_TRUSTED`` set: the next cold start reads it."""

    def set_to(value: str) -> None:
        monkeypatch.setenv("STEWARD_SKOPS_TRUSTED", value)
        wiring.reset()

    yield set_to
    monkeypatch.delenv("STEWARD_SKOPS_TRUSTED", raising=False)
    wiring.reset()
    trust_added([])


def test_a_histogram_gbm_on_diabetes_registers_validates_and_answers(stack: Stack) -> None:
    data = load_diabetes()
    x, y, names = data.data, data.target, list(data.feature_names)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x, y)
    assert api(stack, "POST", "/models", model_spec("hgb-diabetes", task="regression"))[0] == 201
    code, version = api(stack, "POST", "/models/hgb-diabetes/versions", _body(model, x, names))
    assert code == 201, version
    pending = wait_status(stack, "hgb-diabetes", 1, "PENDING_APPROVAL")
    assert pending["validation"]["ok"], pending["validation"]
    decision = {"decision": "approve", "comment": "reviewed"}
    assert api(stack, "POST", "/models/hgb-diabetes/versions/1/decision", decision, "bob")[0] == 200
    assert api(stack, "PUT", "/models/hgb-diabetes/aliases/production", {"version": 1})[0] == 200

    rows = [dict(zip(names, map(float, r), strict=True)) for r in x[:50]]
    code, answer = scoring(stack, "/models/hgb-diabetes/predict", {"instances": rows})
    assert code == 200, answer
    got = np.array([p["value"] for p in answer["predictions"]])
    np.testing.assert_allclose(got, model.predict(x[:50]), rtol=0, atol=1e-6)

    recorded = _skops_events(stack)
    assert len(recorded) == 1 and recorded[0]["after"]["added"] == []
    assert (
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
        in (recorded[0]["after"]["effective"])
    )


def test_an_untrusted_type_is_a_422_naming_it_until_an_admin_trusts_it(
    stack: Stack, trusted: Any
) -> None:
    data = load_wine()
    x, names = data.data, list(data.feature_names)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(
        x, data.target
    )
    assert api(stack, "POST", "/models", model_spec("wine-imputed"))[0] == 201
    code, refused = api(stack, "POST", "/models/wine-imputed/versions", _body(model, x, names))
    assert code == 422, refused
    assert "does not trust: numpy.dtype" in refused["message"]
    assert "steward:skopsTrusted" in refused["message"]
    assert "STEWARD_SKOPS_TRUSTED" in refused["message"]
    assert api(stack, "GET", "/models/wine-imputed/versions")[1]["items"] == []
    before = len(_skops_events(stack))

    trusted("numpy.dtype")
    code, version = api(stack, "POST", "/models/wine-imputed/versions", _body(model, x, names))
    assert code == 201, version
    events = _skops_events(stack)
    assert len(events) == before + 1
    assert events[0]["after"]["added"] == ["numpy.dtype"]
    assert events[0]["before"] is None or events[0]["before"]["added"] == []
    # The same list again: nothing new on the trail.
    assert api(stack, "POST", "/models/wine-imputed/versions", _body(model, x, names))[0] == 201
    assert len(_skops_events(stack)) == before + 1
