"""Workflows: the approval state machine, with real Lambda tasks and a human task token."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.nag import acknowledge, arn_token

APPROVAL_TIMEOUT = cdk.Duration.days(7)


class Workflows(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, tasks_fn: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self._fn = tasks_fn
        failed = self._task("RecordFailure", "record_failure", result_path="$.failure").next(
            sfn.Fail(self, "Failed", error="ApprovalWorkflowFailed")
        )

        validate = self._task("Validate", "validate", result_path="$.validation")
        await_decision = tasks.LambdaInvoke(
            self,
            "AwaitDecision",
            lambda_function=tasks_fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "task": "request_approval",
                    "name": sfn.JsonPath.string_at("$.name"),
                    "version": sfn.JsonPath.number_at("$.version"),
                    "token": sfn.JsonPath.task_token,
                }
            ),
            result_path="$.decision",
            task_timeout=sfn.Timeout.duration(APPROVAL_TIMEOUT),
        )
        expired = self._task("RecordExpiry", "expire", result_path="$.expiry").next(
            sfn.Succeed(self, "Expired", comment="No decision before the approval timeout")
        )
        await_decision.add_catch(expired, errors=["States.Timeout"], result_path="$.error")
        for step in (validate, await_decision):
            step.add_catch(failed, errors=["States.ALL"], result_path="$.error")

        approved = sfn.Succeed(self, "Approved")
        rejected = sfn.Succeed(self, "Rejected")
        decided = (
            sfn.Choice(self, "Decision?")
            .when(sfn.Condition.string_equals("$.decision.decision", "approve"), approved)
            .otherwise(rejected)
        )
        valid = (
            sfn.Choice(self, "Valid?")
            .when(sfn.Condition.boolean_equals("$.validation.ok", True), await_decision)
            .otherwise(sfn.Succeed(self, "InvalidRejected"))
        )
        await_decision.next(decided)
        definition = validate.next(valid)

        self.approval = sfn.StateMachine(
            self,
            "Approval",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=APPROVAL_TIMEOUT.plus(cdk.Duration.hours(1)),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "ApprovalLogs",
                    retention=logs.RetentionDays.THREE_MONTHS,
                    removal_policy=cdk.RemovalPolicy.DESTROY,
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )
        acknowledge(
            self.approval,
            f"AwsSolutions-IAM5[Resource::{arn_token(tasks_fn)}:*]",
            "Step Functions invokes the task function by qualified ARN (any version).",
        )
        acknowledge(
            self.approval,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing and CloudWatch Logs delivery actions support no resource-level "
            "permissions.",
        )

    def _task(self, construct_id: str, task: str, *, result_path: str) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=self._fn,
            payload=sfn.TaskInput.from_object(
                {
                    "task": task,
                    "input": sfn.JsonPath.entire_payload,
                    "execution": sfn.JsonPath.execution_id,
                }
            ),
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=True,
            task_timeout=sfn.Timeout.duration(cdk.Duration.minutes(5)),
        )
