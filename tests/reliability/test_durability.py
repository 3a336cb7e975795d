"""The durability figure: predictions answered while 5 % of the calls on the log path fail
(the scoring function's SQS sends and the log writer's S3 writes, every fault kind), then
every answered prediction's record is counted in the Parquet logs or the dead-letter queue.

A request whose log hand-off fails is answered 503 and retried by the application: an
answer is only ever given once its record is on the queue. Delivery is at least once, so
records are counted by distinct request id. ``make test`` sends the 1,000 predictions in
requests of 10 records; ``make reliability`` sends 10,000, one per request.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random

import boto3
import pyarrow.parquet as pq
import pytest

from tests.factories import reference_rows
from tests.moto_stack import Stack
from tests.reliability.conftest import call, examples, serve
from tests.reliability.faults import KINDS, Fault, injected

FAILURE_RATE = 0.05


def _parquet_request_ids(name: str) -> list[str]:
    s3 = boto3.client("s3")
    bucket = os.environ["STEWARD_LOGS_BUCKET"]
    ids: list[str] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"predictions/model={name}/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            ids += pq.read_table(io.BytesIO(data)).column("request_id").to_pylist()
    return ids


def _dead_letter_request_ids(name: str) -> list[str]:
    """The request ids of ``name``'s records in the DLQ; every message read is made visible
    again afterwards (reading leaves them where they are)."""
    sqs = boto3.client("sqs")
    dlq = next(q for q in sqs.list_queues()["QueueUrls"] if "LogDlq" in q)
    ids: list[str] = []
    handles: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        for message in messages:
            handles.append(message["ReceiptHandle"])
            try:
                batch = json.loads(message["Body"])
            except ValueError:
                continue  # another test's poison message: not a record of this model
            if batch.get("model") == name and batch.get("kind") == "predictions":
                ids += batch["columns"]["request_id"]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=handle, VisibilityTimeout=0)
    return ids


@pytest.mark.timeout(examples(600, 3600))  # the long run takes over 10 minutes here
def test_no_answered_prediction_loses_its_log_record(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "durability"
    serve(name)
    total = examples(1_000, 10_000)
    per_request = examples(10, 1)  # the long run sends every prediction on its own
    rows = reference_rows(total, seed=11)
    path = f"/models/{name}/predict"
    rng = random.Random(8)
    faults = [
        Fault(service, operation, kind, rate=FAILURE_RATE / len(KINDS), seed=rng.randrange(10**6))
        for service, operation in (("sqs", "SendMessageBatch"), ("s3", "PutObject"))
        for kind in KINDS
    ]
    answered: list[str] = []
    refused = 0
    with injected(*faults):
        for start in range(0, total, per_request):
            batch = rows[start : start + per_request]
            for _attempt in range(20):  # the application retries a 503
                answer = call(stack, "POST", path, {"instances": batch}, resource=path)
                if answer.status == 200:
                    answered += answer.body["request_ids"]
                    break
                assert answer.status in (500, 503), answer.raw
                refused += 1
            else:
                raise AssertionError("a prediction was refused 20 times in a row")
        for poller in stack.pollers:  # the writer, one message per batch, has the same faults
            monkeypatch.setattr(poller, "source", dataclasses.replace(poller.source, batch_size=1))
            poller.flush()
    sends = [f for f in faults if f.service == "sqs"]
    writes = [f for f in faults if f.service == "s3"]
    injected_sends = sum(f.injected for f in sends)
    injected_writes = sum(f.injected for f in writes)
    assert injected_sends > 0 and injected_writes > 0
    assert refused == injected_sends  # each failed hand-off was answered 503, never 200
    parquet = set(_parquet_request_ids(name))
    dead = set(_dead_letter_request_ids(name))
    lost = set(answered) - parquet - dead
    assert len(answered) == total == len(set(answered))
    assert lost == set()
    calls = max(f.calls for f in sends) + max(f.calls for f in writes)
    figure = {
        "predictions": total,
        "log_path_calls": calls,
        "injected_failures": injected_sends + injected_writes,
        "failure_rate": round((injected_sends + injected_writes) / calls, 4),
        "in_parquet": len(parquet & set(answered)),
        "in_dlq": len((dead & set(answered)) - parquet),
        "lost": len(lost),
    }
    print("RESULT " + json.dumps(figure))


def test_dead_lettered_records_come_back_through_the_redrive(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer fails (every S3 write refused) until the queue's redrive policy has moved
    every batch to the DLQ (5 receives); the redrive API then moves them back and the writer
    lands every record: none is lost, none is left in the DLQ."""
    name = "durability-dlq"
    serve(name)
    total, per_request = examples(200, 2_000), 10
    rows = reference_rows(total, seed=12)
    path = f"/models/{name}/predict"
    answered: list[str] = []
    for start in range(0, total, per_request):
        answer = call(
            stack, "POST", path, {"instances": rows[start : start + per_request]}, resource=path
        )
        assert answer.status == 200, answer.raw
        answered += answer.body["request_ids"]
    for poller in stack.pollers:  # one batch per message, so each is received on its own
        monkeypatch.setattr(poller, "source", dataclasses.replace(poller.source, batch_size=10))
    deliveries = 0
    with injected(*(Fault("s3", "PutObject", kind) for kind in KINDS)):
        for _ in range(10):  # more than maxReceiveCount (5) receives of every message
            deliveries += sum(poller.flush() for poller in stack.pollers)
    assert _parquet_request_ids(name) == []
    dead = set(_dead_letter_request_ids(name))
    assert dead == set(answered)
    redriven = call(stack, "POST", "/logs/redrive?limit=5000", user="admin")
    assert redriven.status == 200 and redriven.body["remaining"] == 0, redriven.raw
    stack.flush()
    parquet = set(_parquet_request_ids(name))
    lost = set(answered) - parquet
    assert lost == set() and set(_dead_letter_request_ids(name)) == set()
    figure = {
        "predictions": total,
        "failed_writer_deliveries": deliveries,
        "in_dlq": len(dead),
        "redriven_messages": redriven.body["moved"],
        "in_parquet": len(parquet & set(answered)),
        "lost": len(lost),
    }
    print("RESULT " + json.dumps(figure))
