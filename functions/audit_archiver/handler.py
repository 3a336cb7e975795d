"""Lambda entry point for the audit archiver: the audit table's stream -> the write-once
copy (S3 Object Lock, compliance mode). Only that stream's event source invokes it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.registry.archive import archive_records
from steward.wiring import audit_copy

logger = Logger(service="steward-audit-archiver")
metrics = Metrics(namespace="Steward", service="audit-archiver")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = archive_records(event.get("Records", []), audit_copy())
    metrics.add_metric(name="AuditEventsCopied", unit=MetricUnit.Count, value=result.copied)
    metrics.add_metric(name="AuditTampered", unit=MetricUnit.Count, value=result.tampered)
    if result.tampered:
        logger.error("audit items were edited or deleted", extra={"records": result.tampered})
    failed = [{"itemIdentifier": result.failed}] if result.failed else []
    return {"batchItemFailures": failed}
