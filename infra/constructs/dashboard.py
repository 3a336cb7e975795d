"""The practice dashboard: portfolio and per-model traffic, latency, errors, drift share,
realized performance and business value, CBPE's estimated performance and value beside the
realized ones, from the metrics Steward already emits (EMF in
the ``Steward`` namespace) and the scoring function's own. Per-model lines come from
CloudWatch SEARCH expressions, so a new model appears without a deployment."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

NAMESPACE = "Steward"
HOUR = cdk.Duration.hours(1)


def _per_model(label: str, metric: str, dims: str, stat: str, period_s: int = 3600) -> cw.IMetric:
    """One line per model: ``SEARCH`` over the namespace's metric with its dimensions."""
    query = f'{{{NAMESPACE},{dims}}} MetricName="{metric}"'
    return cw.MathExpression(
        expression=f"SEARCH('{query}', '{stat}', {period_s})",
        label=label,
        period=cdk.Duration.seconds(period_s),
    )


class PracticeDashboard(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, scoring: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        predictions = cw.Metric(
            namespace=NAMESPACE,
            metric_name="Predictions",
            statistic="Sum",
            period=HOUR,
            label="predictions (all models)",
        )
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{stack.stack_name}-practice",
            default_interval=cdk.Duration.days(7),
        )
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown="# Steward practice\nPortfolio, then one line per model. Lead time, "
                "approval wait and change failure come from the audit trail: `GET /kpis`.",
                width=24,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Traffic",
                left=[predictions],
                right=[_per_model("predictions", "Predictions", "service,model,version", "Sum")],
                width=8,
            ),
            cw.GraphWidget(
                title="Latency (p90, ms)",
                left=[_per_model("latency p90", "Latency", "service,model,version", "p90")],
                width=8,
            ),
            cw.GraphWidget(
                title="Errors",
                left=[scoring.metric_errors(period=HOUR), scoring.metric_throttles(period=HOUR)],
                right=[_per_model("rejected", "RejectedRequests", "service,model", "Sum")],
                width=8,
            ),
        )
        per_model = (
            ("Drift share", "drift share", "DriftShare", "Maximum"),
            ("Realized performance (ROC AUC, labelled windows)", "roc auc",
             "Performance.roc_auc", "Average"),
            ("Business value (value matrix x outcomes)", "value", "ValueRealized", "Sum"),
        )  # fmt: skip
        self.dashboard.add_widgets(
            *(
                cw.GraphWidget(
                    title=title, left=[_per_model(label, metric, "service,model", stat)], width=8
                )
                for title, label, metric, stat in per_model
            )
        )
        # CBPE (drift/metrics.py): the estimate next to the realized metric on one graph, the
        # estimate's absolute error on labelled windows on the right axis; value likewise.
        estimated = (
            ("Estimated vs realized performance (ROC AUC)",
             (("estimated roc auc", "Estimated.roc_auc", "Average"),
              ("realized roc auc", "Performance.roc_auc", "Average")),
             (("|estimate error| roc auc", "EstimateError.roc_auc", "Maximum"),)),
            ("Business value: estimated vs realized",
             (("value estimated", "ValueEstimated", "Sum"),
              ("value realized", "ValueRealized", "Sum")),
             ()),
        )  # fmt: skip
        self.dashboard.add_widgets(
            *(
                cw.GraphWidget(
                    title=title,
                    left=[
                        _per_model(label, metric, "service,model", stat)
                        for label, metric, stat in left
                    ],
                    right=[
                        _per_model(label, metric, "service,model", stat)
                        for label, metric, stat in right
                    ],
                    width=12,
                )
                for title, left, right in estimated
            )
        )
