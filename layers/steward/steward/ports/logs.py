"""LogSink: hands prediction and feedback records off durably, out of the request path's
way (a queue in AWS); a writer lands them as Parquet."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class LogSink(ABC):
    """Batches are columnar: ``{"ts": iso time, "rows": n, "columns": {name: [n values]}}``
    with feature columns under ``columns["features"]`` (one list per feature). Columnar keeps
    the request path free of per-record Python objects."""

    @abstractmethod
    def send(self, kind: str, model: str, batch: dict[str, Any]) -> None:
        """Durably accept one batch (``kind``: predictions or feedback) or raise."""


def batch_records(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch as one dict per record (tests and small tools; never the hot path)."""
    columns = batch["columns"]
    features = columns.get("features", {})
    out = []
    for i in range(batch["rows"]):
        record = {k: v[i] for k, v in columns.items() if k != "features"}
        if features:
            record["features"] = {name: values[i] for name, values in features.items()}
        record["ts"] = batch["ts"]
        out.append(record)
    return out


class DeadLetters(ABC):
    """Log batches the writer failed on every retry (the queue's dead-letter queue): kept
    14 days, watched by an alarm, and moved back to the queue by a redrive."""

    @abstractmethod
    def depth(self) -> int:
        """Messages waiting (approximate, as the queue reports it)."""

    @abstractmethod
    def redrive(self, limit: int) -> int:
        """Move up to ``limit`` messages back to the log queue; returns how many moved."""
