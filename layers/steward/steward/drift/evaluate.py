"""Streaming drift evaluation: Parquet row groups -> partial results on the reference
profile's bins -> one report. Partial results merge (the sum of per-file results equals a
single pass), which is what lets a window be split across files, functions or map children.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np
from pydantic import BaseModel, Field

from steward.domain.models import MonitoringPolicy, Signature
from steward.domain.profile import (
    CategoricalSummary,
    NumericAccumulator,
    NumericSummary,
    Profile,
    merge,
)
from steward.drift import stats
from steward.drift.malloc import tune_malloc

REPORT_FORMAT = 1


class SkipFile(Exception):
    """A log file that cannot be evaluated; reported, never fatal."""


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
    row group; turned into a :class:`Profile` once, at the end."""

    def __init__(self, reference: Profile, signature: Signature) -> None:
        self.rows = 0
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

    def add(self, table: Any, score: str | None) -> None:
        self.rows += table.num_rows
        for name in table.column_names:
            counter = self.prediction if name == score else self.features.get(name)
            if counter is not None:
                _count(counter, table.column(name))

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
    if not _is_number(column.type):
        return
    for chunk in column.chunks:
        if chunk.type != pa.float64() or chunk.null_count:
            chunk = chunk.cast(pa.float64())  # nulls become NaN below: missing, like NaN
        counter.add(chunk.to_numpy(zero_copy_only=False))


LOG_META = ("request_id", "ts", "version", "variant", "prediction", "score", "latency_ms", "flags")


