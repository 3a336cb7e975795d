"""The practice dashboard in the template: traffic, latency, errors, drift share, realized
performance and value, one line per model through SEARCH over the Steward namespace."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synth


def _body(synth: Synth) -> dict[str, Any]:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "X" for p in parts)
    body: dict[str, Any] = json.loads(text)
    return body


def test_the_stack_creates_the_practice_dashboard(synth: Synth) -> None:
    widgets = _body(synth)["widgets"]
    titles = {w["properties"].get("title") for w in widgets}
    assert {
        "Traffic",
        "Latency (p90, ms)",
        "Errors",
        "Drift share",
        "Realized performance (ROC AUC, labelled windows)",
        "Business value (value matrix x outcomes)",
    } <= titles
    text = json.dumps(widgets)
    for metric in ("Predictions", "Latency", "DriftShare", "Performance.roc_auc", "ValueRealized"):
        assert f'MetricName=\\"{metric}\\"' in text, metric
    assert "SEARCH(" in text and "{Steward,service,model}" in text


def test_the_dashboard_sets_cbpe_estimates_beside_realized_figures(synth: Synth) -> None:
    """The widgets read the EMF names drift/metrics.py emits (namespace Steward, dimensions
    service and model: powertools adds ``service``), one line per model through SEARCH."""
    widgets = {w["properties"].get("title"): w for w in _body(synth)["widgets"]}
    performance = json.dumps(widgets["Estimated vs realized performance (ROC AUC)"])
    for metric in ("Estimated.roc_auc", "Performance.roc_auc", "EstimateError.roc_auc"):
        assert f'{{Steward,service,model}} MetricName=\\"{metric}\\"' in performance, metric
    value = json.dumps(widgets["Business value: estimated vs realized"])
    for metric in ("ValueEstimated", "ValueRealized"):
        assert f'{{Steward,service,model}} MetricName=\\"{metric}\\"' in value, metric
