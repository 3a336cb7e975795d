"""The drift report store: report bodies in S3, a summary row per report and each model's
latest run in the registry table."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import doc_of, error_code, model_pk, newest_first
from steward.domain.errors import NotFound
from steward.domain.models import Page
from steward.ports.monitoring import ReportStore, listing_of

LATEST_RUN = "RUN#LATEST"  # the sort key of a model's latest drift run


class S3DynamoReportStore(ReportStore):
    """Reports in S3 (``drift/<name>/<id>.json`` and ``.html``), a summary row per report
    in the registry table for listing, and the model's latest run (``RUN#LATEST``)."""

    def __init__(self, s3: Any, bucket: str, dynamodb: Any, table: str) -> None:
        self._s3, self._bucket = s3, bucket
        self._db, self._table = dynamodb, table

    def save(self, model: str, report: dict[str, Any], html: str) -> None:
        base = f"drift/{model}/{report['report_id']}"
        for suffix, body, content_type in (
            ("json", json.dumps(report), "application/json"),
            ("html", html, "text/html; charset=utf-8"),
        ):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=f"{base}.{suffix}",
                Body=body.encode(),
                ContentType=content_type,
            )
        summary = listing_of(report)
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": model_pk(model),
                "sk": {"S": f"DRIFT#{report['created_at']}#{report['report_id']}"},
                "doc": {"S": json.dumps(summary)},
            },
        )

    def get(self, model: str, report_id: str, kind: str = "json") -> str:
        key = f"drift/{model}/{report_id}.{'html' if kind == 'html' else 'json'}"
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                raise NotFound(f"no drift report {report_id} for {model}") from None
            raise
        return body.decode()

    def note_run(self, model: str, run: dict[str, Any]) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={"pk": model_pk(model), "sk": {"S": LATEST_RUN}, "doc": {"S": json.dumps(run)}},
        )

    def latest_runs(self, models: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(models), 100):
            keys = [{"pk": model_pk(m), "sk": {"S": LATEST_RUN}} for m in models[i : i + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["pk"]["S"].removeprefix("MODEL#")] = json.loads(item["doc"]["S"])
                request = answer.get("UnprocessedKeys") or {}
        return found

    def summaries(self, model: str, limit: int, token: str | None) -> Page[dict[str, Any]]:
        return newest_first(
            self._db, self._table, model_pk(model), "DRIFT#", (limit, token), doc_of
        )
