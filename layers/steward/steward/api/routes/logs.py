"""The prediction-log queue's dead letters: how many wait, and moving them back."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from steward.api.context import caller
from steward.domain.identity import Role
from steward.wiring import dead_letters

router = Router()


class DeadLetterState(BaseModel):
    remaining: int  # approximate, as SQS reports it


class Redriven(DeadLetterState):
    moved: int


@router.get("/logs/dead-letters", summary="Log batches in the dead-letter queue")
def dead_letter_state() -> DeadLetterState:
    caller(router).require(Role.ADMIN)
    return DeadLetterState(remaining=dead_letters().depth())


@router.post("/logs/redrive", summary="Move dead-lettered log batches back to the log queue")
def redrive(limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> Redriven:
    """At most ``limit`` messages per call (the function's timeout bounds one call); the
    CLI calls again until none remain."""
    caller(router).require(Role.ADMIN)
    letters = dead_letters()
    moved = letters.redrive(limit)
    return Redriven(moved=moved, remaining=letters.depth())
