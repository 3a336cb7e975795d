"""Outcomes of a window: the version's predictions joined by request id with the ground-truth
labels sent as feedback, then performance and fairness.

Reading. Feedback files (``feedback/model=<name>/``, the window's hours plus the policy's
label lag) are read whole, two columns, and de-duplicated on ``request_id`` (the writer
delivers at least once; the latest label wins). Prediction files are streamed row group by
row group by :mod:`steward.logs.reader`, in the same pass as drift (:class:`Join` is one of
its readers): only ``request_id``, ``prediction``, ``score``, a multiclass model's
``probabilities`` (only when there are labels to join them with) and the protected attributes
(features, read from their log columns), filtered to the window and the version.

Join and its memory bound. Filtered prediction rows are buffered into blocks of at most
:data:`JOIN_BLOCK` rows; each block is probed against the labels' request ids in one Arrow
hash lookup (``index_in``) and only the labelled rows are kept. Peak memory is therefore one
block (about 70 MB at 2^20 rows with a 40-byte request id and two attributes; a multiclass
model's probabilities add 43 B a row for 3 classes, 134 B for 10) plus the
window's labels (about 60 bytes each) plus the labelled rows kept (at most one per label):
bounded by the number of labels, never by the number of predictions. Selection rates per
group, which need every scored row rather than the labelled ones, are counted per block.
No pandas; the maths on the labelled rows is numpy (:mod:`steward.stats.performance`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np

from steward.domain import log_schema as schema
from steward.domain.models import ModelVersion, MonitoringPolicy, Task
from steward.drift import fairness
from steward.logs.reader import LogFile, SkipFile, Wanted, latest, stream
from steward.stats import performance

JOIN_BLOCK = 1 << 20


def _probabilities_type() -> Any:
    import pyarrow as pa

    return pa.map_(pa.string(), pa.float64())


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
        raise SkipFile("values that are not numbers") from None


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
            file = LogFile(data)
            if not {schema.REQUEST_ID, schema.LABEL} <= file.names:
                raise SkipFile("no request_id or label column")
            table = file.parquet.read(columns=[schema.REQUEST_ID, schema.LABEL])
            label = table.column(schema.LABEL).combine_chunks()
            label = _numbers(label) if task is Task.REGRESSION else _class_keys(label)
            ids = table.column(schema.REQUEST_ID).cast(pa.string())
            tables.append(pa.table({schema.REQUEST_ID: ids, schema.LABEL: label}))
        except SkipFile as exc:
            skipped.append({"key": key, "reason": str(exc)})
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            skipped.append({"key": key, "reason": f"unreadable ({type(exc).__name__})"})
    if not tables:
        empty = {
            schema.REQUEST_ID: pa.array([], pa.string()),
            schema.LABEL: pa.array([], label_type),
        }
        return pa.table(empty)
    labels = pa.concat_tables(tables)
    labels = labels.filter(pc.is_valid(labels.column(schema.LABEL)))
    return latest(labels, [schema.REQUEST_ID])  # files are listed in time order


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
        self.ids = labels.column(schema.REQUEST_ID).combine_chunks()  # hashed once per block
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
            index = pc.index_in(block.column(schema.REQUEST_ID), value_set=self.ids)
            found = pc.is_valid(index)
            matched = block.filter(found)
            if matched.num_rows:
                label = self.labels.column(schema.LABEL).take(index.filter(found))
                self.outcomes.labelled.append(matched.append_column(schema.LABEL, label))

    def _count(self, block: Any) -> None:
        per_class = block.group_by(schema.PREDICTION, use_threads=False).aggregate(
            [(schema.PREDICTION, "count"), (schema.SCORE, "count"), (schema.SCORE, "sum")]
        )
        for cls, n, scored, total in zip(
            per_class.column(schema.PREDICTION).to_pylist(),
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
            column = schema.column_of(attribute)  # never a log column's name
            pairs = block.group_by([column, schema.PREDICTION], use_threads=False).aggregate(
                [(schema.PREDICTION, "count")]
            )
            by_group = self.outcomes.groups.setdefault(attribute, {})
            for group, cls, n in zip(
                pairs.column(column).to_pylist(),
                pairs.column(schema.PREDICTION).to_pylist(),
                pairs.column("prediction_count").to_pylist(),
                strict=True,
            ):
                if cls is not None:
                    counts = by_group.setdefault(fairness.MISSING if group is None else group, {})
                    counts[cls] = counts.get(cls, 0) + n


class Join:
    """The outcomes' reader of a streaming pass (:func:`steward.logs.reader.stream`): the
    rows of prediction files counted and joined with the labels, block by block."""

    def __init__(self, labels: Any, task: Task, attributes: list[str]) -> None:
        self.outcomes = Outcomes()
        self.joiner = _Joiner(labels, task, attributes, self.outcomes)
        self.task = task
        self.attributes = attributes
        self.key = ""  # the file being read, its attributes, and whether it has a score
        self.present: list[str] = []
        self.has_score = False
        self.has_probabilities = False
        self.failed = False  # this file's rows cannot be joined (noted in skipped)

    def wants(self, file: LogFile, key: str) -> Wanted | None:
        self.key = key
        if not {schema.REQUEST_ID, schema.PREDICTION} <= file.names:
            self.skip(key, "no request_id, ts or prediction column")
            return None
        self.present = [a for a in self.attributes if schema.column_of(a) in file.names]
        self.has_score = schema.SCORE in file.names
        # A multiclass model's class probabilities, read only when labels can join them.
        self.has_probabilities = bool(
            schema.PROBABILITIES in file.names and self.joiner.labels.num_rows
        )
        self.failed = False
        columns = [schema.REQUEST_ID, schema.PREDICTION]
        columns += [schema.SCORE] if self.has_score else []
        columns += [schema.PROBABILITIES] if self.has_probabilities else []
        return Wanted(columns + [schema.column_of(a) for a in self.present])

    def add(self, table: Any) -> None:
        for batch in table.to_batches():
            if not self.failed:
                self._add(batch)

    def _add(self, rows: Any) -> None:
        import pyarrow as pa

        n = rows.num_rows
        try:
            prediction = rows.column(schema.PREDICTION)
            table = {
                schema.REQUEST_ID: rows.column(schema.REQUEST_ID).cast(pa.string()),
                schema.PREDICTION: _numbers(prediction)
                if self.task is Task.REGRESSION
                else _class_keys(prediction),
                schema.SCORE: rows.column(schema.SCORE).cast(pa.float64())
                if self.has_score
                else pa.nulls(n, pa.float64()),
                schema.PROBABILITIES: rows.column(schema.PROBABILITIES).cast(_probabilities_type())
                if self.has_probabilities
                else pa.nulls(n, _probabilities_type()),
            }
            for attribute in self.attributes:
                table[schema.column_of(attribute)] = (
                    _class_keys(rows.column(schema.column_of(attribute)))
                    if attribute in self.present
                    else pa.nulls(n, pa.string())
                )
        except SkipFile as exc:
            self.failed = True
            self.skip(self.key, str(exc))
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            self.failed = True
            self.skip(self.key, f"unreadable ({type(exc).__name__})")
            return
        self.joiner.add(pa.table(table))

    def read(self, key: str) -> None:
        pass

    def skip(self, key: str, reason: str) -> None:
        self.outcomes.skipped.append({"key": key, "reason": reason})

    def result(self) -> Outcomes:
        self.joiner.flush()
        return self.outcomes


def probability_matrix(column: Any) -> tuple[list[str] | None, np.ndarray | None]:
    """The logged ``{class: probability}`` maps as (classes, rows x classes), a class a row
    lacks counting 0; ``(None, None)`` when any row has none (metrics that need them for
    every row are then left out)."""
    if column.null_count or not len(column):
        return None, None
    maps = column.combine_chunks()
    offsets = maps.offsets.to_numpy()
    start, stop = int(offsets[0]), int(offsets[-1])
    keys = np.asarray(maps.keys.slice(start, stop - start).to_numpy(zero_copy_only=False))
    values = maps.items.slice(start, stop - start).to_numpy(zero_copy_only=False)
    classes, at = np.unique(keys.astype(np.str_), return_inverse=True)
    matrix = np.zeros((len(maps), len(classes)))
    matrix[np.repeat(np.arange(len(maps)), np.diff(offsets)), at] = values
    return [str(c) for c in classes.tolist()], matrix


def read_predictions(
    files: Iterable[tuple[str, bytes | IO[bytes]]],
    window: tuple[datetime, datetime],
    version: int | None,
    task: Task,
    attributes: list[str],
    labels: Any,
) -> Outcomes:
    """Stream prediction files into counts and labelled rows (a map step on its own; a drift
    child streams its files once for drift and this join together)."""
    join = Join(labels, task, attributes)
    stream(files, window, version, [join])
    return join.result()


def labelled_rows(outcomes: Outcomes) -> Any | None:
    """The window's labelled prediction rows, one per request id (None without any)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not outcomes.labelled:
        return None
    rows = pa.concat_tables(outcomes.labelled)
    rows = rows.filter(pc.is_valid(rows.column(schema.PREDICTION)))
    # A prediction logged twice (at-least-once delivery; in one block, two blocks or two
    # map children) counts once (its copies are the same row).
    return latest(rows, [schema.REQUEST_ID])


