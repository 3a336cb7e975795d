"""CloudWatch metrics of an evaluation, as EMF lines on stdout through powertools (the same
path as scoring's metrics): per feature (dimensions model, feature) every named statistic and
the drift flag; per model the drifted share, the verdict, rows, performance metrics, the
attribution NDCG and its drift flag; per
protected attribute the disparate impact and the TPR difference.

``EphemeralMetrics``, not ``Metrics``: each dimension set is flushed on its own, and
``Metrics`` shares its buffer process-wide (the local platform runs every handler in one
process, so drift metrics would otherwise leak into a scoring flush)."""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from steward.drift.report import DriftReport

NAMESPACE = "Steward"
SERVICE = "drift"


def _flush(dimensions: dict[str, str], values: dict[str, float], unit: MetricUnit) -> None:
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for key, dimension in dimensions.items():
        metrics.add_dimension(name=key, value=dimension)
    for name, value in values.items():
        if math.isfinite(value):  # CloudWatch refuses NaN and infinities
            metrics.add_metric(name=name, unit=unit, value=value)
    metrics.flush_metrics()


def emit(report: DriftReport) -> None:
    features = dict(report.features)
    if report.prediction is not None:
        features["prediction"] = report.prediction
    for name, feature in features.items():
        values = {f"Drift.{k}": v for k, v in feature.statistics.items()}
        values["DriftStatistic"] = feature.statistic
        values["Drifted"] = float(feature.drift)
        _flush({"model": report.model, "feature": name}, values, MetricUnit.NoUnit)
    overall = {
        "DriftShare": report.drift_share,
        "DriftDetected": float(report.drift_detected),
        "DriftedFeatures": float(len(report.drifted_features)),
        "EvaluatedRows": float(report.rows),
    }
    performance = report.performance
    if performance.get("rows_labelled"):
        overall["RowsLabelled"] = float(performance["rows_labelled"])
        overall["PerformanceDegraded"] = float(bool(performance.get("degraded")))
        for metric, value in performance.get("metrics", {}).items():
            overall[f"Performance.{metric}"] = value
        worth = performance.get("value") or {}
        for key, metric in (("realized", "ValueRealized"), ("per_row", "ValuePerRow")):
            if worth.get(key) is not None:
                overall[metric] = float(worth[key])
    attributions = report.attribution_drift
    if attributions is not None and attributions.get("ndcg") is not None:
        overall["AttributionNDCG"] = float(attributions["ndcg"])
        overall["AttributionDrift"] = float(attributions["drift"])
    overall.update(_estimated(performance))
    _flush({"model": report.model}, overall, MetricUnit.NoUnit)
    for attribute, found in report.fairness.get("attributes", {}).items():
        values = {"FairnessFlagged": float(found["flagged"])}
        for key, metric in (
            ("disparate_impact", "DisparateImpact"),
            ("tpr_difference", "TprDifference"),
        ):
            if found.get(key) is not None:
                values[metric] = found[key]
        _flush({"model": report.model, "attribute": attribute}, values, MetricUnit.NoUnit)


def _estimated(performance: dict[str, Any]) -> dict[str, float]:
    """CBPE's estimate (``Estimated.<metric>``), its absolute error against the realized
    metric on the same labelled rows (``EstimateError.<metric>``) and ``ValueEstimated``."""
    found: dict[str, float] = {}
    estimated = performance.get("estimated") or {}
    for metric in ("roc_auc", "accuracy", "f1"):
        band = estimated.get(metric)
        if band is not None:
            found[f"Estimated.{metric}"] = float(band["value"])
    for metric, side in ((estimated.get("comparison") or {}).get("metrics") or {}).items():
        found[f"EstimateError.{metric}"] = abs(float(side["error"]))
    worth = performance.get("value") or {}
    if worth.get("estimated") is not None:
        found["ValueEstimated"] = float(worth["estimated"])
    return found
