"""The archiver's handling of the audit table's stream records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from steward.adapters.memory import MemoryAuditCopy
from steward.domain.audit import AuditEvent, next_event
from steward.registry.archive import archive_records

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _record(name: str, seq: int, event: AuditEvent | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"SequenceNumber": str(1000 + seq)}
    if event is not None:
        change["NewImage"] = {"doc": {"S": event.model_dump_json()}}
    return {"eventName": name, "dynamodb": change}


class FailingCopy(MemoryAuditCopy):
    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def archive(self, event: AuditEvent) -> bool:
        if event.seq == self.fail_at:
            raise OSError("S3 is down")
        return super().archive(event)


def test_inserts_are_copied_once_and_edits_or_deletes_are_tampering() -> None:
    first = next_event(None, stream="m", actor="a", action="x", target="m", at=AT)
    second = next_event(first, stream="m", actor="a", action="y", target="m", at=AT)
    copy = MemoryAuditCopy()
    records = [
        _record("INSERT", 1, first),
        _record("INSERT", 1, first),  # the stream delivers at least once
        _record("INSERT", 2, second),
        _record("MODIFY", 3, second),
        _record("REMOVE", 4),
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1005", "NewImage": {}}},
    ]
    result = archive_records(records, copy)
    assert (result.copied, result.repeated, result.tampered, result.failed) == (2, 1, 3, None)
    assert copy.digests("m") == {1: {first.content_hash()}, 2: {second.content_hash()}}


def test_a_copy_that_cannot_be_written_stops_the_batch_at_that_record() -> None:
    first = next_event(None, stream="m", actor="a", action="x", target="m", at=AT)
    second = next_event(first, stream="m", actor="a", action="y", target="m", at=AT)
    third = next_event(second, stream="m", actor="a", action="z", target="m", at=AT)
    copy = FailingCopy(fail_at=2)
    records = [_record("INSERT", i + 1, e) for i, e in enumerate((first, second, third))]
    result = archive_records(records, copy)
    assert result.failed == "1002" and result.copied == 1  # redelivered from the second
    assert set(copy.digests("m")) == {1}
