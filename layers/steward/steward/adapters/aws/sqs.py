"""SQS adapters: the prediction log queue, and the move of its dead letters back to it.

SQS counts a message's size as its body in UTF-8 plus its attributes (names, types and
values), and refuses a message over 256 KiB and a ``SendMessageBatch`` whose entries add
up to more than 256 KiB. Batches are packed by those bytes (moto checks neither limit).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from pydantic_core import to_json

from steward.domain.errors import DependencyUnavailable
from steward.ports import LogSink
from steward.ports.logs import DeadLetters
from steward.retry import Backoff, on_conflict

MAX_BYTES = 256 * 1024  # per message, and per batch of messages
MAX_ENTRIES = 10  # per batch
# A prediction waits for its records to be queued: entries the queue refused are sent again
# with the shared backoff, but within the request's budget (then the caller gets a 503).
SCORING_PATH = Backoff(attempts=3, deadline_s=0.5)


class _Refused(Exception):
    """Some entries of a batch were refused (throttled or failed): send those again."""


def message_size(body: str, attributes: dict[str, Any] | None = None) -> int:
    """A message's size as SQS counts it: UTF-8 body, and each attribute's name, data type
    and value."""
    size = len(body.encode())
    for name, attribute in (attributes or {}).items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or b""
        size += len(name.encode()) + len(attribute.get("DataType", "").encode())
        size += len(value.encode() if isinstance(value, str) else value)
    return size


def packed(sizes: Sequence[int]) -> Iterator[list[int]]:
    """Indexes of the messages in batches of at most 10 entries and 256 KiB, in order."""
    batch: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if batch and (len(batch) == MAX_ENTRIES or total + size > MAX_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(i)
        total += size
    if batch:
        yield batch


class SqsLogSink(LogSink):
    """:class:`~steward.ports.LogSink` on an SQS queue: one message per batch, split by
    rows when a batch would exceed the message size limit."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    @staticmethod
    def _bodies(kind: str, model: str, batch: dict[str, Any]) -> list[tuple[str, int]]:
        """``(body, size)`` of each message: halved by rows until each fits."""
        # pydantic-core's serializer: several times faster than json.dumps on 1,000 rows.
        encoded = to_json({"kind": kind, "model": model, **batch})
        rows = int(batch["rows"])
        if len(encoded) <= MAX_BYTES or rows <= 1:
            return [(encoded.decode(), len(encoded))]
        half = rows // 2
        parts = []
        for lo, hi in ((0, half), (half, rows)):
            columns = {
                k: ({n: v[lo:hi] for n, v in c.items()} if k == "features" else c[lo:hi])
                for k, c in batch["columns"].items()
            }
            parts += SqsLogSink._bodies(kind, model, {**batch, "rows": hi - lo, "columns": columns})
        return parts

    def send(self, kind: str, model: str, batch: dict[str, Any]) -> None:
        bodies = self._bodies(kind, model, batch)
        for indexes in packed([size for _, size in bodies]):
            entries = [{"Id": str(i), "MessageBody": bodies[i][0]} for i in indexes]
            on_conflict(
                partial(self._send, entries),
                "sending prediction log records to the queue",
                policy=SCORING_PATH,
                retry_on=(_Refused,),
                gives_up_with=DependencyUnavailable,
            )

    def _send(self, entries: list[dict[str, str]], _attempt: int) -> None:
        """Send ``entries``; keep in it only those the queue refused (:class:`_Refused`)."""
        result = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        failed = {f["Id"] for f in result.get("Failed", [])}
        entries[:] = [e for e in entries if e["Id"] in failed]
        if entries:
            raise _Refused


class SqsDeadLetters(DeadLetters):
    """:class:`~steward.ports.logs.DeadLetters` by receive, send, delete (what moto and
    every SQS-compatible service support; ``StartMessageMoveTask`` is not emulated). A
    message is deleted from the DLQ only once the queue accepted it: a move interrupted
    between the two leaves a copy in each, and the writer's readers de-duplicate on
    ``request_id``."""

    def __init__(self, client: Any, dlq_url: str, queue_url: str) -> None:
        self._sqs = client
        self._dlq = dlq_url
        self._queue = queue_url

    def depth(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._dlq,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def redrive(self, limit: int) -> int:
        moved = 0
        while moved < limit:
            messages = self._sqs.receive_message(
                QueueUrl=self._dlq,
                MaxNumberOfMessages=min(MAX_ENTRIES, limit - moved),
                MessageAttributeNames=["All"],
                VisibilityTimeout=60,  # a failed send makes them visible again after this
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                return moved
            sizes = [message_size(m["Body"], m.get("MessageAttributes")) for m in messages]
            for indexes in packed(sizes):
                moved += self._move([messages[i] for i in indexes])
        return moved

    def _move(self, messages: list[dict[str, Any]]) -> int:
        entries = []
        for i, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        result = self._sqs.send_message_batch(QueueUrl=self._queue, Entries=entries)
        sent = [messages[int(s["Id"])] for s in result.get("Successful", [])]
        if sent:
            self._sqs.delete_message_batch(
                QueueUrl=self._dlq,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)
                ],
            )
        return len(sent)
