"""Every synthesized state machine is valid Amazon States Language (asl-validator), and the
workflow-level guarantees hold: timeouts everywhere, retries on Lambda service errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import Synth

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def _render(value: Any) -> str:
    """A DefinitionString's intrinsic functions with placeholder ARNs, as CloudFormation
    would resolve them."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(p) for p in parts)
    if "Fn::GetAtt" in value:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{value['Fn::GetAtt'][0]}"
    if "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": "us-east-1"}.get(
            value["Ref"], f"arn:aws:lambda:us-east-1:123456789012:function:{value['Ref']}"
        )
    raise AssertionError(f"unexpected intrinsic {value}")


def _definitions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads(_render(machine["Properties"]["DefinitionString"]))
        for name, machine in synth.resources("AWS::StepFunctions::StateMachine").items()
    }


def test_definitions_are_valid_asl(synth: Synth) -> None:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is missing: run `make install`")
    for name, definition in _definitions(synth).items():
        result = subprocess.run(
            [str(VALIDATOR), "--json-definition", json.dumps(definition)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def _assert_heartbeat_below_timeout(name: str, state: dict[str, Any]) -> None:
    """Static values, or both read from the gates step's output, which computes them with
    ``heartbeat_for`` (always below the timeout: property-tested in tests/unit)."""
    if "HeartbeatSeconds" in state:
        assert state["HeartbeatSeconds"] < state["TimeoutSeconds"], name
        return
    assert state.get("HeartbeatSecondsPath") == "$.gates.heartbeat_s", name
    assert state.get("TimeoutSecondsPath") == "$.gates.approval_timeout_s", name


def test_every_task_has_a_timeout_and_task_tokens_wait_bounded(synth: Synth) -> None:
    for name, definition in _definitions(synth).items():
        assert "TimeoutSeconds" in definition, name
        for state_name, state in definition["States"].items():
            if state["Type"] != "Task":
                continue
            assert "TimeoutSeconds" in state or "TimeoutSecondsPath" in state, state_name
            if str(state["Resource"]).endswith(".waitForTaskToken"):
                _assert_heartbeat_below_timeout(state_name, state)
            # Lambda tasks retry Lambda's service errors; the trainer backends' jobs retry
            # their service's refusals to start (a retried .sync job would run twice).
            retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
            if ":lambda:" in json.dumps(state["Resource"]):
                assert "Lambda.ServiceException" in retried, state_name
            else:
                assert retried, state_name
            assert any(
                "States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])
            ) or state_name.startswith("Record"), state_name


def test_validation_retries_task_faults(synth: Synth) -> None:
    approval = next(d for n, d in _definitions(synth).items() if n.startswith("WorkflowsApproval"))
    retries = approval["States"]["Validate"]["Retry"]
    assert any("States.TaskFailed" in r["ErrorEquals"] and r["MaxAttempts"] >= 2 for r in retries)
