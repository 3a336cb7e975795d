"""The audit archiver: the audit table's stream records into the write-once copy.

A new event (``INSERT``) is copied once, under its content's digest. An edit (``MODIFY``)
or a deletion (``REMOVE``) of an audit item is never legitimate (every role is put-only):
it is counted as tampering, and the copy keeps the original. A re-inserted event with other
content gets a second copy under the same sequence number, which verification reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from steward.domain.audit import AuditEvent
from steward.ports.audit import AuditCopy


@dataclass
class Archived:
    copied: int = 0
    repeated: int = 0  # delivered again (the stream is at least once): already copied
    tampered: int = 0
    failed: str | None = None  # the stream sequence number to resume from


def _event(record: dict[str, Any]) -> AuditEvent | None:
    try:
        doc = record["dynamodb"]["NewImage"]["doc"]["S"]
        return AuditEvent.model_validate_json(doc)
    except (KeyError, TypeError, ValidationError):
        return None


def archive_records(records: Iterable[dict[str, Any]], copy: AuditCopy) -> Archived:
    """Copy records in stream order; stop at the first that cannot be written, so that the
    stream redelivers from there (``batchItemFailures``)."""
    result = Archived()
    for record in records:
        if record.get("eventName") != "INSERT":
            result.tampered += 1
            continue
        event = _event(record)
        if event is None:  # not written by Steward: an audit item no role could have put
            result.tampered += 1
            continue
        try:
            if copy.archive(event):
                result.copied += 1
            else:
                result.repeated += 1
        except Exception:
            result.failed = str(record["dynamodb"]["SequenceNumber"])
            return result
    return result
