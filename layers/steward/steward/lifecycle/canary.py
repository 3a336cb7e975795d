"""Canary evidence from the prediction logs: per variant rows, errors, p95 latency, and how
far the challenger's predictions sit from the champion's on the same traffic: for a
multiclass model (its rows log class probabilities) the distribution of the classes chosen,
whose shares each side's stats carry; for others the score, else the output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from steward.domain import log_schema as schema
from steward.domain.deployment import CanaryStats
from steward.logs.reader import read_window
from steward.ports.monitoring import LogFiles
from steward.stats.distributions import js_distance
from steward.stats.performance import class_key

COLUMNS = [
    schema.VERSION,
    schema.PREDICTION,
    schema.SCORE,
    schema.PROBABILITIES,
    schema.LATENCY_MS,
]
SHIFT_BINS = 10


def _stats(table: Any) -> CanaryStats:
    import pyarrow.compute as pc

    if table is None or table.num_rows == 0:
        return CanaryStats(rows=0)
    latency = table.column(schema.LATENCY_MS).to_numpy(zero_copy_only=False)
    shares = None
    if _multiclass(table):
        names, counts = np.unique(np.array(_outputs(table, True), np.str_), return_counts=True)
        shares = dict(zip(names.tolist(), (counts / max(1, counts.sum())).tolist(), strict=True))
    return CanaryStats(
        rows=table.num_rows,
        errors=int(pc.sum(pc.is_null(table.column(schema.PREDICTION))).as_py() or 0),
        latency_p95_ms=float(np.percentile(latency, 95)) if len(latency) else None,
        classes=shares,
    )


def _multiclass(table: Any) -> bool:
    """Rows of a multiclass model: they log their class probabilities."""
    column = table.column(schema.PROBABILITIES)
    return bool(column.null_count < table.num_rows)


def _outputs(table: Any, classes: bool) -> np.ndarray | list[str]:
    """The chosen classes (spelled as labels are), or the scores, else the outputs."""
    if classes:
        return [class_key(v) for v in table.column(schema.PREDICTION).drop_null().to_pylist()]
    if (
        schema.SCORE in table.column_names
        and table.column(schema.SCORE).null_count < table.num_rows
    ):
        return np.asarray(
            table.column(schema.SCORE).drop_null().to_numpy(zero_copy_only=False), float
        )
    values = table.column(schema.PREDICTION).drop_null().to_pylist()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return [str(v) for v in values]


def prediction_shift(champion: Any, challenger: Any) -> float | None:
    """JS distance between the two output distributions: numeric outputs on the
    champion's decile edges, categorical outputs (a multiclass model's classes, decisions) on
    their labels."""
    if champion is None or challenger is None or not champion.num_rows or not challenger.num_rows:
        return None
    # A multiclass model on either side (a champion registered before class probabilities
    # were logged has none): both sides compare the classes they chose.
    classes = _multiclass(champion) or _multiclass(challenger)
    ref, cur = _outputs(champion, classes), _outputs(challenger, classes)
    if len(ref) == 0 or len(cur) == 0:
        return None
    if isinstance(ref, np.ndarray) and isinstance(cur, np.ndarray):
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, SHIFT_BINS + 1)[1:-1]))
        ref_counts = np.bincount(np.searchsorted(edges, ref), minlength=len(edges) + 1)
        cur_counts = np.bincount(np.searchsorted(edges, cur), minlength=len(edges) + 1)
    else:
        labels = sorted({str(v) for v in ref} | {str(v) for v in cur})
        index = {label: i for i, label in enumerate(labels)}
        ref_counts = np.bincount([index[str(v)] for v in ref], minlength=len(labels))
        cur_counts = np.bincount([index[str(v)] for v in cur], minlength=len(labels))
    return js_distance(ref_counts.astype(np.float64), cur_counts.astype(np.float64))


def canary_evidence(
    logs: LogFiles, name: str, champion: int, challenger: int, start: datetime, end: datetime
) -> tuple[CanaryStats, CanaryStats, float | None]:
    """Rows the two versions scored in the window (shadow rows included: the challenger
    scored them too). Memory: the window's five log columns (a canary's bake, not days)."""
    import pyarrow.compute as pc

    table = read_window(logs, "predictions", name, (start, end), COLUMNS)
    if table is None:
        return CanaryStats(rows=0), CanaryStats(rows=0), None
    by_version = {
        number: table.filter(pc.equal(table.column(schema.VERSION), number))
        for number in (champion, challenger)
    }
    return (
        _stats(by_version[challenger]),
        _stats(by_version[champion]),
        prediction_shift(by_version[champion], by_version[challenger]),
    )
