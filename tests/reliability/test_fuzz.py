"""Schemathesis against the committed ``openapi.json``: every operation, positive and
negative cases, sent through the local API gateway (the WSGI app of the local platform) to
the API and scoring handlers running in-process on the moto stack.

Checks on every response: no 5xx, the status code is documented, the content type and the
body match the spec, and negative data (that the spec forbids) is rejected with a 4xx.
Half of the cases name an existing model (``fuzz``, with an approved version 1 in
production), so that the operations get past "no such model".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from steward.local.gateway import Gateway
from tests.moto_stack import Stack
from tests.reliability.conftest import examples, serve

ROOT = Path(__file__).resolve().parents[2]
MODEL = "fuzz"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

schema = schemathesis.openapi.from_path(str(ROOT / "openapi.json"))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    if not path_parameters or "name" not in path_parameters:
        return st.just(path_parameters)
    known = {**path_parameters, "name": MODEL}
    version = known.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        known["version"] = 1  # a valid number stays valid: negative cases stay negative
    return st.sampled_from([path_parameters, known])


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Gateway:
    serve(MODEL)
    return Gateway(stack.runtime, stack.deployment.routes)


@schema.parametrize()
@settings(
    max_examples=examples(12, 300),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_conforms_to_the_spec(case: Any, gateway: Gateway) -> None:
    transport = {"app": gateway, "base_url": "http://localhost"}
    response = case.call(headers={"X-Steward-User": "admin"}, **transport)
    case.validate_response(response, checks=CHECKS, transport_kwargs=transport)
