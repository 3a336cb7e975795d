"""What every capability needs to be watched: alarms on any occurrence, and state machines
that trace and log (without execution data, which may hold task tokens)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.nag import acknowledge


def alarm_on_any(
    scope: Construct, construct_id: str, metric: cloudwatch.Metric
) -> cloudwatch.Alarm:
    """Alarm when the metric is above zero in any 5-minute period (errors, dead letters)."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric.with_(period=cdk.Duration.minutes(5), statistic="Maximum"),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def traced_state_machine(
    scope: Construct,
    construct_id: str,
    definition: sfn.IChainable,
    timeout: cdk.Duration,
    name: str | None = None,
) -> sfn.StateMachine:
    """X-Ray on, every event logged (log group ``<construct_id>Logs``), no execution data."""
    machine = sfn.StateMachine(
        scope,
        construct_id,
        state_machine_name=name,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=logs.LogGroup(
                scope,
                f"{construct_id}Logs",
                retention=logs.RetentionDays.THREE_MONTHS,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            ),
            level=sfn.LogLevel.ALL,
            include_execution_data=False,
        ),
    )
    acknowledge(
        machine,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing and CloudWatch Logs delivery actions support no resource-level permissions.",
    )
    return machine
