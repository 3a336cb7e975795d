"""Streaming drift evaluation: Parquet row groups -> partial results on the reference
profile's bins -> one report. Partial results merge (the sum of per-file results equals a
single pass), which is what lets a window be split across files, functions or map children.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from steward.domain.binning import Binner
from steward.domain.models import MonitoringPolicy, Signature
from steward.domain.profile import (
    CategoricalSummary,
    Layout,
    NumericSummary,
    Profile,
    merge,
    summarize_numeric,
)
from steward.drift import stats

REPORT_FORMAT = 1


class SkipFile(Exception):
    """A log file that cannot be evaluated; reported, never fatal."""


@dataclass
class Partial:
    """What a set of files contributed: mergeable by :meth:`merge`."""

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


def layout_of(reference: Profile) -> Layout:
    layout = Layout()
    for name, summary in reference.features.items():
        if isinstance(summary, NumericSummary):
            layout.edges[name] = summary.edges
        else:
            layout.categories[name] = None  # keep every current category: new ones matter
    if isinstance(reference.prediction, NumericSummary):
        layout.prediction_edges = reference.prediction.edges
    return layout


@dataclass
class Chunk:
    rows: int
    numeric: dict[str, np.ndarray]
    categorical: dict[str, CategoricalSummary]
    predictions: np.ndarray | CategoricalSummary | None


def _category_counts(column: Any) -> CategoricalSummary:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    counted = pc.value_counts(column.cast(pa.string()))
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    found = {v: int(c) for v, c in zip(values, counts, strict=True) if v is not None}
    return CategoricalSummary(counts=found, missing=column.null_count, count=sum(found.values()))


LOG_META = ("request_id", "ts", "version", "variant", "prediction", "score", "latency_ms", "flags")


def _is_number(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_floating(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


def _in_window(batch: Any, start: Any, end: Any, version: int | None) -> Any:
    import pyarrow.compute as pc

    ts = batch.column("ts")
    mask = pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))
    if version and "version" in batch.schema.names:
        mask = pc.and_(mask, pc.equal(batch.column("version"), version))
    if pc.all(mask).as_py():  # filtering copies every column: only when needed
        return batch
    return batch.filter(mask)


def _chunk(
    batch: Any, signature: Signature, wanted: set[str], score: str | None, partial: Partial
) -> Chunk:
    import pyarrow as pa

    numeric: dict[str, np.ndarray] = {}
    categories: dict[str, CategoricalSummary] = {}
    for spec in signature.inputs:
        if spec.name not in wanted:
            continue
        column = batch.column(spec.name)
        if not spec.numeric:
            categories[spec.name] = _category_counts(column)
        elif _is_number(column.type):
            numeric[spec.name] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            partial.type_mismatches.add(spec.name)
    predictions: np.ndarray | CategoricalSummary | None = None
    if score is not None:
        scores = batch.column(score)
        if _is_number(scores.type):
            predictions = scores.cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            predictions = _category_counts(scores)
    return Chunk(batch.num_rows, numeric, categories, predictions)


def read_file(
    key: str,
    data: bytes,
    signature: Signature,
    window: tuple[datetime, datetime],
    version: int | None,
    partial: Partial,
) -> Iterator[Chunk]:
    """Yield row group by row group, within the window: numeric columns as arrays,
    categorical columns already counted (in Arrow, never as Python strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SkipFile(f"not a readable Parquet file ({type(exc).__name__})") from None
    names = set(parquet.schema_arrow.names)
    if "ts" not in names:
        raise SkipFile("no ts column")
    inputs = {f.name for f in signature.inputs}
    wanted = inputs & names
    partial.missing_columns |= inputs - names
    partial.extra_columns |= names - inputs - set(LOG_META)
    score = next((c for c in ("score", "prediction") if c in names), None)
    columns = [f.name for f in signature.inputs if f.name in wanted] + ["ts"]
    columns += ["version"] if "version" in names and version else []
    columns += [score] if score else []
    start, end = (pa.scalar(t, pa.timestamp("us", tz="UTC")) for t in window)
    for batch in parquet.iter_batches(batch_size=65_536, columns=columns):
        batch = _in_window(batch, start, end, version)
        if batch.num_rows:
            yield _chunk(batch, signature, wanted, score, partial)


def partial_of(
    files: Iterable[tuple[str, bytes]],
    reference: Profile,
    signature: Signature,
    window: tuple[datetime, datetime],
    version: int | None = None,
) -> Partial:
    """Stream ``files`` into one partial result (this is a map step)."""
    layout = layout_of(reference)
    binners = {name: Binner(edges) for name, edges in layout.edges.items()}
    prediction_binner = Binner(layout.prediction_edges) if layout.prediction_edges else None
    partial = Partial()
    for key, data in files:
        try:
            for chunk in read_file(key, data, signature, window, version, partial):
                features: dict[str, NumericSummary | CategoricalSummary] = {}
                for name, values in chunk.numeric.items():
                    if name in binners:
                        features[name] = summarize_numeric(
                            values, layout.edges[name], binners[name]
                        )
                features.update(chunk.categorical)
                prediction: NumericSummary | CategoricalSummary | None = None
                if isinstance(chunk.predictions, CategoricalSummary):
                    prediction = chunk.predictions
                elif chunk.predictions is not None and prediction_binner is not None:
                    prediction = summarize_numeric(
                        chunk.predictions, layout.prediction_edges or [], prediction_binner
                    )
                part = Profile(rows=chunk.rows, features=features, prediction=prediction)
                _pad(part, reference)
                if reference.prediction is not None and part.prediction is None:
                    part.prediction = _empty_like(reference.prediction)
                partial = partial.merge(Partial(profile=part))
                _count_out_of_range(partial, chunk, signature)
            partial.files += 1
        except SkipFile as exc:
            partial.skipped.append({"key": key, "reason": str(exc)})
    return partial


def _count_out_of_range(partial: Partial, chunk: Chunk, signature: Signature) -> None:
    for spec in signature.inputs:
        values = chunk.numeric.get(spec.name)
        if values is None or (spec.min is None and spec.max is None):
            continue
        with np.errstate(invalid="ignore"):
            lo = values < spec.min if spec.min is not None else False
            hi = values > spec.max if spec.max is not None else False
        n = int(np.count_nonzero(lo | hi))
        partial.out_of_range[spec.name] = partial.out_of_range.get(spec.name, 0) + n


def _empty_like(
    summary: NumericSummary | CategoricalSummary,
) -> NumericSummary | CategoricalSummary:
    if isinstance(summary, NumericSummary):
        return NumericSummary(edges=summary.edges, counts=[0] * (len(summary.edges) + 1))
    return CategoricalSummary(counts={})


def _pad(part: Profile, reference: Profile) -> None:
    """Give a partial every reference feature (empty where a file lacked it) so merges line up."""
    for name, summary in reference.features.items():
        if name not in part.features:
            part.features[name] = _empty_like(summary)


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
    performance: dict[str, Any] = Field(default_factory=dict)
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
