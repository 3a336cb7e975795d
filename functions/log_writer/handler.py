"""Lambda entry point for the log writer: SQS batches -> Parquet in S3, partial failures
reported so that only the failed messages come back (and end in the DLQ if they keep failing)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.scoring.writer import write_batch
from steward.wiring import log_store

logger = Logger(service="steward-log-writer")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    messages = [(r["messageId"], r["body"]) for r in event.get("Records", [])]
    store = log_store()
    failed = write_batch(messages, lambda key, data: store.put(key, data))
    if failed:
        logger.warning("log records will be retried", extra={"messages": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
