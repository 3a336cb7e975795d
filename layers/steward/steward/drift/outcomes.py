"""Outcomes of a window: the version's predictions joined by request id with the ground-truth
labels sent as feedback, then performance and fairness.

Reading. Feedback files (``feedback/model=<name>/``, the window's hours plus the policy's
label lag) are read whole, two columns, and de-duplicated on ``request_id`` (the writer
delivers at least once; the latest label wins). Prediction files are streamed row group by
row group, only ``request_id``, ``ts``, ``version``, ``prediction``, ``score`` and the
protected attributes, filtered to the window and the version.

Join and its memory bound. Filtered prediction rows are buffered into blocks of at most
:data:`JOIN_BLOCK` rows; each block is probed against the labels' request ids in one Arrow
hash lookup (``index_in``) and only the labelled rows are kept. Peak memory is therefore one
block (about 70 MB at 2^20 rows with a 40-byte request id and two attributes) plus the
window's labels (about 60 bytes each) plus the labelled rows kept (at most one per label):
bounded by the number of labels, never by the number of predictions. Selection rates per
group, which need every scored row rather than the labelled ones, are counted per block.
No pandas; the maths on the labelled rows is numpy (:mod:`steward.stats.performance`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np

from steward.domain.models import ModelVersion, MonitoringPolicy, Task
from steward.drift import fairness
from steward.stats import performance

JOIN_BLOCK = 1 << 20


class _Skip(Exception):
    pass


def _class_keys(column: Any) -> Any:
    """Classes as strings, one spelling per value whatever the column type: 1, 1.0 and True
    are all ``"1"`` (labels arrive as JSON and predictions as the runtime's type). Only the
    distinct values are spelled (by :func:`performance.class_key`, the rule the holdout uses
    too); the rows take them by dictionary index."""
    import pyarrow as pa

    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    spelled = [performance.class_key(v) for v in encoded.dictionary.to_pylist()]
    return pa.array(spelled, pa.string()).take(encoded.indices)


def _strings(column: Any) -> np.ndarray:
    """A string column as a numpy unicode array (nulls as the missing group), built from
    the distinct values: sorting and comparing it stays in C, unlike Python objects."""
    import pyarrow.compute as pc

    encoded = column.combine_chunks().dictionary_encode()
    names = np.array([*encoded.dictionary.to_pylist(), fairness.MISSING], dtype=np.str_)
    codes = pc.fill_null(encoded.indices, len(names) - 1).to_numpy()
    strings: np.ndarray = names[codes]
    return strings


def _numbers(column: Any) -> Any:
    import pyarrow as pa

    try:
        return column.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Skip("values that are not numbers") from None


def _parquet(source: bytes | IO[bytes]) -> Any:
    """A Parquet reader on file bytes, or on an open file (then only the footer and the
    column chunks read are fetched)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _Skip(f"not a readable Parquet file ({type(exc).__name__})") from None


def read_labels(
    files: Iterable[tuple[str, bytes | IO[bytes]]], task: Task, skipped: list[dict[str, str]]
) -> Any:
    """``request_id`` -> ``label`` (class strings, or float64 for regression), one row per
    request id, the latest file's label winning."""
    import pyarrow as pa
    import pyarrow.compute as pc

    label_type = pa.float64() if task is Task.REGRESSION else pa.string()
    tables = []
    for key, data in files:
        try:
            parquet = _parquet(data)
            if not {"request_id", "label"} <= set(parquet.schema_arrow.names):
                raise _Skip("no request_id or label column")
            table = parquet.read(columns=["request_id", "label"])
            label = table.column("label").combine_chunks()
            label = _numbers(label) if task is Task.REGRESSION else _class_keys(label)
            table = pa.table({"request_id": table.column("request_id").cast(pa.string())})
            tables.append(table.append_column("label", label))
        except _Skip as exc:
            skipped.append({"key": key, "reason": str(exc)})
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            skipped.append({"key": key, "reason": f"unreadable ({type(exc).__name__})"})
    if not tables:
        empty = {"request_id": pa.array([], pa.string()), "label": pa.array([], label_type)}
        return pa.table(empty)
    labels = pa.concat_tables(tables)
    labels = labels.filter(pc.is_valid(labels.column("label")))
    # One row per request id, the last read (files are listed in time order: the latest).
    numbered = labels.append_column("__row", pa.array(np.arange(labels.num_rows)))
    rows = numbered.group_by("request_id", use_threads=False).aggregate([("__row", "max")])
    return labels.take(rows.column("__row_max"))


@dataclass
class Outcomes:
    """What a set of prediction files contributed; mergeable like the drift partials."""

    rows: int = 0
    # predicted class -> [rows, rows with a score, sum of scores]
    by_class: dict[str, list[float]] = field(default_factory=dict)
    # protected attribute -> group -> predicted class -> rows
    groups: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    labelled: list[Any] = field(default_factory=list)  # Arrow tables of labelled rows
    skipped: list[dict[str, str]] = field(default_factory=list)

    def merge(self, other: Outcomes) -> Outcomes:
        by_class = {k: list(v) for k, v in self.by_class.items()}
        for k, v in other.by_class.items():
            mine = by_class.setdefault(k, [0.0, 0.0, 0.0])
            for i, x in enumerate(v):
                mine[i] += x
        groups = {a: {g: dict(c) for g, c in gs.items()} for a, gs in self.groups.items()}
        for attribute, by_group in other.groups.items():
            for group, counts in by_group.items():
                mine_counts = groups.setdefault(attribute, {}).setdefault(group, {})
                for cls, n in counts.items():
                    mine_counts[cls] = mine_counts.get(cls, 0) + n
        return Outcomes(
            rows=self.rows + other.rows,
            by_class=by_class,
            groups=groups,
            labelled=self.labelled + other.labelled,
            skipped=self.skipped + other.skipped,
        )


class _Joiner:
    def __init__(self, labels: Any, task: Task, attributes: list[str], outcomes: Outcomes) -> None:
        self.labels = labels
        self.ids = labels.column("request_id").combine_chunks()  # hashed once per block
        self.task = task
        self.attributes = attributes
        self.outcomes = outcomes
        self.buffer: list[Any] = []
        self.buffered = 0

    def add(self, table: Any) -> None:
        self.buffer.append(table)
        self.buffered += table.num_rows
        if self.buffered >= JOIN_BLOCK:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.buffer:
            return
        block = pa.concat_tables(self.buffer)  # chunked: no copy
        self.buffer, self.buffered = [], 0
        self.outcomes.rows += block.num_rows
        if self.task is not Task.REGRESSION:
            self._count(block)
        if self.labels.num_rows:
            index = pc.index_in(block.column("request_id"), value_set=self.ids)
            found = pc.is_valid(index)
            matched = block.filter(found)
            if matched.num_rows:
                label = self.labels.column("label").take(index.filter(found))
                self.outcomes.labelled.append(matched.append_column("label", label))

    def _count(self, block: Any) -> None:
        per_class = block.group_by("prediction", use_threads=False).aggregate(
            [("prediction", "count"), ("score", "count"), ("score", "sum")]
        )
        for cls, n, scored, total in zip(
            per_class.column("prediction").to_pylist(),
            per_class.column("prediction_count").to_pylist(),
            per_class.column("score_count").to_pylist(),
            per_class.column("score_sum").to_pylist(),
            strict=True,
        ):
            if cls is not None:
                entry = self.outcomes.by_class.setdefault(cls, [0.0, 0.0, 0.0])
                entry[0] += n
                entry[1] += scored
                entry[2] += total or 0.0
        for attribute in self.attributes:
            pairs = block.group_by([attribute, "prediction"], use_threads=False).aggregate(
                [("prediction", "count")]
            )
            by_group = self.outcomes.groups.setdefault(attribute, {})
            for group, cls, n in zip(
                pairs.column(attribute).to_pylist(),
                pairs.column("prediction").to_pylist(),
                pairs.column("prediction_count").to_pylist(),
                strict=True,
            ):
                if cls is not None:
                    counts = by_group.setdefault(fairness.MISSING if group is None else group, {})
                    counts[cls] = counts.get(cls, 0) + n


def _window_rows(batch: Any, window: tuple[Any, Any], version: int | None) -> Any:
    import pyarrow.compute as pc

    ts = batch.column("ts")
    mask = pc.and_(pc.greater_equal(ts, window[0]), pc.less(ts, window[1]))
    if version is not None and "version" in batch.schema.names:
        mask = pc.and_(mask, pc.equal(batch.column("version"), version))
    return batch if pc.all(mask).as_py() else batch.filter(mask)  # filtering copies


def _log_column(attribute: str) -> str:
    """Where the writer put a feature (features named like a log column are prefixed)."""
    from steward.scoring.writer import RESERVED

    return f"feature_{attribute}" if attribute in RESERVED else attribute


def read_predictions(
    files: Iterable[tuple[str, bytes | IO[bytes]]],
    window: tuple[datetime, datetime],
    version: int | None,
    task: Task,
    attributes: list[str],
    labels: Any,
) -> Outcomes:
    """Stream prediction files into counts and labelled rows (this is a map step)."""
    import pyarrow as pa

    outcomes = Outcomes()
    joiner = _Joiner(labels, task, attributes, outcomes)
    bounds = tuple(pa.scalar(t, pa.timestamp("us", tz="UTC")) for t in window)
    for key, data in files:
        try:
            parquet = _parquet(data)
            names = set(parquet.schema_arrow.names)
            if not {"request_id", "ts", "prediction"} <= names:
                raise _Skip("no request_id, ts or prediction column")
            present = [a for a in attributes if _log_column(a) in names]
            columns = ["request_id", "ts", "prediction"]
            columns += [c for c in ("score", "version") if c in names]
            columns += [_log_column(a) for a in present]
            for batch in parquet.iter_batches(batch_size=65_536, columns=columns):
                rows = _window_rows(batch, bounds, version)
                if not rows.num_rows:
                    continue
                n = rows.num_rows
                prediction = rows.column("prediction")
                table = {
                    "request_id": rows.column("request_id").cast(pa.string()),
                    "prediction": _numbers(prediction)
                    if task is Task.REGRESSION
                    else _class_keys(prediction),
                    "score": rows.column("score").cast(pa.float64())
                    if "score" in names
                    else pa.nulls(n, pa.float64()),
                }
                for attribute in attributes:
                    table[attribute] = (
                        _class_keys(rows.column(_log_column(attribute)))
                        if attribute in present
                        else pa.nulls(n, pa.string())
                    )
                joiner.add(pa.table(table))
        except _Skip as exc:
            outcomes.skipped.append({"key": key, "reason": str(exc)})
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            outcomes.skipped.append({"key": key, "reason": f"unreadable ({type(exc).__name__})"})
    joiner.flush()
    return outcomes


def assess(
    outcomes: Outcomes,
    task: Task,
    policy: MonitoringPolicy,
    registered: dict[str, float],
    labels_read: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Performance and fairness of a window from its (merged) outcomes (the reduce step)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    thresholds = policy.thresholds
    labelled = None
    if outcomes.labelled:
        rows = pa.concat_tables(outcomes.labelled)
        rows = rows.filter(pc.is_valid(rows.column("prediction")))
        # A prediction logged twice (at-least-once delivery; in one block, two blocks or two
        # map children) counts once: its first row, in file order as one pass would keep.
        numbered = rows.append_column("__row", pa.array(np.arange(rows.num_rows)))
        first = numbered.group_by("request_id", use_threads=False).aggregate([("__row", "min")])
        labelled = rows.take(first.column("__row_min"))
    n = labelled.num_rows if labelled is not None else 0
    result: dict[str, Any] = {
        "task": task.value,
        "rows_scored": outcomes.rows,
        "labels_read": labels_read,
        "rows_labelled": n,
        "label_lag_hours": policy.label_lag_hours,
        "metrics": {},
    }
    y = yhat = None
    positive = None
    if task is Task.REGRESSION:
        if labelled is not None and n:
            y = labelled.column("label").to_numpy()
            yhat = labelled.column("prediction").to_numpy()
            result.update(performance.regression(y, yhat))
    else:
        label_classes: set[str] = set()
        if labelled is not None and n:
            y, yhat = _strings(labelled.column("label")), _strings(labelled.column("prediction"))
            label_classes = set(np.unique(y).tolist())
        positive = performance.positive_class(outcomes.by_class, label_classes)
        result["positive_class"] = positive
        if y is not None and yhat is not None and labelled is not None:
            score = labelled.column("score")
            scores = score.to_numpy() if score.null_count == 0 else None
            result.update(performance.classification(y, yhat, scores, positive))
    named = {performance.ALIASES.get(k.lower(), k.lower()): v for k, v in registered.items()}
    registered_known = {k: v for k, v in named.items() if k in result["metrics"]}
    found = performance.checks(result["metrics"], registered, thresholds)
    result["registered"] = registered_known
    result["checks"] = found
    result["verdict"] = performance.verdict(n, found, thresholds)
    result["degraded"] = result["verdict"] == "degraded"
    if outcomes.skipped:
        result["skipped_files"] = outcomes.skipped
    fair: dict[str, Any] = {}
    if policy.protected_attributes and task is not Task.REGRESSION and positive is not None:
        groups = None
        if labelled is not None and n:
            groups = {a: _strings(labelled.column(a)) for a in policy.protected_attributes}
        counts = {a: outcomes.groups.get(a, {}) for a in policy.protected_attributes}
        fair = fairness.assess(counts, groups, y, yhat, positive, thresholds)
    return result, fair


def join(
    predictions: Iterable[tuple[str, bytes | IO[bytes]]],
    labels: Any,
    window: tuple[datetime, datetime],
    version: int,
    task: Task,
    policy: MonitoringPolicy,
) -> Outcomes:
    """The map step: a batch of prediction files joined with the window's labels; nothing
    is read without labels or protected attributes (nothing to assess)."""
    if not labels.num_rows and not policy.protected_attributes:
        return Outcomes()
    return read_predictions(predictions, window, version, task, policy.protected_attributes, labels)


def assess_version(
    outcomes: Outcomes,
    labels_read: int,
    version: ModelVersion,
    task: Task,
    policy: MonitoringPolicy,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reduce step: the merged outcomes -> the report's ``performance`` (against the
    version's holdout metrics, else its registered ones) and ``fairness``."""
    measured = version.validation.holdout_metrics if version.validation else {}
    found, fair = assess(outcomes, task, policy, measured or version.metrics, labels_read)
    found["baseline"] = "holdout" if measured else "registered"
    return found, fair
