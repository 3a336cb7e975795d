"""The zip scoring function ships no scikit-learn: it forwards sklearn requests to the scoring
image function (a Lambda Invoke through moto, answered by the image function's handler
in-process), and the answers equal scikit-learn's own."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from steward import wiring
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.registry.requests import Decision, RegisterVersion
from tests.factories import api_event, b64, model_spec, reference_rows, register_body
from tests.integration.conftest import Stack

USERS = UserDirectory()
FEATURES = ["tenure", "charges"]


def _sklearn_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    rows = reference_rows(300, seed=3)
    x = np.array([[r[f] for f in FEATURES] for r in rows])
    return LogisticRegression(max_iter=500).fit(x, (x[:, 0] < 24).astype(int))


def _serve(name: str, body: dict[str, Any]) -> None:
    registry = wiring.registry()
    registry.create_model(ModelSpec.model_validate(model_spec(name)), USERS.identify("alice"))
    number = registry.register_version(
        name, RegisterVersion.model_validate(body), USERS.identify("alice")
    ).version
    for _ in range(200):  # the approval workflow validates the artifact, then waits
        if registry.get_version(name, number).status.value == "PENDING_APPROVAL":
            break
        time.sleep(0.02)
    registry.decide(name, number, Decision(decision="approve", comment="ok"), USERS.identify("bob"))
    registry.set_alias(name, "production", number, USERS.identify("alice"))


def test_zip_function_forwards_sklearn_to_the_image_function(stack: Stack) -> None:
    import skops.io as sio

    model = _sklearn_model()
    signature = {"inputs": [{"name": f, "type": "double", "min": 0} for f in FEATURES]}
    artifact = b64(sio.dumps(model))
    _serve(
        "sk-forward", register_body(flavor="sklearn", artifact_b64=artifact, signature=signature)
    )
    rows = [{f: r[f] for f in FEATURES} for r in reference_rows(40, seed=11)]
    path = "/models/sk-forward/predict"
    before = stack.runtime.invocations["scoring"]

    result = stack.invoke("scoring", api_event("POST", path, {"instances": rows}, resource=path))

    assert result["statusCode"] == 200, result
    assert stack.runtime.invocations["scoring"] - before == 2  # the zip, then the image function
    answer = json.loads(result["body"])
    x = np.array([[r[f] for f in FEATURES] for r in rows])
    expected = model.predict_proba(x)[:, 1]
    got = np.array([p["probability"] for p in answer["predictions"]])
    assert np.allclose(got, expected, atol=1e-6)
    assert [p["label"] for p in answer["predictions"]] == model.predict(x).tolist()
    assert len(answer["request_ids"]) == len(rows) and answer["model"] == "sk-forward"

    # The caller's faults come back from the image function as they are, never as a 5xx.
    bad = stack.invoke(
        "scoring", api_event("POST", path, {"instances": [{"tenure": 1.0}]}, resource=path)
    )
    assert bad["statusCode"] == 422 and "charges" in json.loads(bad["body"])["message"]


def test_light_flavors_are_not_forwarded(stack: Stack) -> None:
    _serve("light", register_body())  # a logistic decision model: the zip function scores it
    before = stack.runtime.invocations["scoring"]
    path = "/models/light/predict"
    event = api_event("POST", path, {"instances": reference_rows(3)}, resource=path)
    result = stack.invoke("scoring", event)
    assert result["statusCode"] == 200, result
    assert stack.runtime.invocations["scoring"] - before == 1
