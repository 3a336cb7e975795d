"""Workflows: a model's executions, and a retrain by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from steward.api.context import caller
from steward.domain.identity import Role
from steward.lifecycle.retrain import start_retrain
from steward.wiring import registry

router = Router()


class Execution(BaseModel):
    kind: str
    name: str
    status: str
    started: str | None = None
    stopped: str | None = None
    error: str | None = None
    cause: str | None = None  # a failed retrain's reason (a trainer's output/failure text)


class ExecutionList(BaseModel):
    items: list[Execution]
    next_token: str | None = None


class RetrainStarted(BaseModel):
    run: str
    execution: str


@router.get("/models/<name>/executions", summary="Approval and retrain executions, newest first")
def list_executions(name: str, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ExecutionList:
    reg = registry()
    reg.get_model(name)  # 404 for an unknown model
    items: list[dict[str, Any]] = reg.workflows.executions(name, limit)
    return ExecutionList(items=[Execution.model_validate(i) for i in items])


@router.post(
    "/models/<name>/retrain",
    summary="Retrain now (the retrain workflow checks the policy and the lease)",
    responses={
        202: {
            "description": "Started, or already running for this minute",
            "content": {"application/json": {"model": RetrainStarted}},
        }
    },
)
def retrain(name: str) -> Response[str]:
    caller(router).require(Role.DATA_SCIENTIST)
    reg = registry()
    reg.get_model(name)
    key = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    started = RetrainStarted(**start_retrain(reg.workflows, name, "manual", key))
    return Response(202, "application/json", started.model_dump_json())
