"""The drift report, the reduce step: a window's merged partial result against the
reference profile -> a verdict per feature and for the prediction, and the data quality."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from steward.domain.models import MonitoringPolicy, Signature
from steward.domain.profile import CategoricalSummary, NumericSummary, Profile
from steward.drift.evaluate import Partial
from steward.stats import distributions as stats

REPORT_FORMAT = 1


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
