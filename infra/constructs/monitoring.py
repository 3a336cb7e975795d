"""Monitoring: the drift report bucket, the drift function, one EventBridge Scheduler
schedule per model (a schedule group and the role that invokes the function; the schedules
themselves are made by the registry when a model's monitoring policy is set), the
distributed drift state machine (plan -> one batch inline | Distributed Map -> reduce),
and alarms."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.function import StewardFunction
from infra.constructs.layers import Layers
from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.observability import alarm_on_any, traced_state_machine
from infra.constructs.registry import REGISTRY_LEADING_KEYS, Registry
from infra.constructs.storage import dead_letter_queue, secure_bucket
from infra.constructs.tasks import mark
from steward.dispatch import task_for

LOG_PREFIXES = ("predictions", "feedback")
EVIDENCE_PREFIX = "evidence/"  # large evidence packs (steward.adapters.aws.s3.S3PackStore)
RUNS_PREFIX = "drift/_runs/"  # plans and partials of distributed runs (steward.drift.runs)
DRIFT_TIMEOUT = cdk.Duration.minutes(15)
RUN_TIMEOUT = cdk.Duration.hours(2)
MAX_CONCURRENCY = 100  # map children at once


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        logs: s3.IBucket,
        access_logs: s3.IBucket,
        layers: Layers,
        registry: Registry,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.logs = logs
        self.reports = secure_bucket(self, "Reports", access_logs=access_logs)
        self.reports.add_lifecycle_rule(
            id="ExpireRunScratch", prefix=RUNS_PREFIX, expiration=cdk.Duration.days(7)
        )
        # Evidence packs too large to answer inline, fetched through a presigned URL (15 min).
        self.reports.add_lifecycle_rule(
            id="ExpireEvidencePacks", prefix=EVIDENCE_PREFIX, expiration=cdk.Duration.days(1)
        )
        # Literal names: the function's environment names the state machine and the group
        # without a reference (the state machine already refers to the function).
        self.group_name = f"{stack.stack_name}-drift"
        self.machine_name = machine_name = f"{stack.stack_name}-drift-run"
        self.state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=machine_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

        self.function = StewardFunction(
            self,
            "Function",
            source="drift",
            description="Steward drift: scheduled evaluation and the distributed run's steps",
            layers=[layers.steward, layers.core, layers.numpy, layers.arrow],
            environment=environment,
            memory_size=3008,
            timeout=DRIFT_TIMEOUT,
        )
        mark(self.function.function, "drift")
        # The model and version records, the model's latest drift and the report summaries;
        # a new verdict moves the model's drift index entry (Delete + Put, one transaction).
        self.function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[registry.table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(REGISTRY_LEADING_KEYS)}
                },
            )
        )
        registry.grant_append_audit(self.function.role)  # drift.reported, for the KPIs
        registry.grant_read_artifacts(self.function.role)  # attribution drift explains rows
        self.grant_evaluate(self.function)
        self.grant_start_run(self.function)

        self.dead_letters = dead_letter_queue(self, "ScheduleDlq", of="the drift schedules")
        self.schedule_group = scheduler.CfnScheduleGroup(self, "Schedules", name=self.group_name)
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="EventBridge Scheduler: invoke the drift function for a model's schedule",
        )
        self.function.function.grant_invoke(self.scheduler_role)
        self.dead_letters.grant(self.scheduler_role, "sqs:SendMessage")
        acknowledge(
            self.scheduler_role,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.function.function)}:*]",
            "Lambda's invoke grant covers the function's versions (qualified ARNs).",
        )

        self.state_machine = self._state_machine(machine_name)
        self.alarms = [
            alarm_on_any(self, "DriftErrors", self.function.function.metric_errors()),
            alarm_on_any(self, "RunsFailed", self.state_machine.metric_failed()),
            alarm_on_any(self, "RunsTimedOut", self.state_machine.metric_timed_out()),
            alarm_on_any(
                self,
                "ScheduleDeadLetters",
                self.dead_letters.metric_approximate_number_of_messages_visible(),
            ),
        ]

    # -- the distributed run ---------------------------------------------------------------

    def _step(
        self, construct_id: str, task: str, payload: Mapping[str, object], **kwargs: object
    ) -> tasks.LambdaInvoke:
        """A step of the run: ``task`` must be one the drift function runs."""
        task_for(task, "drift")
        return tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=self.function.function,
            payload=sfn.TaskInput.from_object({"task": task, **payload}),
            payload_response_only=True,
            retry_on_service_exceptions=True,
            task_timeout=sfn.Timeout.duration(DRIFT_TIMEOUT),
            **kwargs,  # type: ignore[arg-type]
        )

    def _state_machine(self, name: str) -> sfn.StateMachine:
        failed = sfn.Fail(self, "RunFailed", error="DriftRunFailed", cause="a step failed")
        window = {
            "model": sfn.JsonPath.string_at("$.model"),
            "start": sfn.JsonPath.string_at("$.start"),
            "end": sfn.JsonPath.string_at("$.end"),
        }
        plan = self._step("Plan", "plan", window, result_path="$.plan")
        inline = self._step("EvaluateInline", "evaluate", window, result_path="$.report")
        child = self._step("EvaluateBatch", "map", _item())
        fan_out = sfn.DistributedMap(
            self,
            "EvaluateBatches",
            items_path="$.plan.items",
            item_selector=_item_selector(),
            max_concurrency=MAX_CONCURRENCY,
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_path="$.results",
            label="drift",
        )
        fan_out.item_processor(child)
        reduce = self._step(
            "Reduce",
            "reduce",
            {
                "model": sfn.JsonPath.string_at("$.plan.model"),
                "run": sfn.JsonPath.string_at("$.plan.run"),
                "results": sfn.JsonPath.list_at("$.results"),
            },
            result_path="$.report",
        )
        for step in (plan, inline, fan_out, reduce):
            step.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        done = sfn.Succeed(self, "Reported")
        definition = plan.next(
            sfn.Choice(self, "OneBatch?")
            .when(sfn.Condition.number_less_than_equals("$.plan.count", 1), inline.next(done))
            .otherwise(fan_out.next(reduce).next(done))
        )
        machine = traced_state_machine(self, "Run", definition, RUN_TIMEOUT, name)
        acknowledge(
            machine,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.function.function)}:*]",
            "Step Functions invokes the drift function by qualified ARN (any version).",
        )
        stack = cdk.Stack.of(self)
        resource = machine.node.default_child
        assert isinstance(resource, cdk.CfnElement)
        logical = stack.resolve(stack.get_logical_id(resource))
        name_token = f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{logical}"}}]}}]}}'
        executions = (
            f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name_token}"
        )
        for pattern in (f"{executions}:*", f"{executions}/drift:*"):
            acknowledge(
                machine,
                f"AwsSolutions-IAM5[Resource::{pattern}]",
                "The Distributed Map describes and stops its own child executions (of this "
                "state machine and its map run label), which have generated names.",
            )
        return machine

    # -- grants ----------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        return {
            "STEWARD_LOGS_BUCKET": self.logs.bucket_name,
            "STEWARD_REPORTS_BUCKET": self.reports.bucket_name,
        }

    def grant_schedules(self, fn: StewardFunction) -> None:
        """Create, update, read and delete the per-model schedules of the group, handing
        them the scheduler role (and nothing else)."""
        stack = cdk.Stack.of(self)
        env = {
            "STEWARD_DRIFT_SCHEDULE_GROUP": self.group_name,
            "STEWARD_DRIFT_FUNCTION_ARN": self.function.function.function_arn,
            "STEWARD_DRIFT_SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
            "STEWARD_DRIFT_SCHEDULE_DLQ_ARN": self.dead_letters.queue_arn,
        }
        for key, value in env.items():
            fn.add_environment(key, value)
        schedules = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.group_name}/*"
        )
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:GetSchedule",
                    "scheduler:DeleteSchedule",
                ],
                resources=[schedules],
            )
        )
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        acknowledge(
            fn.role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
            f"<AWS::AccountId>:schedule/{self.group_name}/*]",
            "One schedule per model, named after it, inside the drift schedule group only.",
        )

    def grant_start_run(self, fn: StewardFunction) -> None:
        """Start the distributed run (a window of more than one batch), and nothing else."""
        fn.add_environment("STEWARD_DRIFT_STATE_MACHINE_ARN", self.state_machine_arn)
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn]
            )
        )

    def grant_read_runs(self, fn: StewardFunction) -> None:
        """Read the distributed runs' states (a window's executions, by name or listed),
        never their input or history."""
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"], resources=[self.executions_arn]
            )
        )
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions"], resources=[self.state_machine_arn]
            )
        )
        acknowledge(
            fn.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
            f"<AWS::AccountId>:execution:{self.machine_name}:*]",
            "Drift run status: executions of the drift state machine only, named after the "
            "window's report id (with rerun suffixes), so not known before the run starts.",
        )

    def grant_evaluate(self, fn: StewardFunction) -> None:
        """Read the logs (listing limited to their prefixes), keep reports, raise events."""
        for key, value in self.environment().items():
            fn.add_environment(key, value)
        self.grant_read_logs(fn)
        policy = fn.role
        policy.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[self.reports.arn_for_objects("drift/*")],
            )
        )
        stack = cdk.Stack.of(self)
        policy.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[
                    f"arn:{stack.partition}:events:{stack.region}:{stack.account}:event-bus/default"
                ],
            )
        )
        acknowledge(
            fn.role,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.reports)}/drift/*]",
            "Drift evaluation keeps its reports under drift/; the prefix is the resource.",
        )

    def grant_keep_evidence(self, fn: StewardFunction) -> None:
        """Keep large evidence packs under evidence/ and sign their presigned GET URLs."""
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[self.reports.arn_for_objects(f"{EVIDENCE_PREFIX}*")],
            )
        )
        acknowledge(
            fn.role,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.reports)}/{EVIDENCE_PREFIX}*]",
            "Large evidence packs are kept under evidence/; the prefix is the resource.",
        )

    def grant_read_logs(self, fn: StewardFunction) -> None:
        """List and read the prediction and feedback logs, and nothing else."""
        fn.add_environment("STEWARD_LOGS_BUCKET", self.logs.bucket_name)
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.logs.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}/*" for p in LOG_PREFIXES]}},
            )
        )
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.logs.arn_for_objects(f"{p}/*") for p in LOG_PREFIXES],
            )
        )
        for prefix in LOG_PREFIXES:
            acknowledge(
                fn.role,
                f"AwsSolutions-IAM5[Resource::{arn_token(self.logs)}/{prefix}/*]",
                "The log files are read under their prefix; the prefix is the resource.",
            )


def _item() -> dict[str, object]:
    """The child's event: the Map's selected item (model, run, batch, inline budget)."""
    return {
        "model": sfn.JsonPath.string_at("$.model"),
        "run": sfn.JsonPath.string_at("$.run"),
        "batch": sfn.JsonPath.number_at("$.batch"),
        "inline_bytes": sfn.JsonPath.number_at("$.inline_bytes"),
    }


def _item_selector() -> dict[str, object]:
    return {
        "model": sfn.JsonPath.string_at("$.plan.model"),
        "run": sfn.JsonPath.string_at("$.plan.run"),
        "batch": sfn.JsonPath.number_at("$$.Map.Item.Value.batch"),
        "inline_bytes": sfn.JsonPath.number_at("$.plan.inline_bytes"),
    }