def _is_number(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_floating(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


ALL, NONE, SOME = "all", "none", "some"


def _coverage(statistics: Any, low: Any, high: Any) -> str:
    """Whether a row group's values of one column all lie in [low, high], none do, or it
    takes reading them to know (no statistics, nulls, types that do not compare)."""
    try:
        if statistics is None or not statistics.has_min_max or statistics.null_count != 0:
            return SOME
        lo, hi = statistics.min, statistics.max
        if lo >= low and hi <= high:
            return ALL
        if hi < low or lo > high:
            return NONE
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        pass
    return SOME


def _row_group_coverage(
    meta: Any, positions: dict[str, int], window: tuple[datetime, datetime], version: int | None
) -> str:
    from datetime import timedelta

    start, end = window
    # ts < end, at microsecond precision (statistics come back as datetimes)
    cover = _coverage(
        meta.column(positions["ts"]).statistics, start, end - timedelta(microseconds=1)
    )
    if cover != ALL or not version or "version" not in positions:
        return cover
    return _coverage(meta.column(positions["version"]).statistics, version, version)


def _in_window(table: Any, window: tuple[datetime, datetime], version: int | None) -> Any:
    """Filter a row group the statistics could not decide: the mask is computed once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    start, end = (pa.scalar(t, pa.timestamp("us", tz="UTC")) for t in window)
    ts = table.column("ts")
    mask = pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))
    if version and "version" in table.column_names:
        mask = pc.and_(mask, pc.equal(table.column("version"), version))
    mask = pc.fill_null(mask, False)
    kept = table.drop_columns([c for c in ("ts", "version") if c in table.column_names])
    if pc.all(mask).as_py():  # filtering copies every column: only when needed
        return kept
    return kept.filter(mask)


Source = bytes | IO[bytes] | str


def read_file(
    key: str,
    data: Source,
    signature: Signature,
    window: tuple[datetime, datetime],
    version: int | None,
    partial: Partial,
) -> Iterator[tuple[Any, str | None]]:
    """Yield ``(table, score column)`` row group by row group, within the window, with only
    the columns drift needs. Row groups that the ``ts``/``version`` statistics place wholly
    inside the window are read without those columns; wholly outside, not read at all.
    ``data`` is the file's bytes or a seekable binary file: with a file, only the needed
    column chunks are read, so memory follows row groups, not files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pa.BufferReader(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise SkipFile(f"not a readable Parquet file ({type(exc).__name__})") from None
    names = set(schema.names)
    if "ts" not in names:
        raise SkipFile("no ts column")
    inputs = {f.name for f in signature.inputs}
    partial.missing_columns |= inputs - names
    partial.extra_columns |= names - inputs - set(LOG_META)
    score = next((c for c in ("score", "prediction") if c in names), None)
    columns: list[str] = []
    for spec in signature.inputs:
        if spec.name not in names:
            continue
        if spec.numeric and not _is_number(schema.field(spec.name).type):
            partial.type_mismatches.add(spec.name)
            continue
        columns.append(spec.name)
    columns += [score] if score else []
    strings = [
        c
        for c in columns
        if pa.types.is_string(schema.field(c).type)
        or pa.types.is_large_string(schema.field(c).type)
    ]
    if strings:  # read string columns as dictionaries: counted on indices
        parquet = pq.ParquetFile(source, metadata=parquet.metadata, read_dictionary=strings)
    metadata = parquet.metadata
    positions = {
        metadata.schema.column(i).name: i
        for i in range(metadata.num_columns)
        if metadata.schema.column(i).name in ("ts", "version")
    }
    for index in range(metadata.num_row_groups):
        meta = metadata.row_group(index)
        if not meta.num_rows:
            continue
        cover = _row_group_coverage(meta, positions, window, version)
        if cover == NONE:
            continue
        if cover == ALL:
            table = parquet.read_row_group(index, columns=columns, use_threads=False)
        else:
            extra = ["ts"] + (["version"] if version and "version" in names else [])
            table = parquet.read_row_group(index, columns=columns + extra, use_threads=False)
            table = _in_window(table, window, version)
        if table.num_rows:
            yield table, score


def partial_of(
    files: Iterable[tuple[str, Source]],
    reference: Profile,
    signature: Signature,
    window: tuple[datetime, datetime],
    version: int | None = None,
) -> Partial:
    """Stream ``files`` (bytes, or seekable binary files) into one partial result (this is a
    map step). Counts accumulate in place in plain arrays; objects are made once, at the end."""
    tune_malloc()
    accumulator = Accumulator(reference, signature)
    partial = Partial()
    for key, data in files:
        try:
            for table, score in read_file(key, data, signature, window, version, partial):
                accumulator.add(table, score)
            partial.files += 1
        except SkipFile as exc:
            partial.skipped.append({"key": key, "reason": str(exc)})
    partial.profile = accumulator.profile()
    partial.out_of_range = accumulator.out_of_range()
    return partial


class FeatureDrift(BaseModel):
    test: str
    statistic: float
    threshold: float
    drift: bool
    p_value: float | None = None
    statistics: dict[str, float] = Field(default_factory=dict)
    reference: list[float] = Field(default_factory=list)  # coarse histogram for charts
    current: list[float] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


class DriftReport(BaseModel):
    format: int = REPORT_FORMAT
    report_id: str
    model: str
    version: int | None
    window: dict[str, str]
    rows: int
    drift_detected: bool
    drift_share: float
    drifted_features: list[str]
    features: dict[str, FeatureDrift]
    prediction: FeatureDrift | None = None
    data_quality: dict[str, Any]
    performance: dict[str, Any] = Field(default_factory=dict)  # steward.drift.outcomes
    fairness: dict[str, Any] = Field(default_factory=dict)
    created_at: str


def _threshold(policy: MonitoringPolicy, feature: str, test: str) -> float:
    per_feature = policy.feature_thresholds.get(feature, {})
    return per_feature.get(test, policy.thresholds.get(test, stats.DEFAULTS[test]))


def _numeric_drift(
    name: str, ref: NumericSummary, cur: NumericSummary, policy: MonitoringPolicy
) -> FeatureDrift:
    r, c = np.array(ref.counts, float), np.array(cur.counts, float)
    edges = np.array(ref.edges, float)
    low = ref.min if ref.min is not None else (edges[0] if len(edges) else 0.0)
    high = ref.max if ref.max is not None else (edges[-1] if len(edges) else 0.0)
    bounds = np.concatenate([[low], edges, [high]])
    points = (bounds[:-1] + bounds[1:]) / 2
    mean = ref.total / ref.count if ref.count else 0.0
    std = float(np.sqrt(max(ref.total_sq / ref.count - mean * mean, 0.0))) if ref.count else 0.0
    ks_d, ks_p = stats.ks(r, c)
    coarse_r, coarse_c = stats.coarsen(r, c)
    values = {
        "wasserstein": stats.wasserstein(r, c, points, std or 1.0),
        "psi": stats.psi(coarse_r, coarse_c),
        "js": stats.js_distance(r, c),
        "ks": ks_d,
    }
    missing = cur.missing_rate - ref.missing_rate
    values["missing_rate"] = missing
    test = stats.NUMERIC_VERDICT
    threshold = _threshold(policy, name, test)
    missing_threshold = _threshold(policy, name, "missing_rate")
    drift = values[test] >= threshold or missing >= missing_threshold
    return FeatureDrift(
        test=test if values[test] >= threshold or missing < missing_threshold else "missing_rate",
        statistic=values[test]
        if values[test] >= threshold or missing < missing_threshold
        else missing,
        threshold=threshold
        if values[test] >= threshold or missing < missing_threshold
        else missing_threshold,
        drift=drift,
        p_value=ks_p,
        statistics=values,
        reference=[float(x) for x in coarse_r / max(coarse_r.sum(), 1)],
        current=[float(x) for x in coarse_c / max(coarse_c.sum(), 1)],
    )


def _categorical_drift(
    name: str, ref: CategoricalSummary, cur: CategoricalSummary, policy: MonitoringPolicy
) -> FeatureDrift:
    labels = sorted(ref.counts.keys() | cur.counts.keys())
    r = np.array([ref.counts.get(k, 0) for k in labels], float)
    c = np.array([cur.counts.get(k, 0) for k in labels], float)
    chi, chi_p = stats.chi2(r, c) if c.sum() else (0.0, 1.0)
    values = {
        "js": stats.js_distance(r, c) if c.sum() else 0.0,
        "psi": stats.psi(r, c),
        "chi2": chi,
        "missing_rate": cur.missing_rate - ref.missing_rate,
    }
    test = stats.CATEGORICAL_VERDICT
    threshold = _threshold(policy, name, test)
    missing_threshold = _threshold(policy, name, "missing_rate")
    drift = values[test] >= threshold or values["missing_rate"] >= missing_threshold
    return FeatureDrift(
        test=test,
        statistic=values[test],
        threshold=threshold,
        drift=drift,
        p_value=chi_p,
        statistics=values,
        reference=[float(x) for x in r / max(r.sum(), 1)],
        current=[float(x) for x in c / max(c.sum(), 1)],
        labels=labels,
    )


def report(
    partial: Partial,
    reference: Profile,
    signature: Signature,
    policy: MonitoringPolicy,
    *,
    report_id: str,
    model: str,
    version: int | None,
    window: tuple[datetime, datetime],
    created_at: str,
) -> DriftReport:
    """The verdict for a window (this is the reduce step)."""
    current = partial.profile
    features: dict[str, FeatureDrift] = {}
    quality: dict[str, Any] = {
        "files": partial.files,
        "skipped_files": partial.skipped,
        "missing_columns": sorted(partial.missing_columns),
        "extra_columns": sorted(partial.extra_columns),
        "type_mismatches": sorted(partial.type_mismatches),
        "null_rate": {},
        "out_of_range_share": {},
        "unseen_categories": {},
    }
    rows = current.rows if current else 0
    prediction = None
    if current is not None and rows:
        for name, ref in reference.features.items():
            cur = current.features.get(name)
            if cur is None:
                continue
            if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
                if cur.count + cur.missing == 0:
                    continue
                features[name] = _numeric_drift(name, ref, cur, policy)
                total = cur.count + cur.missing
                quality["out_of_range_share"][name] = partial.out_of_range.get(name, 0) / total
            elif isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
                if cur.count + cur.missing == 0:
                    continue
                features[name] = _categorical_drift(name, ref, cur, policy)
                spec = signature.feature(name)
                known = set(ref.counts) | set(spec.categories or []) if spec else set(ref.counts)
                unseen = sorted(set(cur.counts) - known)
                if unseen:
                    quality["unseen_categories"][name] = unseen[:50]
            quality["null_rate"][name] = {
                "reference": ref.missing_rate,
                "current": cur.missing_rate,
            }
        if isinstance(reference.prediction, NumericSummary) and isinstance(
            current.prediction, NumericSummary
        ):
            prediction = _numeric_drift(
                "prediction", reference.prediction, current.prediction, policy
            )
        elif isinstance(reference.prediction, CategoricalSummary) and isinstance(
            current.prediction, CategoricalSummary
        ):
            prediction = _categorical_drift(
                "prediction", reference.prediction, current.prediction, policy
            )
    drifted = sorted(k for k, f in features.items() if f.drift)
    share = len(drifted) / len(features) if features else 0.0
    return DriftReport(
        report_id=report_id,
        model=model,
        version=version,
        window={"start": window[0].isoformat(), "end": window[1].isoformat()},
        rows=rows,
        drift_detected=bool(features) and share >= policy.drift_share,
        drift_share=share,
        drifted_features=drifted,
        features=features,
        prediction=prediction,
        data_quality=quality,
        created_at=created_at,
    )
