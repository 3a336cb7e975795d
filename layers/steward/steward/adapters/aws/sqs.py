"""SQS adapter: the prediction log queue."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic_core import to_json

from steward.domain.errors import DependencyUnavailable
from steward.ports import (
    LogSink,
)
from steward.retry import Backoff, on_conflict

MAX_MESSAGE_BYTES = 240 * 1024  # under SQS's 256 KiB, leaving room for attributes
# A prediction waits for its records to be queued: entries the queue refused are sent again
# with the shared backoff, but within the request's budget (then the caller gets a 503).
SCORING_PATH = Backoff(attempts=3, deadline_s=0.5)


class _Refused(Exception):
    """Some entries of a batch were refused (throttled or failed): send those again."""


class SqsLogSink(LogSink):
    """:class:`~steward.ports.LogSink` on an SQS queue: one message per batch, split by
    rows when a batch would exceed the message size limit."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    @staticmethod
    def _bodies(kind: str, model: str, batch: dict[str, Any]) -> list[str]:
        # pydantic-core's serializer: several times faster than json.dumps on 1,000 rows.
        body = to_json({"kind": kind, "model": model, **batch}).decode()
        rows = int(batch["rows"])
        if len(body) <= MAX_MESSAGE_BYTES or rows <= 1:
            return [body]
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
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ]
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
