"""``steward:skopsTrusted``: the admin's additions to the skops allowlist reach every
function that loads models; a forbidden name refuses the synth."""

from __future__ import annotations

from typing import Any

import pytest

from infra.app import build_app
from infra.auth import DeploymentError
from tests.infra.conftest import NO_BUNDLING


def _env_values(template: dict[str, Any], key: str) -> dict[str, str]:
    functions = template["Resources"].items()
    return {
        logical: props["Environment"]["Variables"][key]
        for logical, resource in functions
        if resource["Type"] == "AWS::Lambda::Function"
        and key in (props := resource["Properties"]).get("Environment", {}).get("Variables", {})
    }


def test_the_additions_reach_the_functions_that_load_models() -> None:
    from aws_cdk.assertions import Template

    context = {"steward:skopsTrusted": ["numpy.dtype", "scipy.sparse._csr.csr_matrix"]}
    _, stack = build_app(context={**context, **NO_BUNDLING}, nag=False)
    values = _env_values(Template.from_stack(stack).to_json(), "STEWARD_SKOPS_TRUSTED")
    holders = " ".join(values)
    for function in ("ApiFunction", "TasksFunction", "ScoringImage", "ScoringFunction"):
        assert function in holders, (function, sorted(values))
    assert set(values.values()) == {"numpy.dtype,scipy.sparse._csr.csr_matrix"}


@pytest.mark.parametrize("named", ["builtins.eval", "functools.partial", "numpy.load"])
def test_a_forbidden_type_refuses_the_synth(named: str) -> None:
    with pytest.raises(DeploymentError, match=f"never trusted.*{named}"):
        build_app(
            context={"steward:skopsTrusted": f"numpy.dtype,{named}", **NO_BUNDLING}, nag=False
        )
