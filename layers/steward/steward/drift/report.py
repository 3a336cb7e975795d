"""The drift report, the reduce step: a window's merged partial result against the
reference profile -> a verdict per feature and for the prediction, and the data quality."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from steward.domain.models import MonitoringPolicy, Signature
from steward.domain.profile import CategoricalSummary, NumericSummary, Profile
from steward.drift import verdicts
from steward.drift.evaluate import Partial
from steward.drift.verdicts import FeatureDrift, Verdict
from steward.stats.significance import POWER

__all__ = ["DriftReport", "FeatureDrift", "report"]

REPORT_FORMAT = 1


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
    # "drift", "no_drift", or "insufficient_data" when no feature had enough rows to test
    verdict: Verdict = "no_drift"
    # {"alpha", "correction", "tests", "min_rows", "power"}: how the verdicts were reached
    significance: dict[str, Any] = Field(default_factory=dict)
    performance: dict[str, Any] = Field(default_factory=dict)  # steward.drift.outcomes
    fairness: dict[str, Any] = Field(default_factory=dict)
    # {"ndcg", "threshold", "drift", "verdict", "rows", "method", "output_space",
    #  "reference_rows", "features": {name: {"reference", "current", "shift",
    #  "reference_rank", "current_rank"}}, "classes" (multiclass)}: steward.drift.attributions;
    # None when no attributions were compared, and then attribution_drift_reason says why
    attribution_drift: dict[str, Any] | None = None
    attribution_drift_reason: str | None = None
    created_at: str


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
    assessed: dict[str, verdicts.Assessment] = {}
    predicted: verdicts.Assessment | None = None
    if current is not None and rows:
        for name, ref in reference.features.items():
            cur = current.features.get(name)
            if cur is None:
                continue
            if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
                if cur.count + cur.missing == 0:
                    continue
                assessed[name] = verdicts.assess_numeric(name, ref, cur, policy)
                total = cur.count + cur.missing
                quality["out_of_range_share"][name] = partial.out_of_range.get(name, 0) / total
            elif isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
                if cur.count + cur.missing == 0:
                    continue
                assessed[name] = verdicts.assess_categorical(name, ref, cur, policy)
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
            predicted = verdicts.assess_numeric(
                "prediction", reference.prediction, current.prediction, policy
            )
        elif isinstance(reference.prediction, CategoricalSummary) and isinstance(
            current.prediction, CategoricalSummary
        ):
            predicted = verdicts.assess_categorical(
                "prediction", reference.prediction, current.prediction, policy
            )
    tests = verdicts.correct([*assessed.values(), *([predicted] if predicted else [])], policy)
    features = {name: a.result() for name, a in assessed.items()}
    prediction = predicted.result() if predicted else None
    drifted = sorted(k for k, f in features.items() if f.drift)
    tested = [k for k, f in features.items() if f.verdict != "insufficient_data"]
    share = len(drifted) / len(tested) if tested else 0.0
    detected = bool(tested) and share >= policy.drift_share
    verdict: Verdict = "drift" if detected else ("no_drift" if tested else "insufficient_data")
    return DriftReport(
        report_id=report_id,
        model=model,
        version=version,
        window={"start": window[0].isoformat(), "end": window[1].isoformat()},
        rows=rows,
        drift_detected=detected,
        drift_share=share,
        drifted_features=drifted,
        features=features,
        prediction=prediction,
        data_quality=quality,
        verdict=verdict,
        significance={
            "alpha": policy.alpha,
            "correction": verdicts.CORRECTION,
            "tests": tests,
            "min_rows": policy.min_rows,
            "power": POWER,
        },
        created_at=created_at,
    )
