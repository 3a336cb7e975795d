"""The HTML drift report sets CBPE's estimate beside the realized metric."""

from __future__ import annotations

from typing import Any

from steward.drift.html import render
from steward.drift.report import DriftReport


def _report(performance: dict[str, Any]) -> DriftReport:
    return DriftReport(
        report_id="r1",
        model="churn",
        version=1,
        window={"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"},
        rows=5000,
        drift_detected=False,
        drift_share=0.0,
        drifted_features=[],
        features={},
        data_quality={},
        performance=performance,
        created_at="2026-12-02T00:00:00Z",
    )


def _band(value: float) -> dict[str, float]:
    return {"value": value, "lower": value - 0.01, "upper": value + 0.01, "std": 0.005}


def test_estimated_beside_realized() -> None:
    estimated = {
        "method": "cbpe",
        "rows": 5000,
        "roc_auc": _band(0.87),
        "accuracy": _band(0.8),
        "f1": _band(0.6),
        "comparison": {
            "metrics": {"roc_auc": {"estimated": 0.87, "realized": 0.861, "error": 0.009}}
        },
    }
    page = render(
        _report({"rows_labelled": 5000, "metrics": {"roc_auc": 0.861}, "estimated": estimated})
    )
    assert "Estimated performance (CBPE, 5000 rows)" in page
    assert (
        "<td>roc_auc</td><td>0.8700</td><td>0.8600</td><td>0.8800</td><td>0.8610</td><td>0.0090</td>"
        in page
    )
    assert "<td>f1</td><td>0.6000</td><td>0.5900</td><td>0.6100</td><td>-</td><td>-</td>" in page


def test_no_estimate_no_table() -> None:
    page = render(_report({"rows_labelled": 10, "metrics": {"roc_auc": 0.8}}))
    assert "Estimated performance" not in page


def test_estimated_and_realized_over_time() -> None:
    """Past reports' estimates (newest first, as listed) and their realized ROC AUC, oldest
    first in the table, then this report's."""
    history = [
        {"created_at": "2026-12-01T00:00:00Z", "estimated": {"roc_auc": 0.84}, "performance": {}},
        {
            "created_at": "2026-11-30T00:00:00Z",
            "estimated": {"roc_auc": 0.9},
            "performance": {"roc_auc": 0.88},
        },
        {"created_at": "2026-11-29T00:00:00Z", "performance": {"roc_auc": 0.9}},  # no estimate
    ]
    estimated = {"rows": 5000, "roc_auc": _band(0.87)}
    report = _report({"rows_labelled": 5000, "metrics": {"roc_auc": 0.861}, "estimated": estimated})
    page = render(report, history)
    assert "Estimated and realized ROC AUC over time" in page
    table = page.split("Estimated and realized ROC AUC over time")[1]
    assert table.index("2026-11-30") < table.index("2026-12-01") < table.index("this report")
    assert "<td>2026-11-30T00:00:00Z</td><td>0.9000</td><td>0.8800</td><td>0.0200</td>" in table
    assert "<td>2026-12-01T00:00:00Z</td><td>0.8400</td><td>-</td><td>-</td>" in table
    assert "<td>this report</td><td>0.8700</td><td>0.8610</td><td>0.0090</td>" in table
    assert "2026-11-29" not in table  # a report without an estimate is not a row


def test_no_past_estimate_no_over_time_table() -> None:
    estimated = {"rows": 5000, "roc_auc": _band(0.87)}
    history = [{"created_at": "2026-11-29T00:00:00Z", "performance": {"roc_auc": 0.9}}]
    page = render(_report({"rows_labelled": 1, "estimated": estimated}), history)
    assert "over time" not in page.split("Estimated performance")[1]
