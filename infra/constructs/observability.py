"""What every capability needs to be watched: alarms on any occurrence, and state machines
that trace and log (without execution data, which may hold task tokens)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.function import owned_log_group
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


def alarm_topic(scope: Construct, construct_id: str, email: str | None = None) -> sns.Topic:
    """The topic every alarm notifies (subscribe e-mail, chat through AWS Chatbot, a pager).

    CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, so this one
    has its own key (rotated) that lets CloudWatch use it.
    """
    key = kms.Key(
        scope,
        f"{construct_id}Key",
        description="Steward alarm topic",
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=["*"],  # in a key policy, "*" is this key
        )
    )
    topic = sns.Topic(scope, construct_id, master_key=key, enforce_ssl=True)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["sns:Publish"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}},
        )
    )
    if email:
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic


def notify_every_alarm(scope: Construct, topic: sns.ITopic) -> int:
    """Make every alarm under ``scope`` notify ``topic`` when it fires and when it clears;
    returns how many alarms there are."""
    alarms = [c for c in scope.node.find_all() if isinstance(c, cloudwatch.Alarm)]
    for alarm in alarms:
        alarm.add_alarm_action(actions.SnsAction(topic))
        alarm.add_ok_action(actions.SnsAction(topic))
    return len(alarms)


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
            destination=owned_log_group(
                scope, f"{construct_id}Logs", logs.RetentionDays.THREE_MONTHS
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