def assess(
    outcomes: Outcomes,
    task: Task,
    policy: MonitoringPolicy,
    registered: dict[str, float],
    labels_read: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Performance and fairness of a window from its (merged) outcomes (the reduce step)."""

    thresholds = policy.thresholds
    labelled = labelled_rows(outcomes)
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
            y = labelled.column(schema.LABEL).to_numpy()
            yhat = labelled.column(schema.PREDICTION).to_numpy()
            result.update(performance.regression(y, yhat))
    else:
        label_classes: set[str] = set()
        if labelled is not None and n:
            y, yhat = (
                _strings(labelled.column(schema.LABEL)),
                _strings(labelled.column(schema.PREDICTION)),
            )
            label_classes = set(np.unique(y).tolist())
        positive = performance.positive_class(outcomes.by_class, label_classes)
        result["positive_class"] = positive
        if y is not None and yhat is not None and labelled is not None:
            score = labelled.column(schema.SCORE)
            scores = score.to_numpy() if score.null_count == 0 else None
            classes, matrix = probability_matrix(labelled.column(schema.PROBABILITIES))
            result.update(performance.classification(y, yhat, scores, positive, matrix, classes))
            if positive is not None and len(label_classes | set(np.unique(yhat).tolist())) <= 2:
                result["confusion"] = binary_counts(y, yhat, positive)
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
            groups = {
                a: _strings(labelled.column(schema.column_of(a)))
                for a in policy.protected_attributes
            }
        counts = {a: outcomes.groups.get(a, {}) for a in policy.protected_attributes}
        fair = fairness.assess(counts, groups, y, yhat, positive, thresholds)
    return result, fair


def joining(labels: Any, task: Task, policy: MonitoringPolicy) -> Join | None:
    """The map step's join of prediction files with the window's labels; ``None`` when
    there is nothing to assess (no labels, no protected attributes): nothing more is read."""
    if not labels.num_rows and not policy.protected_attributes:
        return None
    return Join(labels, task, policy.protected_attributes)


def binary_counts(y: Any, yhat: Any, positive: str) -> dict[str, int]:
    """``{"tp", "fp", "tn", "fn"}`` of a binary classifier's labelled rows."""
    truth, said = np.asarray(y) == positive, np.asarray(yhat) == positive
    return {
        "tp": int(np.sum(truth & said)),
        "fp": int(np.sum(~truth & said)),
        "tn": int(np.sum(~truth & ~said)),
        "fn": int(np.sum(truth & ~said)),
    }


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
