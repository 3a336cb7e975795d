"""Reference profiles: what the training-time data looked like, in a mergeable form.

A numeric feature keeps fine quantile cut points (fixed once, from the reference data) and
the counts that fall between them; a categorical feature keeps category counts. With the
cut points fixed, profiles of disjoint parts of a dataset add up to the profile of the whole
(:func:`merge`), which is what lets drift evaluation stream and fan out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field

from steward.domain.binning import Binner, snap_edges
from steward.domain.frames import Columns, n_rows

PROFILE_FORMAT = 1
FINE_BINS = 100
MAX_CATEGORIES = 1000
OTHER = "__other__"


class NumericSummary(BaseModel):
    kind: Literal["numeric"] = "numeric"
    edges: list[float]  # interior cut points, ascending; bin i holds edges[i-1] <= x < edges[i]
    counts: list[int]  # len(edges) + 1
    missing: int = 0
    count: int = 0  # non-missing values
    total: float = 0.0
    total_sq: float = 0.0
    min: float | None = None
    max: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def missing_rate(self) -> float:
        n = self.count + self.missing
        return self.missing / n if n else 0.0


class CategoricalSummary(BaseModel):
    kind: Literal["categorical"] = "categorical"
    counts: dict[str, int]
    missing: int = 0
    count: int = 0

    @property
    def missing_rate(self) -> float:
        n = self.count + self.missing
        return self.missing / n if n else 0.0


Summary = Annotated[NumericSummary | CategoricalSummary, Field(discriminator="kind")]


class Profile(BaseModel):
    format: int = PROFILE_FORMAT
    rows: int = 0
    features: dict[str, Summary] = Field(default_factory=dict)
    prediction: Summary | None = None


def quantile_edges(values: np.ndarray, bins: int = FINE_BINS) -> list[float]:
    """Unique interior quantile cut points of the finite values, each moved down onto the
    counting grid (:func:`~steward.domain.binning.snap_edges`, by under 1/16 of the
    smallest gap between them)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    qs = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = snap_edges(np.unique(np.quantile(finite, qs, method="linear")))
    # A cut point at or below the minimum leaves bin 0 empty forever: drop it.
    return [e for e in edges if e > finite.min()]


class NumericAccumulator:
    """A numeric summary built in place, batch after batch (plain arrays, no objects per
    batch): the streaming form of :func:`summarize_numeric`. ``bounds`` also counts values
    outside a declared (min, max), infinities included, as data quality wants."""

    def __init__(
        self,
        edges: list[float],
        binner: Binner | None = None,
        bounds: tuple[float | None, float | None] = (None, None),
    ) -> None:
        self.edges = list(edges)
        self.binner = binner or Binner(edges)
        self.counts = np.zeros(len(edges) + 1, dtype=np.int64)
        self.missing = self.count = self.out_of_range = 0
        self.total = self.total_sq = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.bounds = bounds

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return
        total = float(values.sum())
        # A finite sum means no NaN or infinity: the common case needs no mask and no copy.
        finite = values if np.isfinite(total) else values[np.isfinite(values)]
        if finite is not values:
            total = float(finite.sum())
        self.missing += values.size - finite.size
        if finite.size == 0:
            self._count_out_of_range(values, None)
            return
        low, high = float(finite.min()), float(finite.max())
        self._count_out_of_range(values, (low, high) if finite is values else None)
        self.count += finite.size
        self.total += total
        self.total_sq += float(np.einsum("i,i->", finite, finite))  # one pass, no temporary
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)
        self.binner.count_into(finite, self.counts, (low, high))

    def _count_out_of_range(self, values: np.ndarray, span: tuple[float, float] | None) -> None:
        """``span``: min and max of ``values`` when all are finite; they decide most batches."""
        low, high = self.bounds
        if low is None and high is None:
            return
        if span and (low is None or span[0] >= low) and (high is None or span[1] <= high):
            return
        with np.errstate(invalid="ignore"):
            below = values < low if low is not None else False
            above = values > high if high is not None else False
        self.out_of_range += int(np.count_nonzero(below | above))

    def summary(self) -> NumericSummary:
        return NumericSummary(
            edges=self.edges,
            counts=[int(c) for c in self.counts],
            missing=self.missing,
            count=self.count,
            total=self.total,
            total_sq=self.total_sq,
            min=self.min,
            max=self.max,
        )


