"""The local side of Lambda's event sources: poll, batch, invoke.

SQS: Lambda gathers up to the batch size or until the batching window closes; locally the
window is capped (``window_cap_s``) so that logs land within seconds. A message whose record
fails (``batchItemFailures``) is made visible again at once and, past the queue's
maxReceiveCount, the emulator's redrive policy moves it to the DLQ, as SQS does.

DynamoDB streams: records are read in order from the shard and handed over in batches; a
batch that fails (or reports a failed record) is read again from its start on the next
poll, as Lambda retries a stream batch (the archiver is idempotent).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import boto3

from steward.local.provision import QueueSource, StreamSource
from steward.local.runtime import FunctionError, LocalRuntime

log = logging.getLogger("steward_local")


class QueuePoller:
    def __init__(
        self, runtime: LocalRuntime, source: QueueSource, window_cap_s: float = 2.0
    ) -> None:
        self.runtime = runtime
        self.source = source
        self.window_s = min(float(source.window_s), window_cap_s)
        self._sqs = boto3.client("sqs")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.source.batch_size:
            got = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(messages)),
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                break
            messages += [dict(m) for m in got]
        return messages

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody"),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.source.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }

    def flush(self) -> int:
        """Deliver everything waiting now, batch by batch; returns the messages delivered."""
        delivered = 0
        with self._lock:
            while messages := self._receive():
                delivered += len(messages)
                self._deliver(messages)
        return delivered

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        failed: set[str] = set()
        try:
            result = self.runtime.invoke(self.source.function, self._event(messages))
            if self.source.partial_failures and isinstance(result, dict):
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except FunctionError:
            failed = {m["MessageId"] for m in messages}
        self.batches += 1
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=self.source.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            else:
                self._sqs.delete_message(
                    QueueUrl=self.source.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        if failed:
            log.warning("%d of %d queue messages will be retried", len(failed), len(messages))

    def _waiting(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.source.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def _loop(self) -> None:
        first_seen: float | None = None
        while not self._stop.wait(0.25):
            try:
                waiting = self._waiting()
                if not waiting:
                    first_seen = None
                    continue
                first_seen = first_seen or time.monotonic()
                if (
                    waiting >= self.source.batch_size
                    or time.monotonic() - first_seen >= self.window_s
                ):
                    self.flush()
                    first_seen = None
            except Exception:
                log.exception("queue poller failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="steward-sqs-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class StreamPoller:
    """Reads the shard from the emulator's own DynamoDB backend (in this process): moto's
    DynamoDB Streams API is not reachable through its request routing (the service signs
    as ``dynamodb``)."""

    def __init__(self, runtime: LocalRuntime, source: StreamSource, every_s: float = 0.25) -> None:
        self.runtime = runtime
        self.source = source
        self.every_s = every_s
        self._position = 0  # records of the shard delivered so far
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0

    def _records(self) -> list[dict[str, Any]]:
        from moto.dynamodb.models import dynamodb_backends

        from steward.local.emulator import ACCOUNT, REGION

        table = dynamodb_backends[ACCOUNT][REGION].tables[self.source.table]
        shard = table.stream_shard
        if shard is None:
            return []
        chunk = shard.items[self._position : self._position + self.source.batch_size]
        return [dict(item.to_json()) for item in chunk]

    def _event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        out = []
        for record in records:
            change = dict(record["dynamodb"])
            created = change.get("ApproximateCreationDateTime")
            if created is not None and hasattr(created, "timestamp"):
                change["ApproximateCreationDateTime"] = created.timestamp()
            out.append({**record, "dynamodb": change, "eventSourceARN": self.source.stream_arn})
        return {"Records": out}

    def flush(self) -> int:
        """Deliver every record written so far, batch by batch; stops at a failed batch
        (read again on the next flush). Returns the records delivered."""
        delivered = 0
        with self._lock:
            while records := self._records():
                try:
                    result = self.runtime.invoke(self.source.function, self._event(records))
                    failed = isinstance(result, dict) and result.get("batchItemFailures")
                except FunctionError:
                    failed = True
                self.batches += 1
                if failed:
                    log.warning("a stream batch of %d records will be retried", len(records))
                    return delivered
                delivered += len(records)
                self._position += len(records)
        return delivered

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.flush()
            except Exception:
                log.exception("stream poller failed")

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="steward-stream-poller", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
