"""Lambda entry point for the drift starter: batches of the drift start queue (one message
per firing of a model's schedule) -> one drift run each, within Step Functions' start rate;
partial failures reported so that only the failed messages come back (and end in the DLQ
if they keep failing)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.drift.starts import start_batch
from steward.wiring import scheduled_runs

logger = Logger(service="steward-drift-starter")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    messages = [(r["messageId"], r["body"]) for r in event.get("Records", [])]
    failed = start_batch(scheduled_runs(), messages)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
