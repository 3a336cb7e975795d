"""No silent loss on the log path, on moto: a 10,000-row request's records go to SQS in
batches SQS would accept (moto checks neither the message nor the batch byte limit: a hook
checks them as AWS does), and dead-lettered batches come back through the redrive API."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pyarrow.parquet as pq

from steward import wiring
from steward.adapters.aws.sqs import message_size
from tests.factories import reference_rows
from tests.integration.conftest import Stack
from tests.integration.support import api, scoring
from tests.integration.test_scoring_logs import _serve

SQS_LIMIT = 262_144  # bytes, per message and per SendMessageBatch (AWS SQS quotas)


@contextmanager
def _sqs_limits() -> Iterator[list[list[int]]]:
    """Refuse, as SQS does, any batch over 10 entries or 256 KiB; record each batch's
    message sizes."""
    seen: list[list[int]] = []
    session = boto3._get_default_session()._session

    def check(params: dict[str, Any], **_: Any) -> None:
        sizes = [
            message_size(e["MessageBody"], e.get("MessageAttributes")) for e in params["Entries"]
        ]
        seen.append(sizes)
        assert len(sizes) <= 10, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
        assert max(sizes) <= SQS_LIMIT, "InvalidParameterValue: message too long"
        assert sum(sizes) <= SQS_LIMIT, "AWS.SimpleQueueService.BatchRequestTooLong"

    session.register("provide-client-params.sqs.SendMessageBatch", check)
    wiring.reset()
    try:
        yield seen
    finally:
        session.unregister("provide-client-params.sqs.SendMessageBatch", check)
        wiring.reset()


def _logged_ids(name: str) -> set[str]:
    s3 = boto3.client("s3")
    bucket = os.environ["STEWARD_LOGS_BUCKET"]
    ids: set[str] = set()
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"predictions/model={name}/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            ids |= set(pq.read_table(io.BytesIO(data)).column("request_id").to_pylist())
    return ids


def test_a_10000_row_request_is_sent_in_batches_sqs_accepts(stack: Stack) -> None:
    name = "bytes-10k"
    _serve(name)
    # Multi-byte characters: a limit counted in characters would let batches through that
    # SQS refuses.
    rows = [
        {**r, "plan": "プロ" if i % 2 else "基本"} for i, r in enumerate(reference_rows(10_000))
    ]
    with _sqs_limits() as batches:
        code, answer = scoring(stack, f"/models/{name}/predict", {"instances": rows})
    assert code == 200, answer
    assert len(batches) > 1 and sum(len(b) for b in batches) > 1
    assert max(sum(b) for b in batches) <= SQS_LIMIT
    stack.flush()
    assert _logged_ids(name) == set(answer["request_ids"]) and len(answer["request_ids"]) == 10_000


def _dlq() -> str:
    return os.environ["STEWARD_LOG_DLQ_URL"]


def test_redrive_moves_dead_letters_back_and_only_an_admin_may(stack: Stack) -> None:
    name = "redrive-api"
    _serve(name)
    code, answer = scoring(stack, f"/models/{name}/predict", {"instances": reference_rows(30)})
    assert code == 200
    sqs = boto3.client("sqs")
    queue = os.environ["STEWARD_LOG_QUEUE_URL"]
    # What the queue's redrive policy does after 5 failed receives: move them to the DLQ.
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for m in messages:
            sqs.send_message(QueueUrl=_dlq(), MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    code, state = api(stack, "GET", "/logs/dead-letters", user="admin")
    assert code == 200 and state["remaining"] >= 1
    for user in ("alice", "bob", None):
        code, _ = api(stack, "POST", "/logs/redrive", user=user)
        assert code == 403
    code, moved = api(stack, "POST", "/logs/redrive?limit=5000", user="admin")
    assert code == 200 and moved["moved"] >= 1 and moved["remaining"] == 0
    stack.flush()
    assert set(answer["request_ids"]) <= _logged_ids(name)
