"""The workflow functions' tasks (approval, retrain, governance), each called with its
event by :func:`steward.dispatch.dispatch`, which also says which function runs each."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from steward.domain.models import MODEL_NAME
from steward.lifecycle.retrain import start_retrain
from steward.wiring import deployer, registry, retrainer

logger = logging.getLogger(__name__)
metrics = Metrics(namespace="Steward", service="workflow")


class VersionRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=MODEL_NAME)
    version: int = Field(ge=1)


class StepInput(BaseModel):
    """``{"task", "input": <the execution's state>, "execution"}`` from a Lambda task."""

    model_config = ConfigDict(extra="ignore")

    task: str
    input: dict[str, Any] = Field(default_factory=dict)
    execution: str | None = None


class RunRef(BaseModel):
    """The retrain workflow's state: the model, the run (execution name) and its trigger."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=MODEL_NAME)
    run: str = Field(min_length=1, max_length=80)
    trigger: str = Field(default="manual", max_length=200)


class RetrainTrigger(BaseModel):
    """From the ``DriftDetected`` rule, a schedule or the API."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(pattern=MODEL_NAME)
    report_id: str | None = Field(default=None, max_length=200)
    trigger: Literal["drift", "schedule", "manual"] = "drift"


class ApprovalRequest(VersionRef):
    task: Literal["request_approval"]
    token: str = Field(min_length=1)


def _ref(event: dict[str, Any]) -> VersionRef:
    return VersionRef.model_validate(StepInput.model_validate(event).input)


def validate(event: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(event)
    result = registry().validate(ref.name, ref.version, hold=True)
    return result.model_dump(mode="json")


def request_approval(event: dict[str, Any]) -> dict[str, Any]:
    request = ApprovalRequest.model_validate(event)
    reg = registry()
    decided = reg.await_decision(request.name, request.version, request.token)
    if decided is not None:
        reg.workflows.resume(request.token, decided)
    return {"waiting": decided is None}


def _state(event: dict[str, Any]) -> tuple[VersionRef, dict[str, Any]]:
    step = StepInput.model_validate(event)
    return VersionRef.model_validate(step.input), step.input


def evaluate_gates(event: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(event)
    return deployer().gates(ref.name, ref.version).model_dump(mode="json")


def deploy(event: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(event)
    return deployer().deploy(ref.name, ref.version)


def analyze_canary(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _state(event)
    plan = state["deploy"]
    verdict = deployer().analyze(ref.name, ref.version, int(plan["champion"]), plan["since"])
    return verdict.model_dump(mode="json")


def promote(event: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(event)
    return deployer().promote(ref.name, ref.version, "canary passed its analysis")


def rollback_canary(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _state(event)
    error = (state.get("error") or {}).get("Error")
    reasons = (state.get("canary") or {}).get("reasons") or [f"canary step failed: {error}"]
    return deployer().rollback(ref.name, ref.version, "; ".join(reasons))


def notify(event: dict[str, Any]) -> dict[str, Any]:
    """Publish what happened; the details come from the execution's state."""
    step = StepInput.model_validate(event)
    what = str(event.get("event") or "update")
    state = step.input
    details = {
        "execution": step.execution,
        "reason": (state.get("gates") or {}).get("reason"),
        "decision": (state.get("decision") or {}).get("decision"),
        "canary": (state.get("canary") or {}).get("reasons"),
        "error": (state.get("error") or {}).get("Error"),
        "version": state.get("version") or (state.get("registered") or {}).get("version"),
    }
    number = details.pop("version")
    deployer().notify(what, str(state.get("name")), int(number) if number else None, details)
    return {"sent": what}


def send_heartbeats(_: dict[str, Any]) -> dict[str, Any]:
    return deployer().heartbeats()


def trigger_retrain(event: dict[str, Any]) -> dict[str, Any]:
    request = RetrainTrigger.model_validate(event)
    key = request.report_id or datetime.now(UTC).strftime("%Y%m%dT%H%M")
    return start_retrain(registry().workflows, request.model, request.trigger, key)


def scheduled_retrains(_: dict[str, Any]) -> dict[str, Any]:
    return {"started": retrainer().scheduled(registry().workflows)}


def _run(event: dict[str, Any]) -> tuple[RunRef, dict[str, Any]]:
    step = StepInput.model_validate(event)
    return RunRef.model_validate(step.input), step.input


def retrain_begin(event: dict[str, Any]) -> dict[str, Any]:
    ref, _ = _run(event)
    return retrainer().begin(ref.name, ref.run, ref.trigger)


def retrain_prepare(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _run(event)
    return retrainer().prepare(ref.name, ref.run, state["lease"]["window"])


def retrain_train(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _run(event)
    return retrainer().train(ref.name, ref.run, state["data"])


def retrain_stage(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _run(event)
    return retrainer().stage(ref.name, ref.run, state["data"])


def retrain_collect(event: dict[str, Any]) -> dict[str, Any]:
    """After an AWS backend's state: its result in ``$.ran``, or its error in
    ``$.trainer_error`` (caught, so that the trainer's own failure text is the cause)."""
    ref, state = _run(event)
    error = state.get("trainer_error")
    return retrainer().collect(
        ref.name,
        ref.run,
        state["data"],
        state["staged"],
        state.get("ran") if isinstance(state.get("ran"), dict) else None,
        error if isinstance(error, dict) else None,
    )


def retrain_register(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _run(event)
    return retrainer().register(
        ref.name, ref.run, ref.trigger, state["lease"]["window"], state["data"], state["trained"]
    )


def retrain_finish(event: dict[str, Any]) -> dict[str, Any]:
    ref, state = _run(event)
    error = state.get("error")
    outcome = "failed" if error else "registered"
    return retrainer().finish(
        ref.name, ref.run, outcome, error if isinstance(error, dict) else None
    )


def record_failure(event: dict[str, Any]) -> dict[str, Any]:
    step = StepInput.model_validate(event)
    ref = VersionRef.model_validate(step.input)
    error = step.input.get("error") or {}
    reason = f"workflow failed: {error.get('Error', 'unknown error')}"
    registry().fail(ref.name, ref.version, reason)
    return {"recorded": True, "reason": reason}


def expire(event: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(event)
    registry().expire(ref.name, ref.version)
    return {"expired": True}


def verify_audit(_: dict[str, Any]) -> dict[str, Any]:
    """Every stream against its write-once copy; a divergence raises the AuditDiverged
    alarm (metric AuditChainsBroken), which notifies the alarm topic."""
    reports = registry().verify_all()
    broken = [r for r in reports if not r.ok]
    for report in broken:
        logger.error("audit trail diverged", extra=report.model_dump())
    metrics.add_metric(name="AuditChainsBroken", unit=MetricUnit.Count, value=len(broken))
    metrics.add_metric(name="AuditChainsVerified", unit=MetricUnit.Count, value=len(reports))
    metrics.flush_metrics()
    return {"streams": len(reports), "broken": [r.stream for r in broken]}
