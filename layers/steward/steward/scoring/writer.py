"""The log writer: queue messages -> Parquet files under hive partitions in S3.

``predictions/model=<name>/date=YYYY-MM-DD/hour=HH/<id>.parquet`` (and ``feedback/...``):
one file per (kind, model, hour) per batch of messages, so files are sized by the queue's
batch size and window, not by the request. Delivery is at least once: a retried message may
be written twice, and readers de-duplicate on ``request_id``. The file name is derived from
the message ids, so retrying the very same group rewrites the same object.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from steward.domain import log_schema as schema
from steward.domain.partitions import hour_of, prefix

Put = Callable[[str, bytes], object]


@dataclass
class Group:
    kind: str
    model: str
    hour: datetime  # UTC
    batches: list[dict[str, Any]] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        digest = hashlib.sha256("\n".join(sorted(self.message_ids)).encode()).hexdigest()[:24]
        return f"{prefix(self.kind, self.model, self.hour)}{digest}.parquet"

    @property
    def rows(self) -> int:
        return sum(int(b["rows"]) for b in self.batches)


def group_messages(messages: Iterable[tuple[str, str]]) -> tuple[list[Group], list[str]]:
    """Group batches by partition; returns the groups and the ids of unreadable messages."""
    groups: dict[tuple[str, str, datetime], Group] = {}
    poison: list[str] = []
    for message_id, body in messages:
        try:
            batch = json.loads(body)
            kind, model, hour = batch["kind"], batch["model"], hour_of(str(batch["ts"]))
            if kind not in ("predictions", "feedback") or not isinstance(batch["columns"], dict):
                raise ValueError(kind)
            int(batch["rows"])
        except (ValueError, KeyError, TypeError):
            poison.append(message_id)
            continue
        group = groups.setdefault((kind, model, hour), Group(kind, model, hour))
        group.batches.append(batch)
        group.message_ids.add(message_id)
    return list(groups.values()), poison


def _array(values: list[Any]) -> Any:
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.float64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _table(kind: str, batch: dict[str, Any]) -> Any:
    """One message's rows in the log schema (:mod:`steward.domain.log_schema`); a message's
    ``columns`` use the same names, its features under ``features`` by feature name."""
    import pyarrow as pa

    n, columns = int(batch["rows"]), batch["columns"]
    ts = pa.array([batch["ts"]] * n, pa.string()).cast(pa.timestamp("us", tz="UTC"))
    out: dict[str, Any] = {
        schema.REQUEST_ID: pa.array(columns[schema.REQUEST_ID], pa.string()),
        schema.TS: ts,
    }
    if kind == "feedback":
        out[schema.LABEL] = _array(columns[schema.LABEL])
        return pa.table(out)
    out[schema.VERSION] = pa.array(columns[schema.VERSION], pa.int32())
    out[schema.VARIANT] = pa.array(columns[schema.VARIANT], pa.string())
    for name, values in sorted(columns.get("features", {}).items()):
        out[schema.column_of(name)] = _array(values)
    out[schema.PREDICTION] = _array(columns[schema.PREDICTION])
    out[schema.SCORE] = pa.array(columns.get(schema.SCORE) or [None] * n, pa.float64())
    if columns.get(schema.PROBABILITIES):  # multiclass: {class: probability} per row
        out[schema.PROBABILITIES] = pa.array(
            [None if p is None else list(p.items()) for p in columns[schema.PROBABILITIES]],
            pa.map_(pa.string(), pa.float64()),
        )
    out[schema.LATENCY_MS] = pa.array(columns[schema.LATENCY_MS], pa.float64())
    flags = columns.get(schema.FLAGS) or [[]] * n
    out[schema.FLAGS] = pa.array(flags, pa.list_(pa.string()))
    return pa.table(out)


def to_parquet(group: Group) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [_table(group.kind, b) for b in group.batches]
    table = pa.concat_tables(tables, promote_options="permissive")
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=128 * 1024)
    return sink.getvalue()


def write_batch(messages: list[tuple[str, str]], put: Put) -> list[str]:
    """Write every group; returns the ids of messages to retry (their group failed, or the
    message could not be read)."""
    groups, failed = group_messages(messages)
    retry = set(failed)
    for group in groups:
        try:
            put(group.key, to_parquet(group))
        except Exception:  # any failure of this group: its messages come back
            retry |= group.message_ids
    return sorted(retry)
