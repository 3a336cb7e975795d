"""Lambda entry point for drift evaluation: the per-model schedule (``{"model": name}``)
and the steps of the distributed run (``task``: plan, map, reduce, evaluate), dispatched
as every task is (:mod:`steward.dispatch`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.dispatch import dispatch
from steward.drift.malloc import tune_malloc

logger = Logger(service="steward-drift")
# Once per process (a cold start; the local platform loads this module once too): the
# allocator settings the streaming evaluation was measured with (steward.drift.malloc).
tune_malloc()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info(
        "drift task", extra={"task": event.get("task", "scheduled"), "model": event.get("model")}
    )
    return dispatch(event, serves=("drift",), default="scheduled")
