"""Lambda entry point for drift evaluation: the per-model schedule (``{"model": name}``)
and the steps of the distributed run (``step``: plan, map, reduce, evaluate)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.drift.malloc import tune_malloc
from steward.wiring import drift_jobs

logger = Logger(service="steward-drift")
# Once per process (a cold start; the local platform loads this module once too): the
# allocator settings the streaming evaluation was measured with (steward.drift.malloc).
tune_malloc()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info(
        "drift step", extra={"step": event.get("step", "scheduled"), "model": event.get("model")}
    )
    return drift_jobs().handle(event)
