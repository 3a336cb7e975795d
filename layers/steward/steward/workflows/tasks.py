"""The tasks the state machines and schedules invoke, dispatched on ``task``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from steward.domain.models import MODEL_NAME
from steward.wiring import registry

logger = Logger(service="steward-workflow")
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


class ApprovalRequest(VersionRef):
    task: Literal["request_approval"]
    token: str = Field(min_length=1)


def _ref(event: dict[str, Any]) -> VersionRef:
    return VersionRef.model_validate(StepInput.model_validate(event).input)


def validate(event: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(event)
    result = registry().validate(ref.name, ref.version)
    return result.model_dump(mode="json")


def request_approval(event: dict[str, Any]) -> dict[str, Any]:
    request = ApprovalRequest.model_validate(event)
    reg = registry()
    decided = reg.await_decision(request.name, request.version, request.token)
    if decided is not None:
        reg.workflows.resume(request.token, decided)
    return {"waiting": decided is None}


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
    reports = registry().verify_all(checkpoint=True)
    broken = [r for r in reports if not r.ok]
    for report in broken:
        logger.error("audit chain broken", extra=report.model_dump())
    metrics.add_metric(name="AuditChainsBroken", unit=MetricUnit.Count, value=len(broken))
    metrics.add_metric(name="AuditChainsVerified", unit=MetricUnit.Count, value=len(reports))
    metrics.flush_metrics()
    return {"streams": len(reports), "broken": [r.stream for r in broken]}


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "validate": validate,
    "request_approval": request_approval,
    "record_failure": record_failure,
    "expire": expire,
    "verify_audit": verify_audit,
}


class UnknownTask(Exception):
    pass


def run_task(event: dict[str, Any]) -> dict[str, Any]:
    name = event.get("task") if isinstance(event, dict) else None
    task = TASKS.get(str(name))
    if task is None:
        raise UnknownTask(f"unknown task {name!r}")
    try:
        return task(event)
    except ValidationError as exc:
        raise ValueError(f"malformed {name} event: {exc.error_count()} error(s)") from None