def summarize_numeric(
    values: np.ndarray, edges: list[float], binner: Binner | None = None
) -> NumericSummary:
    accumulator = NumericAccumulator(edges, binner)
    accumulator.add(values)
    return accumulator.summary()


def summarize_categorical(
    values: Iterable[object], keep: set[str] | None = None
) -> CategoricalSummary:
    counter: Counter[str] = Counter()
    missing = 0
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            missing += 1
        else:
            counter[str(value)] += 1
    if keep is None and len(counter) > MAX_CATEGORIES:
        keep = {k for k, _ in counter.most_common(MAX_CATEGORIES - 1)}
    if keep is not None:
        folded: Counter[str] = Counter()
        for key, n in counter.items():
            folded[key if key in keep else OTHER] += n
        counter = folded
    return CategoricalSummary(counts=dict(counter), missing=missing, count=sum(counter.values()))


def _merge_summary(
    a: NumericSummary | CategoricalSummary, b: NumericSummary | CategoricalSummary
) -> NumericSummary | CategoricalSummary:
    if isinstance(a, NumericSummary) and isinstance(b, NumericSummary):
        if a.edges != b.edges:
            raise ValueError("numeric summaries with different cut points cannot be merged")
        mins = [m for m in (a.min, b.min) if m is not None]
        maxs = [m for m in (a.max, b.max) if m is not None]
        return NumericSummary(
            edges=a.edges,
            counts=[x + y for x, y in zip(a.counts, b.counts, strict=True)],
            missing=a.missing + b.missing,
            count=a.count + b.count,
            total=a.total + b.total,
            total_sq=a.total_sq + b.total_sq,
            min=min(mins) if mins else None,
            max=max(maxs) if maxs else None,
        )
    if isinstance(a, CategoricalSummary) and isinstance(b, CategoricalSummary):
        counts = Counter(a.counts)
        counts.update(b.counts)
        return CategoricalSummary(
            counts=dict(counts), missing=a.missing + b.missing, count=a.count + b.count
        )
    raise ValueError("cannot merge a numeric summary with a categorical one")


def merge(a: Profile, b: Profile) -> Profile:
    if a.format != b.format or a.features.keys() != b.features.keys():
        raise ValueError("profiles of different shapes cannot be merged")
    prediction = None
    if a.prediction is not None and b.prediction is not None:
        prediction = _merge_summary(a.prediction, b.prediction)
    return Profile(
        format=a.format,
        rows=a.rows + b.rows,
        features={k: _merge_summary(a.features[k], b.features[k]) for k in a.features},
        prediction=prediction,
    )


class Layout(BaseModel):
    """The fixed part of a profile: cut points per numeric feature, kept categories."""

    edges: dict[str, list[float]] = Field(default_factory=dict)
    categories: dict[str, list[str] | None] = Field(default_factory=dict)
    prediction_edges: list[float] | None = None


def layout_from(columns: Columns, predictions: np.ndarray | None = None) -> Layout:
    layout = Layout()
    for name, values in columns.items():
        if values.dtype == object:
            layout.categories[name] = None
        else:
            layout.edges[name] = quantile_edges(values)
    if predictions is not None and predictions.dtype != object:
        layout.prediction_edges = quantile_edges(predictions.astype(np.float64))
    return layout


def summarize(columns: Columns, layout: Layout, predictions: np.ndarray | None = None) -> Profile:
    features: dict[str, NumericSummary | CategoricalSummary] = {}
    for name, values in columns.items():
        if name in layout.edges:
            features[name] = summarize_numeric(values, layout.edges[name])
        else:
            keep = layout.categories.get(name)
            features[name] = summarize_categorical(values, set(keep) if keep else None)
    prediction: NumericSummary | CategoricalSummary | None = None
    if predictions is not None:
        if layout.prediction_edges is not None:
            prediction = summarize_numeric(predictions, layout.prediction_edges)
        else:
            prediction = summarize_categorical(predictions)
    return Profile(rows=n_rows(columns), features=features, prediction=prediction)


def build_profile(columns: Columns, predictions: np.ndarray | None = None) -> Profile:
    """One-shot profile of in-memory reference data."""
    return summarize(columns, layout_from(columns, predictions), predictions)
