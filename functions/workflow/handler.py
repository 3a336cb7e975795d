"""Lambda entry point for workflow tasks and scheduled jobs: deployed three times (``tasks``
with onnxruntime, ``lifecycle`` with pyarrow, ``models`` as a container image with every
model runtime); :mod:`steward.dispatch` says which task runs where."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.dispatch import dispatch

logger = Logger(service="steward-workflow")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, serves=("tasks", "lifecycle", "models"))
