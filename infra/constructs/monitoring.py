"""Monitoring: the drift report bucket, the drift function, one EventBridge Scheduler
schedule per model (a schedule group and the role that sends its firings to the drift start
queue; the schedules themselves are made by the registry when a model's monitoring policy
is set), the starter that takes that queue at a bounded rate and starts the runs, the
distributed drift state machine (plan -> skipped | one batch inline | Distributed Map ->
reduce), and alarms. docs/scale.md has the quotas these numbers keep under."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
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
from infra.constructs.storage import dead_letter_queue, queue_with_dead_letters, secure_bucket
from infra.constructs.tasks import mark
from steward.dispatch import task_for

LOG_PREFIXES = ("predictions", "feedback")
EVIDENCE_PREFIX = "evidence/"  # large evidence packs (steward.adapters.aws.s3.S3PackStore)
RUNS_PREFIX = "drift/_runs/"  # plans and partials of distributed runs (steward.drift.runs)
DRIFT_TIMEOUT = cdk.Duration.minutes(15)
RUN_TIMEOUT = cdk.Duration.hours(2)
MAX_CONCURRENCY = 100  # map children at once
# The drift function's reserved concurrency: a cap, so that monitoring never takes the
# account's concurrency from scoring (and a floor for itself). steward:driftConcurrency.
DRIFT_CONCURRENCY = 100
# The fan-out from the schedules: at most START_CONCURRENCY starter invocations at once, each
# with at most START_BATCH firings, one StartExecution each (~50 ms): about 40 starts/s, a
# quarter of Step Functions' smallest StartExecution refill rate (150/s; docs/scale.md).
START_BATCH = 10
START_CONCURRENCY = 2  # the least maximum concurrency an SQS event source takes
START_TIMEOUT = cdk.Duration.seconds(30)
START_VISIBILITY = cdk.Duration.seconds(6 * 30)  # AWS: at least 6x the function's timeout
START_RECEIVES = 5  # then to the start DLQ (alarmed): 5 tries over at least 15 minutes
# Lambda throttling a step (the drift function at its reserved concurrency): retried with
# backoff (2 s doubling, at most 5 min apart: up to ~18 minutes) before the run fails.
THROTTLED = "Lambda.TooManyRequestsException"
THROTTLE_ATTEMPTS = 10
THROTTLE_MAX_DELAY = cdk.Duration.minutes(5)


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
        drift_concurrency: int | None = DRIFT_CONCURRENCY,
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
            reserved_concurrency=drift_concurrency,
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
            description="EventBridge Scheduler: send a model's drift firings to the start queue",
        )
        self._fan_out(layers)
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
            alarm_on_any(self, "StarterErrors", self.starter.function.metric_errors()),
            alarm_on_any(
                self,
                "StartDeadLetters",
                self.start_dead_letters.metric_approximate_number_of_messages_visible(),
            ),
        ]

    def _fan_out(self, layers: Layers) -> None:
        """The start queue between the schedules and the state machine, and its starter."""
        self.start_dead_letters = dead_letter_queue(self, "StartDlq", of="the drift start queue")
        self.starts = queue_with_dead_letters(
            self,
            "StartQueue",
            dead_letters=self.start_dead_letters,
            max_receives=START_RECEIVES,
            retention=cdk.Duration.days(1),
            visibility=START_VISIBILITY,
        )
        self.scheduler_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                resources=[self.starts.queue_arn, self.dead_letters.queue_arn],
            )
        )
        self.starter = StewardFunction(
            self,
            "Starter",
            source="drift_starter",
            description="Steward drift starter: a run per schedule firing, at a bounded rate",
            layers=[layers.steward, layers.core],
            memory_size=256,
            timeout=START_TIMEOUT,
            reserved_concurrency=START_CONCURRENCY,
        )
        self.grant_start_run(self.starter)
        self.starter.function.add_event_source(
            sources.SqsEventSource(
                self.starts,
                batch_size=START_BATCH,
                max_concurrency=START_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        acknowledge(
            self.starter.function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources take no on-failure destination: the queue's redrive policy "
            f"moves a firing to the start DLQ after {START_RECEIVES} failed receives.",
        )

    # -- the distributed run ---------------------------------------------------------------

    def _step(
        self, construct_id: str, task: str, payload: Mapping[str, object], **kwargs: object
    ) -> tasks.LambdaInvoke:
        """A step of the run: ``task`` must be one the drift function runs."""
        task_for(task, "drift")
        step = tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=self.function.function,
            payload=sfn.TaskInput.from_object({"task": task, **payload}),
            payload_response_only=True,
            retry_on_service_exceptions=True,
            task_timeout=sfn.Timeout.duration(DRIFT_TIMEOUT),
            **kwargs,  # type: ignore[arg-type]
        )
        step.add_retry(
            errors=[THROTTLED],
            interval=cdk.Duration.seconds(2),
            backoff_rate=2,
            max_attempts=THROTTLE_ATTEMPTS,
            max_delay=THROTTLE_MAX_DELAY,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return step

    def _state_machine(self, name: str) -> sfn.StateMachine:
        failed = sfn.Fail(self, "RunFailed", error="DriftRunFailed", cause="a step failed")
        # How the run ended, kept for the portfolio view (GET /drift/runs), then the failure.
        note = self._step(
            "RecordFailure",
            "failed",
            {
                "model": sfn.JsonPath.string_at("$.model"),
                "execution": sfn.JsonPath.string_at("$$.Execution.Name"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        note.add_catch(failed, errors=["States.ALL"], result_path="$.noted")
        note.next(failed)
        window = {
            "model": sfn.JsonPath.string_at("$.model"),
            "start": sfn.JsonPath.string_at("$.start"),
            "end": sfn.JsonPath.string_at("$.end"),
        }
        plan = self._step("Plan", "plan", window, result_path="$.plan")
        # A schedule's firing (through the start queue): the policy's window up to its time.
        firing = {
            "model": sfn.JsonPath.string_at("$.model"),
            "end": sfn.JsonPath.string_at("$.scheduled_at"),
            "scheduled": True,
        }
        plan_firing = self._step("PlanScheduled", "plan", firing, result_path="$.plan")
        planned = {
            "model": sfn.JsonPath.string_at("$.plan.model"),
            "start": sfn.JsonPath.string_at("$.plan.start"),
            "end": sfn.JsonPath.string_at("$.plan.end"),
        }
        inline = self._step("EvaluateInline", "evaluate", planned, result_path="$.report")
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
        for step in (plan, plan_firing, inline, fan_out, reduce):
            step.add_catch(note, errors=["States.ALL"], result_path="$.error")
        done = sfn.Succeed(self, "Reported")
        batches = (
            sfn.Choice(self, "OneBatch?")
            .when(sfn.Condition.number_less_than_equals("$.plan.count", 1), inline.next(done))
            .otherwise(fan_out.next(reduce).next(done))
        )
        skip = (
            sfn.Choice(self, "Skipped?")
            .when(sfn.Condition.is_present("$.plan.skipped"), sfn.Succeed(self, "Skipped"))
            .otherwise(batches)
        )
        definition = (
            sfn.Choice(self, "Scheduled?")
            .when(sfn.Condition.is_present("$.scheduled_at"), plan_firing.next(skip))
            .otherwise(plan.next(skip))
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
            "STEWARD_DRIFT_START_QUEUE_ARN": self.starts.queue_arn,
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
