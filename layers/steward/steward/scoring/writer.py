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

from steward.domain.partitions import hour_of, prefix

# Columns the log schema owns; a feature with one of these names is stored as feature_<name>.
RESERVED = frozenset(
    {
        "request_id",
        "ts",
        "version",
        "variant",
        "prediction",
        "score",
        "probabilities",
        "latency_ms",
        "flags",
        "label",
        "model",
        "date",
        "hour",
    }
)

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
    import pyarrow as pa

    n, columns = int(batch["rows"]), batch["columns"]
    ts = pa.array([batch["ts"]] * n, pa.string()).cast(pa.timestamp("us", tz="UTC"))
    out: dict[str, Any] = {"request_id": pa.array(columns["request_id"], pa.string()), "ts": ts}
    if kind == "feedback":
        out["label"] = _array(columns["label"])
        return pa.table(out)
    out["version"] = pa.array(columns["version"], pa.int32())
    out["variant"] = pa.array(columns["variant"], pa.string())
    for name, values in sorted(columns.get("features", {}).items()):
        out[name if name not in RESERVED else f"feature_{name}"] = _array(values)
    out["prediction"] = _array(columns["prediction"])
    out["score"] = pa.array(columns.get("score") or [None] * n, pa.float64())
    if columns.get("probabilities"):  # multiclass: {class: probability} per row
        out["probabilities"] = pa.array(
            [None if p is None else list(p.items()) for p in columns["probabilities"]],
            pa.map_(pa.string(), pa.float64()),
        )
    out["latency_ms"] = pa.array(columns["latency_ms"], pa.float64())
    out["flags"] = pa.array(columns.get("flags") or [[]] * n, pa.list_(pa.string()))
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
