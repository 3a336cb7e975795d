"""Workflows: the approval state machine (gates, a human task token, canary, promotion or
rollback) and the retrain state machine (policy, training set, trainer, registration)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.function import StewardFunction
from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.observability import traced_state_machine
from infra.constructs.storage import dead_letter_queue
from infra.constructs.tasks import TaskFunctions
from infra.constructs.trainers import TrainerBackends
from steward.dispatch import Function

APPROVAL_TIMEOUT = cdk.Duration.days(7)
# Above the longest approval a policy may ask for plus the canary's longest bake.
APPROVAL_EXECUTION_TIMEOUT = cdk.Duration.days(365)  # the Step Functions maximum
# Above the longest trainer a model may set (5 days, TrainerSettings.timeout_s) plus the
# backends' provisioning margin and the steps around it.
RETRAIN_TIMEOUT = cdk.Duration.days(6)
TASK_TIMEOUT = cdk.Duration.minutes(5)
TRAIN_TIMEOUT = cdk.Duration.minutes(15)


class Workflows(Construct):
    """The ``tasks`` function runs the steps that load models (onnxruntime), ``lifecycle``
    the ones that read the Parquet logs (pyarrow): the two together would not fit one zip.
    Each step goes where :data:`steward.dispatch.TASKS` says its task runs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: TaskFunctions,
        artifacts: s3.IBucket,
        codebuild_trainer: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self._functions = functions
        # The AWS-managed key: publishers in the account need no key grant.
        key = kms.Alias.from_alias_name(self, "TopicKey", "alias/aws/sns")
        self.topic = sns.Topic(self, "Notices", master_key=key, enforce_ssl=True)
        stack = cdk.Stack.of(self)
        # Named, so that functions can hold its ARN without a dependency cycle (the
        # lifecycle function registers versions, which starts this machine).
        self.approval_name = f"{stack.stack_name}-approval"
        self.approval_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.approval_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.approval = self._machine(
            "Approval", self._approval(), APPROVAL_EXECUTION_TIMEOUT, self.approval_name
        )
        # Named too: the CodeBuild trainer sends this machine's task heartbeats.
        self.retrain_name = f"{stack.stack_name}-retrain"
        retrain_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.retrain_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.trainers = TrainerBackends(
            self,
            "Trainers",
            artifacts=artifacts,
            retrain_arn=retrain_arn,
            codebuild=codebuild_trainer,
        )
        self.retrain = self._machine("Retrain", self._retrain(), RETRAIN_TIMEOUT, self.retrain_name)
        self.trainers.on_sagemaker.grant_run(self.retrain)
        acknowledge(
            self.retrain,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.trainers.on_lambda.fn.function)}:*]",
            "Step Functions invokes the lambda trainer by qualified ARN (any version).",
        )
        self.drift_rule = events.Rule(
            self,
            "RetrainOnDrift",
            description="Start a retrain when drift is detected (the policy decides)",
            event_pattern=events.EventPattern(source=["steward"], detail_type=["DriftDetected"]),
            targets=[
                targets.LambdaFunction(
                    functions("trigger_retrain"),
                    event=events.RuleTargetInput.from_object(
                        {
                            "task": "trigger_retrain",
                            "trigger": "drift",
                            "model": events.EventField.from_path("$.detail.model"),
                            "report_id": events.EventField.from_path("$.detail.report_id"),
                        }
                    ),
                    dead_letter_queue=dead_letter_queue(self, "DriftDlq", of="drift triggers"),
                    retry_attempts=2,
                    max_event_age=cdk.Duration.hours(1),
                )
            ],
        )

    def grant_start_approval(self, fn: StewardFunction) -> None:
        """By ARN, not by reference: the task functions are also its tasks (no cycle)."""
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.approval_arn])
        )

    def grant_list_executions(self, fn: StewardFunction) -> None:
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions"],
                resources=[self.approval_arn, self.retrain.state_machine_arn],
            )
        )

    def grant_task_response(self, fn: StewardFunction) -> None:
        """Complete the human task, or send it heartbeats."""
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "states:SendTaskSuccess",
                    "states:SendTaskFailure",
                    "states:SendTaskHeartbeat",
                ],
                resources=[self.approval_arn],
            )
        )

    def grant_notify(self, fn: StewardFunction) -> None:
        fn.add_environment("STEWARD_TOPIC_ARN", self.topic.topic_arn)
        self.topic.grant_publish(fn.role)

    # -- the approval machine ----------------------------------------------------------

    def _approval(self) -> sfn.IChainable:
        failed = self._fail_path("Approval", "ApprovalWorkflowFailed")
        validate = self._task("Validate", "validate", "$.validation")
        # Validation resumes where a fault cut it short: a brief S3 or DynamoDB fault is
        # retried instead of rejecting the version (validation failures are results, not
        # errors, so they are never retried).
        validate.add_retry(
            errors=["States.TaskFailed"],
            interval=cdk.Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        gates = self._task("EvaluateGates", "evaluate_gates", "$.gates")
        await_decision = tasks.LambdaInvoke(
            self,
            "AwaitDecision",
            lambda_function=self._functions("request_approval"),
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
            # Per model (its deployment policy); the heartbeat is always below it and the
            # hourly governance job sends one for every open approval.
            task_timeout=sfn.Timeout.at("$.gates.approval_timeout_s"),
            heartbeat_timeout=sfn.Timeout.at("$.gates.heartbeat_s"),
        )
        expired = self._task("RecordExpiry", "expire", "$.expiry").next(
            self._notify(
                "NotifyExpired",
                "approval expired",
                sfn.Succeed(self, "Expired", comment="No decision before the timeout"),
            )
        )
        await_decision.add_catch(expired, errors=["States.Timeout"], result_path="$.error")

        deploy = self._task("Deploy", "deploy", "$.deploy", retry_conflicts=True)
        promoted = self._notify("NotifyPromoted", "promoted", sfn.Succeed(self, "Promoted"))
        rollback = self._task("Rollback", "rollback_canary", "$.rollback", retry_conflicts=True)
        rolled_back = rollback.next(
            self._notify("NotifyRolledBack", "canary rolled back", sfn.Succeed(self, "RolledBack"))
        )
        promote = self._task("Promote", "promote", "$.promotion", retry_conflicts=True)
        analyze = self._task("AnalyzeCanary", "analyze_canary", "$.canary")
        # A canary that cannot be judged or promoted is taken out of traffic.
        for step in (analyze, promote):
            step.add_catch(rollback, errors=["States.ALL"], result_path="$.error")
        promote.next(promoted)
        analyze.next(
            sfn.Choice(self, "CanaryHealthy?")
            .when(sfn.Condition.boolean_equals("$.canary.passed", True), promote)
            .otherwise(rolled_back)
        )
        bake = sfn.Wait(self, "Bake", time=sfn.WaitTime.seconds_path("$.deploy.bake_s"))
        deploy.next(
            sfn.Choice(self, "Canary?")
            .when(sfn.Condition.string_equals("$.deploy.mode", "canary"), bake.next(analyze))
            .when(sfn.Condition.string_equals("$.deploy.mode", "promoted"), promoted)
            .otherwise(
                self._notify(
                    "NotifyApproved",
                    "approved",
                    sfn.Succeed(self, "Approved", comment="Deploying is left to people"),
                )
            )
        )
        rejected = self._notify("NotifyRejected", "rejected", sfn.Succeed(self, "Rejected"))
        decided = (
            sfn.Choice(self, "Decision?")
            .when(sfn.Condition.string_equals("$.decision.decision", "approve"), deploy)
            .otherwise(rejected)
        )
        await_decision.next(decided)
        routed = (
            sfn.Choice(self, "Route?")
            .when(sfn.Condition.string_equals("$.gates.verdict", "human"), await_decision)
            .when(sfn.Condition.string_equals("$.gates.verdict", "approve"), deploy)
            .otherwise(rejected)
        )
        valid = (
            sfn.Choice(self, "Valid?")
            .when(sfn.Condition.boolean_equals("$.validation.ok", True), gates.next(routed))
            .otherwise(
                self._notify(
                    "NotifyInvalid", "failed validation", sfn.Succeed(self, "InvalidRejected")
                )
            )
        )
        for step in (validate, gates, await_decision, deploy, rollback):
            step.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        return validate.next(valid)

    # -- the retrain machine -----------------------------------------------------------

    def _retrain(self) -> sfn.IChainable:
        # Every step on the lifecycle function: this machine invokes only that one.
        on: Function = "lifecycle"
        failed = self._fail_path(
            "Retrain", "RetrainFailed", task="retrain_finish", on=on, cause="$.failure.cause"
        )
        begin = self._task("Begin", "retrain_begin", "$.lease", on=on)
        prepare = self._task("PrepareTrainingSet", "retrain_prepare", "$.data", on=on)
        # Where the run trains: builtin and local in the Train step; an AWS backend's input
        # staged in S3 for its own state, whose output Collect takes through the contract.
        stage = self._task("StageTrainer", "retrain_stage", "$.staged", on=on)
        train = self._task("Train", "retrain_train", "$.trained", on=on, timeout=TRAIN_TIMEOUT)
        collect = self._task("CollectTrainerOutput", "retrain_collect", "$.trained", on=on)
        register = self._task("RegisterVersion", "retrain_register", "$.registered", on=on)
        release = self._task("ReleaseLease", "retrain_finish", "$.finished", on=on)
        for step in (begin, prepare, stage, train, collect, register, release):
            step.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        register.next(release).next(
            self._notify(
                "NotifyRetrained",
                "retrained",
                sfn.Succeed(self, "Retrained", comment="Registered: its approval workflow runs"),
                on=on,
            )
        )
        train.next(register)
        collect.next(register)
        backends = self.trainers
        backend = (
            sfn.Choice(self, "Backend?")
            .when(
                sfn.Condition.string_equals("$.staged.backend", "lambda"),
                backends.on_lambda.state(self, collect).next(collect),
            )
            .when(
                sfn.Condition.string_equals("$.staged.backend", "codebuild"),
                backends.on_codebuild.state(self, collect).next(collect)
                if backends.on_codebuild
                else sfn.Fail(
                    self,
                    "NoCodeBuild",
                    error="TrainerFailed",
                    cause="the codebuild trainer backend is not deployed here",
                ),
            )
            .when(
                sfn.Condition.string_equals("$.staged.backend", "sagemaker"),
                backends.on_sagemaker.state(self, collect).next(collect),
            )
            .otherwise(train)
        )
        chain = prepare.next(stage).next(backend)
        return begin.next(
            sfn.Choice(self, "Eligible?")
            .when(sfn.Condition.boolean_equals("$.lease.started", True), chain)
            .otherwise(sfn.Succeed(self, "Skipped", comment="The retrain policy said no"))
        )

    # -- building blocks ---------------------------------------------------------------

    def _fail_path(
        self,
        prefix: str,
        error: str,
        task: str = "record_failure",
        on: Function | None = None,
        cause: str | None = None,
    ) -> sfn.IChainable:
        """Audit (and release what the run held), notify, fail; ``cause``: where the
        recording task put the execution's cause, in words (never a trace)."""
        failed = sfn.Fail(self, f"{prefix}Failed", error=error, cause_path=cause)
        return self._task(f"Record{prefix}Failure", task, "$.failure", on=on).next(
            self._notify(f"Notify{prefix}Failure", "workflow failed", failed, on=on)
        )

    def _notify(
        self, construct_id: str, event: str, then: sfn.State, on: Function | None = None
    ) -> sfn.IChainable:
        """Notify, then ``then``; a notification that cannot be sent does not undo the
        outcome (it is in the audit trail and the execution history)."""
        step = self._task(construct_id, "notify", "$.notified", on=on, extra={"event": event})
        step.add_catch(then, errors=["States.ALL"], result_path="$.notify_error")
        return step.next(then)

    def _task(
        self,
        construct_id: str,
        task: str,
        result_path: str,
        *,
        on: Function | None = None,
        timeout: cdk.Duration = TASK_TIMEOUT,
        extra: dict[str, str] | None = None,
        retry_conflicts: bool = False,
    ) -> tasks.LambdaInvoke:
        step = tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=self._functions(task, on),
            payload=sfn.TaskInput.from_object(
                {
                    "task": task,
                    "input": sfn.JsonPath.entire_payload,
                    "execution": sfn.JsonPath.execution_id,
                    **(extra or {}),
                }
            ),
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=True,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        if retry_conflicts:  # a concurrent change of the model's aliases or traffic
            step.add_retry(
                errors=["Conflict"],
                interval=cdk.Duration.seconds(1),
                max_attempts=3,
                backoff_rate=2,
                jitter_strategy=sfn.JitterType.FULL,
            )
        return step

    def _machine(
        self,
        construct_id: str,
        definition: sfn.IChainable,
        timeout: cdk.Duration,
        name: str | None = None,
    ) -> sfn.StateMachine:
        machine = traced_state_machine(self, construct_id, definition, timeout, name)
        for fn in self._functions.all():
            acknowledge(
                machine,
                f"AwsSolutions-IAM5[Resource::{arn_token(fn)}:*]",
                "Step Functions invokes the task functions by qualified ARN (any version).",
            )
        return machine
