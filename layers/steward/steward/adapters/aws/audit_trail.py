"""The audit trail on DynamoDB: a table keyed (stream, seq), put-only, with a time index
across streams."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code, query_page
from steward.domain.audit import AuditEvent
from steward.domain.errors import Conflict
from steward.domain.models import Page
from steward.ports import AuditLog

AUDIT_TIME_INDEX = "by-time"  # every event by time: partition ``trail``, sort ``at``
TRAIL = {"S": "audit"}


class DynamoAuditLog(AuditLog):
    """:class:`~steward.ports.AuditLog` on a table keyed (stream, seq); put-only. Items
    carry exactly the attributes the writers' IAM condition allows (``dynamodb:Attributes``
    in infra/constructs/registry.py)."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    @staticmethod
    def _event(item: dict[str, Any]) -> AuditEvent:
        return AuditEvent.model_validate_json(item["doc"]["S"])

    def head(self, stream: str) -> AuditEvent | None:
        page = self._db.query(
            TableName=self._table,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "stream"},
            ExpressionAttributeValues={":s": {"S": stream}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items", [])
        return self._event(items[0]) if items else None

    def put(self, event: AuditEvent) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "stream": {"S": event.stream},
                    "seq": {"N": str(event.seq)},
                    "doc": {"S": event.model_dump_json()},
                    "trail": TRAIL,
                    "at": {"S": f"{event.at.isoformat()}#{event.stream}#{event.seq:012d}"},
                },
                ConditionExpression="attribute_not_exists(#s)",
                ExpressionAttributeNames={"#s": "stream"},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise Conflict(f"audit event {event.stream}#{event.seq} exists") from None
            raise

    def events(self, stream: str, limit: int, token: str | None) -> Page[AuditEvent]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "stream"},
            "ExpressionAttributeValues": {":s": {"S": stream}},
            "Limit": limit,
            "ConsistentRead": True,
        }
        return query_page(self._db, kwargs, token, self._event)

    def recent(self, limit: int, token: str | None) -> Page[AuditEvent]:
        """Newest first, across streams: one query of the time index per page."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": AUDIT_TIME_INDEX,
            "KeyConditionExpression": "trail = :t",
            "ExpressionAttributeValues": {":t": TRAIL},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        return query_page(self._db, kwargs, token, self._event)

    def streams(self) -> list[str]:
        names: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "#s",
            "ExpressionAttributeNames": {"#s": "stream"},
        }
        while True:
            page = self._db.scan(**kwargs)
            names.update(i["stream"]["S"] for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(names)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
