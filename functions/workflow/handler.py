"""Lambda entry point for workflow tasks and scheduled jobs (dispatch on ``task``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.workflows.tasks import run_task

logger = Logger(service="steward-workflow")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_task(event)
