"""Streaming drift evaluation, the map step: the rows of Parquet files (see
:mod:`steward.logs.reader`) counted on the reference profile's bins into a partial result.
Partial results merge (the sum of per-file results equals a single pass), which is what lets
a window be split across files, functions or map children; :mod:`steward.drift.report`
turns the merged partial into the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from steward.domain import log_schema as schema
from steward.domain.models import Signature
from steward.domain.profile import (
    CategoricalSummary,
    NumericAccumulator,
    NumericSummary,
    Profile,
    merge,
)
from steward.logs.reader import LogFile, Source, Wanted, is_number, stream


@dataclass
class Partial:
    """What a set of files contributed: mergeable by :meth:`merge` (the merge of per-file
    partials equals one pass over all of them). Plain data: a profile and counts."""

    profile: Profile | None = None
    out_of_range: dict[str, int] = field(default_factory=dict)
    files: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    missing_columns: set[str] = field(default_factory=set)
    extra_columns: set[str] = field(default_factory=set)
    type_mismatches: set[str] = field(default_factory=set)

    def merge(self, other: Partial) -> Partial:
        if self.profile is None or other.profile is None:
            profile = self.profile or other.profile
        else:
            profile = merge(self.profile, other.profile)
        out = {
            k: self.out_of_range.get(k, 0) + other.out_of_range.get(k, 0)
            for k in self.out_of_range.keys() | other.out_of_range.keys()
        }
        return Partial(
            profile=profile,
            out_of_range=out,
            files=self.files + other.files,
            skipped=self.skipped + other.skipped,
            missing_columns=self.missing_columns | other.missing_columns,
            extra_columns=self.extra_columns | other.extra_columns,
            type_mismatches=self.type_mismatches | other.type_mismatches,
        )


class CategoryCounter:
    """Category counts built in place. Dictionary-encoded columns (what Parquet string
    columns are read as) are counted on their integer indices, never as strings."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.missing = 0

    def add(self, column: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                indices = chunk.indices
                self.missing += indices.null_count
                if indices.null_count:
                    indices = indices.drop_null()
                found = np.bincount(
                    indices.to_numpy(zero_copy_only=False), minlength=len(chunk.dictionary)
                )
                names = chunk.dictionary.cast(pa.string()).to_pylist()
            else:
                counted = pc.value_counts(chunk.cast(pa.string()))
                self.missing += chunk.null_count
                names = counted.field("values").to_pylist()
                found = counted.field("counts").to_numpy()
            for name, n in zip(names, found.tolist(), strict=True):
                if not n:
                    continue
                if name is None:  # a null in the dictionary itself
                    self.missing += n
                else:
                    self.counts[name] = self.counts.get(name, 0) + n

    def summary(self) -> CategoricalSummary:
        return CategoricalSummary(
            counts=dict(self.counts), missing=self.missing, count=sum(self.counts.values())
        )


FeatureCounter = NumericAccumulator | CategoryCounter


class Accumulator:
    """One pass's state: a counter per reference feature, updated in place row group after
    row group; turned into a :class:`Profile` once, at the end. A reader of
    :func:`steward.logs.reader.stream`: it reads each feature from its log column and the
    prediction from ``score`` (else ``prediction``), or from ``prediction`` when the
    reference's prediction distribution is categorical (classes, outcomes)."""

    def __init__(self, reference: Profile, signature: Signature) -> None:
        self.rows = 0
        self.signature = signature
        self.partial = Partial()
        self.features: dict[str, FeatureCounter] = {}
        for name, summary in reference.features.items():
            spec = signature.feature(name)
            if isinstance(summary, NumericSummary):
                bounds = (spec.min, spec.max) if spec else (None, None)
                self.features[name] = NumericAccumulator(summary.edges, bounds=bounds)
            else:
                self.features[name] = CategoryCounter()
        self.prediction: FeatureCounter | None = None
        if isinstance(reference.prediction, NumericSummary):
            self.prediction = NumericAccumulator(reference.prediction.edges)
        elif isinstance(reference.prediction, CategoricalSummary):
            self.prediction = CategoryCounter()
        self.counting: list[tuple[FeatureCounter, str]] = []  # this file's (counter, column)

    def wants(self, file: LogFile, key: str) -> Wanted:
        """The file's columns of the reference's features and of the prediction; notes the
        features it lacks, the extra ones and those whose type is not the signature's."""
        inputs = {f.name for f in self.signature.inputs}
        partial = self.partial
        partial.missing_columns |= {f for f in inputs if schema.column_of(f) not in file.names}
        partial.extra_columns |= file.features() - inputs
        self.counting = []
        for spec in self.signature.inputs:
            column = schema.column_of(spec.name)
            if column not in file.names:
                continue
            if spec.numeric and not is_number(file.type_of(column)):
                partial.type_mismatches.add(spec.name)
                continue
            if (counter := self.features.get(spec.name)) is not None:
                self.counting.append((counter, column))
        # A categorical reference (a multiclass model's classes, a rule set's outcomes) is
        # compared with the predicted classes; a numeric one with the score, else the value.
        order = (
            (schema.PREDICTION,)
            if isinstance(self.prediction, CategoryCounter)
            else (schema.SCORE, schema.PREDICTION)
        )
        score = next((c for c in order if c in file.names), None)
        if score is not None and self.prediction is not None:
            self.counting.append((self.prediction, score))
        columns = [column for _, column in self.counting]
        return Wanted(columns, [c for c in columns if file.is_string(c)])

    def add(self, table: Any) -> None:
        self.rows += table.num_rows
        for counter, column in self.counting:
            _count(counter, table.column(column))

    def read(self, key: str) -> None:
        self.partial.files += 1

    def skip(self, key: str, reason: str) -> None:
        self.partial.skipped.append({"key": key, "reason": reason})

    def result(self) -> Partial:
        """The pass's partial result (once, at the end)."""
        self.partial.profile = self.profile()
        self.partial.out_of_range = self.out_of_range()
        return self.partial

    def profile(self) -> Profile | None:
        if not self.rows:
            return None
        prediction = self.prediction.summary() if self.prediction is not None else None
        return Profile(
            rows=self.rows,
            features={name: c.summary() for name, c in self.features.items()},
            prediction=prediction,
        )

    def out_of_range(self) -> dict[str, int]:
        return {
            name: c.out_of_range
            for name, c in self.features.items()
            if isinstance(c, NumericAccumulator) and c.bounds != (None, None)
        }


def _count(counter: FeatureCounter, column: Any) -> None:
    import pyarrow as pa

    if isinstance(counter, CategoryCounter):
        counter.add(column)
        return
    if not is_number(column.type):
        return
    for chunk in column.chunks:
        if chunk.type != pa.float64() or chunk.null_count:
            chunk = chunk.cast(pa.float64())  # nulls become NaN below: missing, like NaN
        counter.add(chunk.to_numpy(zero_copy_only=False))


def partial_of(
    files: Iterable[tuple[str, Source]],
    reference: Profile,
    signature: Signature,
    window: tuple[datetime, datetime],
    version: int | None = None,
) -> Partial:
    """Stream ``files`` (bytes, or seekable binary files) into one partial result (this is a
    map step). Counts accumulate in place in plain arrays; objects are made once, at the end."""
    accumulator = Accumulator(reference, signature)
    stream(files, window, version, [accumulator])
    return accumulator.result()
