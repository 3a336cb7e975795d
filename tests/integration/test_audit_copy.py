"""Tamper evidence on the moto stack: the audit table's stream reaches the archiver (the
local stream poller, as Lambda's event source), every event lands in the Object Lock bucket,
and ``GET /audit/verify`` reports a truncated or rewritten trail at once, with its first
point of divergence. ``GET /audit`` pages the time index (no scan)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from steward import wiring
from steward.domain.audit import AuditEvent, next_event
from steward.ports.audit import copy_key
from tests.factories import model_spec
from tests.integration.conftest import Stack
from tests.integration.support import api


def _trail(name: str) -> list[AuditEvent]:
    db = boto3.client("dynamodb")
    items = db.query(
        TableName=os.environ["STEWARD_AUDIT_TABLE"],
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "stream"},
        ExpressionAttributeValues={":s": {"S": name}},
    )["Items"]
    return [AuditEvent.model_validate_json(i["doc"]["S"]) for i in items]


def _model(stack: Stack, name: str, steps: int) -> list[AuditEvent]:
    """A model and ``steps`` workflow steps audited after its creation: ``steps + 1``
    events."""
    assert api(stack, "POST", "/models", model_spec(name))[0] == 201
    for i in range(steps):
        wiring.registry().record(name, "gates.evaluated", f"{name}/{i}", reason=f"step {i}")
    stack.flush_streams()
    return _trail(name)


def _delete(name: str, seqs: list[int]) -> None:
    db = boto3.client("dynamodb")
    for seq in seqs:  # storage access, past every Steward role (all of them are put-only)
        db.delete_item(
            TableName=os.environ["STEWARD_AUDIT_TABLE"],
            Key={"stream": {"S": name}, "seq": {"N": str(seq)}},
        )


def test_every_event_is_copied_under_compliance_retention(stack: Stack) -> None:
    events = _model(stack, "copy-all", 2)
    s3 = boto3.client("s3")
    bucket = os.environ["STEWARD_AUDIT_COPY_BUCKET"]
    for event in events:
        head = s3.head_object(Bucket=bucket, Key=copy_key(event))
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"].year >= event.at.year + 9
    code, verified = api(stack, "GET", "/audit/verify?model=copy-all")
    assert code == 200 and verified["ok"]
    (report,) = verified["streams"]
    assert report["events"] == report["copied"] == 3 and report["pending"] == 0


def test_cutting_off_the_newest_events_is_reported_at_once(stack: Stack) -> None:
    events = _model(stack, "copy-cut", 3)
    _delete("copy-cut", [3, 4])
    stack.flush_streams()  # the REMOVE records reach the archiver: counted as tampering
    code, verified = api(stack, "GET", "/audit/verify?model=copy-cut")
    assert code == 200 and not verified["ok"]
    (report,) = verified["streams"]
    assert report["events"] == 2 and report["copied"] == len(events) == 4
    assert report["missing"] == [3, 4] and report["broken_at"] == 3
    assert report["problem"] == "copied event missing from the table"


def test_a_tail_rewritten_with_recomputed_hashes_is_reported(stack: Stack) -> None:
    events = _model(stack, "copy-forge", 3)
    _delete("copy-forge", [3, 4])
    head = events[1]
    db = boto3.client("dynamodb")
    for original in events[2:]:  # forged, chained and sealed as Steward would
        head = next_event(
            head,
            stream="copy-forge",
            actor="mallory",
            action=original.action,
            target=original.target,
            at=original.at,
            after={"description": "nothing to see"},
        )
        db.put_item(
            TableName=os.environ["STEWARD_AUDIT_TABLE"],
            Item={
                "stream": {"S": head.stream},
                "seq": {"N": str(head.seq)},
                "doc": {"S": head.model_dump_json()},
                "trail": {"S": "audit"},
                "at": {"S": f"{head.at.isoformat()}#{head.stream}#{head.seq:012d}"},
            },
        )
    stack.flush_streams()
    code, verified = api(stack, "GET", "/audit/verify?model=copy-forge")
    (report,) = verified["streams"]
    assert code == 200 and not verified["ok"] and report["events"] == 4
    assert report["altered"] == [3, 4] and report["broken_at"] == 3
    assert report["problem"] == "event differs from its write-once copy"


@contextmanager
def _counting(operation: str) -> Iterator[list[Any]]:
    """Count the DynamoDB ``operation`` calls the handlers make inside the block."""
    seen: list[Any] = []
    session = boto3._get_default_session()._session
    hook = f"before-call.dynamodb.{operation}"

    def count(**kwargs: Any) -> None:
        seen.append(kwargs)

    session.register(hook, count)
    wiring.reset()  # clients built next carry the hook
    try:
        yield seen
    finally:
        session.unregister(hook, count)
        wiring.reset()


def test_recent_events_page_the_time_index_newest_first(stack: Stack) -> None:
    _model(stack, "copy-recent", 4)
    seen: list[dict[str, Any]] = []
    token = None
    with _counting("Scan") as scans, _counting("Query") as queries:
        for _ in range(3):
            path = "/audit?limit=2" + (f"&next_token={token}" if token else "")
            code, page = api(stack, "GET", path)
            assert code == 200 and len(page["items"]) == 2
            seen += page["items"]
            token = page["next_token"]
    assert scans == [] and len(queries) >= 3
    assert all(
        q["params"].get("IndexName") == "by-time" for q in queries if "IndexName" in q["params"]
    )
    ours = [e for e in seen if e["stream"] == "copy-recent"]
    assert [e["seq"] for e in ours] == sorted((e["seq"] for e in ours), reverse=True)
    assert ours and ours[0]["seq"] == 5  # the newest events of the session come first
    times = [e["at"] for e in seen]
    assert (
        times == sorted(times, reverse=True) and len({(e["stream"], e["seq"]) for e in seen}) == 6
    )


@pytest.mark.parametrize("token", ["not-base64!", "eyJ4Ijog"])
def test_a_bad_page_token_is_a_400(stack: Stack, token: str) -> None:
    code, body = api(stack, "GET", f"/audit?next_token={token}")
    assert code == 400 and body["error"] == "bad_request"
