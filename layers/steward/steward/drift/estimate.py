"""Label-free performance in the drift pass: a binary classifier's logged scores counted on
its calibration's blocks (map step, :class:`ScoreCounter`, a reader of
:func:`steward.logs.reader.stream`), and the report's ``performance.estimated`` from the
merged counts (reduce step, :func:`assess`). The maths is :mod:`steward.stats.cbpe`."""

from __future__ import annotations

from typing import Any

import numpy as np

from steward.domain import log_schema as schema
from steward.domain.binning import Binner
from steward.domain.value import BusinessValue, estimated
from steward.logs.reader import LogFile, Wanted, is_number
from steward.stats import cbpe


def predicted_positive(column: Any, positive: str) -> np.ndarray:
    """Rows whose logged prediction is the positive class, spelled as the outcomes reader
    spells classes (1, 1.0 and True are "1"); a null prediction is not positive."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    for chunk in column.chunks if hasattr(column, "chunks") else [column]:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.cast(chunk.type.value_type)
        if pa.types.is_boolean(chunk.type):
            hit = chunk if positive == "1" else pc.invert(chunk) if positive == "0" else None
        elif is_number(chunk.type):
            try:
                hit = pc.equal(chunk.cast(pa.float64()), float(positive))
            except ValueError:
                hit = None
        else:
            hit = pc.equal(chunk.cast(pa.string()), positive)
        if hit is None:
            out.append(np.zeros(len(chunk), bool))
        else:
            out.append(pc.fill_null(hit, False).to_numpy(zero_copy_only=False))
    return np.concatenate(out) if out else np.zeros(0, bool)


def scores_of(column: Any) -> np.ndarray:
    import pyarrow as pa

    values = column.cast(pa.float64())
    if hasattr(values, "combine_chunks"):
        values = values.combine_chunks()
    array: np.ndarray = values.to_numpy(zero_copy_only=False)  # nulls become NaN: missing
    return array


class ScoreCounter:
    """The rows of a window counted per calibration block and predicted class."""

    def __init__(self, calibration: dict[str, Any]) -> None:
        self.steps = cbpe.steps_of(calibration)
        self.binner = Binner(self.steps.edges)
        self.positive = str(calibration["positive_class"])
        self.counts = np.zeros(2 * self.steps.blocks, np.int64)
        self.missing = 0
        self.active = False

    def wants(self, file: LogFile, key: str) -> Wanted | None:
        self.active = {schema.SCORE, schema.PREDICTION} <= file.names
        if not self.active or not is_number(file.type_of(schema.SCORE)):
            return None  # a file without scores says nothing of performance
        return Wanted([schema.SCORE, schema.PREDICTION])

    def add(self, table: Any) -> None:
        scores = scores_of(table.column(schema.SCORE))
        predicted = predicted_positive(table.column(schema.PREDICTION), self.positive)
        counted, missing = cbpe.count(self.steps, scores, predicted, self.binner)
        self.counts += counted
        self.missing += missing

    def read(self, key: str) -> None:
        pass

    def skip(self, key: str, reason: str) -> None:
        pass  # the drift accumulator notes skipped files

    def result(self) -> cbpe.Blocks:
        return cbpe.Blocks(self.counts.tolist(), self.missing)


def assess(
    blocks: cbpe.Blocks,
    calibration: dict[str, Any],
    performance: dict[str, Any],
    labelled: Any | None,
    value: BusinessValue | None,
) -> dict[str, Any] | None:
    """The report's ``performance.estimated``: the window's estimated ROC AUC, accuracy and
    F1 with their bands and expected confusion counts; with labels, ``comparison``: the
    estimate for the labelled rows beside their realized metrics (same rows, so the error
    is the estimate's own). ``value`` given: the estimated business value, as
    ``performance.value.estimated`` reads it."""
    steps = cbpe.steps_of(calibration)
    found = cbpe.estimate(blocks, steps)
    if found is None:
        return None
    found["calibration"] = calibration.get("method", "isotonic")
    found["positive_class"] = calibration["positive_class"]
    if value is not None:
        found["value"] = estimated(value, found["confusion"])
    realized = performance.get("metrics") or {}
    if labelled is not None and labelled.num_rows and realized:
        scores = scores_of(labelled.column(schema.SCORE))
        predicted = predicted_positive(labelled.column(schema.PREDICTION), found["positive_class"])
        counted, missing = cbpe.count(steps, scores, predicted)
        mine = cbpe.estimate(cbpe.Blocks(counted.tolist(), missing), steps)
        if mine is not None:
            found["comparison"] = {
                "rows": mine["rows"],
                "metrics": cbpe.compare(mine, realized),
            }
    return found
