"""What a map child returns (its drift partial, its outcomes and its attribution sums), across
process boundaries (map children -> reduce): gzipped JSON.

Generic over :class:`~steward.drift.evaluate.Partial`'s fields (pydantic validates the
dataclass from its own annotations), so a change to those fields needs no change here. The
outcomes' labelled rows (Arrow tables) travel as one Arrow IPC stream, zstd-compressed,
base64 in the JSON. The round-trip test in ``tests/unit/test_drift_runs.py`` says whether
all of it still holds.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from steward.drift.attributions import Attributions
from steward.drift.evaluate import Partial
from steward.drift.outcomes import Outcomes
from steward.stats.cbpe import Blocks


@dataclass
class Child:
    """One batch's results: mergeable, the merge of every batch's equal to one pass."""

    partial: Partial = field(default_factory=Partial)
    outcomes: Outcomes = field(default_factory=Outcomes)
    # The window's labels, read whole by every child from the files the plan listed: their
    # count and the feedback files skipped are the same in each.
    labels: int = 0
    feedback_skipped: list[dict[str, str]] = field(default_factory=list)
    # Σ|attribution| of the batch's sampled rows, with counts (steward.drift.attributions)
    attributions: Attributions = field(default_factory=Attributions)
    # A calibrated binary classifier's scores per calibration block (CBPE), else None.
    estimate: Blocks | None = None

    def merge(self, other: Child) -> Child:
        return Child(
            self.partial.merge(other.partial),
            self.outcomes.merge(other.outcomes),
            max(self.labels, other.labels),
            self.feedback_skipped or other.feedback_skipped,
            self.attributions.merge(other.attributions),
            estimate=_merged(self.estimate, other.estimate),
        )


def _merged(mine: Blocks | None, theirs: Blocks | None) -> Blocks | None:
    if mine is None or theirs is None:
        return mine or theirs
    return mine.merge(theirs)


@dataclass
class _Wire:
    partial: Partial
    rows: int
    by_class: dict[str, list[float]]
    groups: dict[str, dict[str, dict[str, int]]]
    skipped: list[dict[str, str]]
    labelled: str  # base64 Arrow IPC stream, "" for none
    labels: int
    feedback_skipped: list[dict[str, str]]
    attributions: Attributions = field(default_factory=Attributions)
    estimate: Blocks | None = None


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(_Wire)


def _ipc(tables: list[Any]) -> str:
    import pyarrow as pa

    if not tables:
        return ""
    table = pa.concat_tables(tables)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


def _tables(data: str) -> list[Any]:
    import pyarrow as pa

    if not data:
        return []
    return [pa.ipc.open_stream(base64.b64decode(data)).read_all()]


def dumps(child: Child) -> bytes:
    found = child.outcomes
    wire = _Wire(
        child.partial,
        found.rows,
        found.by_class,
        found.groups,
        found.skipped,
        _ipc(found.labelled),
        child.labels,
        child.feedback_skipped,
        child.attributions,
        child.estimate,
    )
    return gzip.compress(_adapter().dump_json(wire), compresslevel=5, mtime=0)


def loads(data: bytes) -> Child:
    wire: _Wire = _adapter().validate_json(gzip.decompress(data))
    found = Outcomes(wire.rows, wire.by_class, wire.groups, _tables(wire.labelled), wire.skipped)
    return Child(
        wire.partial,
        found,
        wire.labels,
        wire.feedback_skipped,
        wire.attributions,
        estimate=wire.estimate,
    )
