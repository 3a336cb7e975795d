"""The Steward stack: composes the capabilities and tags them; no resources of its own."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.auth import AuthSettings, grant_read_principal_tags
from infra.constructs.api import Api
from infra.constructs.console import Console
from infra.constructs.dashboard import PracticeDashboard
from infra.constructs.evidence import sign_evidence
from infra.constructs.function import StewardFunction
from infra.constructs.governance import AUDIT_RETENTION_YEARS, Governance
from infra.constructs.layers import Layers
from infra.constructs.monitoring import DRIFT_CONCURRENCY, Monitoring
from infra.constructs.nag import acknowledge
from infra.constructs.observability import alarm_topic, notify_every_alarm
from infra.constructs.registry import Registry
from infra.constructs.scoring import SCORING_CONCURRENCY, Scoring
from infra.constructs.storage import secure_bucket
from infra.constructs.tasks import TaskFunctions
from infra.constructs.trainers import grant_stage
from infra.constructs.workflows import Workflows


def _skops_env(trusted: list[str]) -> dict[str, str]:
    """The admin's skops additions (steward:skopsTrusted), for every function that may load
    a model; audited by the registry when a scikit-learn version registers."""
    return {"STEWARD_SKOPS_TRUSTED": ",".join(trusted)} if trusted else {}


class StewardStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        object_lock_days: int = 30,
        auth: AuthSettings | None = None,
        audit_retention_years: int = AUDIT_RETENTION_YEARS,
        alarm_email: str | None = None,
        console: bool = True,
        codebuild_trainer: bool = True,
        skops_trusted: list[str] | None = None,
        evidence_signing_key: str | None = None,
        scoring_concurrency: int | None = SCORING_CONCURRENCY,
        drift_concurrency: int | None = DRIFT_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        access_logs = secure_bucket(self, "AccessLogs", access_logs=None)
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "This is the access-log bucket; logging it into itself would loop.",
        )
        layers = Layers(self, "Layers")
        registry = Registry(
            self, "Registry", access_logs=access_logs, object_lock_days=object_lock_days
        )
        auth = auth or AuthSettings()
        if auth.mode != "local" and auth.role_mapping.empty:
            cdk.Annotations.of(self).add_warning_v2(
                "steward:noRoleMapping",
                "steward:roleMapping is empty: every caller is authenticated but has no role "
                "(see the README's deploy section)",
            )
        common_env = {
            "STEWARD_AUTH_MODE": auth.mode,
            "STEWARD_ROLE_MAPPING": auth.mapping_json(),
            **registry.environment(),
        }
        common_env.update(_skops_env(skops_trusted or []))

        api_fn = StewardFunction(
            self,
            "ApiFunction",
            source="api",
            description="Steward REST API: registry, approvals, aliases, audit",
            layers=[layers.steward, layers.core, layers.numpy, layers.arrow],
            environment=common_env,
            memory_size=1024,
        )
        tasks_fn = StewardFunction(
            self,
            "TasksFunction",
            source="workflow",
            description="Steward workflow tasks and scheduled jobs",
            layers=[layers.steward, layers.core, layers.numpy, layers.onnx],
            environment=common_env,
            memory_size=1024,
            timeout=cdk.Duration.minutes(5),
        )
        # The same handler with pyarrow instead of onnxruntime: canary analysis, retrain.
        lifecycle_fn = StewardFunction(
            self,
            "LifecycleFunction",
            source="workflow",
            description="Steward canary analysis and retrain steps (reads the Parquet logs)",
            layers=[layers.steward, layers.core, layers.numpy, layers.arrow],
            environment=common_env,
            memory_size=2048,
            timeout=cdk.Duration.minutes(15),
        )
        # Validate and EvaluateGates load models of every flavor: scikit-learn and skops only
        # fit a container image (the scoring image's Dockerfile, with the workflow handler).
        image_tasks_fn = StewardFunction(
            self,
            "ImageTasksFunction",
            source="workflow",
            image=True,
            description="Steward workflow steps that load models (every flavor)",
            environment=common_env,
            memory_size=3008,
            timeout=cdk.Duration.minutes(5),
        )
        for fn in (api_fn, tasks_fn, image_tasks_fn, lifecycle_fn):
            registry.grant_write(fn.role)

        # The functions that run workflow tasks, by the names steward.dispatch routes to;
        # ``models`` loads versions of every flavor (scikit-learn and skops only fit an image).
        task_functions = TaskFunctions(
            tasks=tasks_fn.function,
            lifecycle=lifecycle_fn.function,
            models=image_tasks_fn.function,
        )
        workflows = Workflows(
            self,
            "Workflows",
            functions=task_functions,
            artifacts=registry.artifacts,
            codebuild_trainer=codebuild_trainer,
        )
        grant_stage(lifecycle_fn.role, registry.artifacts, lifecycle_fn.role)
        # The gates read the deployment policy through the deployer, which names the topic.
        image_tasks_fn.add_environment("STEWARD_TOPIC_ARN", workflows.topic.topic_arn)
        for fn in (api_fn, tasks_fn, lifecycle_fn):
            fn.add_environment("STEWARD_APPROVAL_STATE_MACHINE_ARN", workflows.approval_arn)
        for fn in (api_fn, tasks_fn):
            fn.add_environment(
                "STEWARD_RETRAIN_STATE_MACHINE_ARN", workflows.retrain.state_machine_arn
            )
            workflows.retrain.grant_start_execution(fn.role)
        for fn in (tasks_fn, lifecycle_fn):
            workflows.grant_notify(fn)
        for fn in (api_fn, lifecycle_fn):
            workflows.grant_start_approval(fn)
        for fn in (api_fn, tasks_fn):
            workflows.grant_task_response(fn)
        workflows.grant_list_executions(api_fn)
        governance = Governance(
            self,
            "Governance",
            functions=task_functions,
            registry=registry,
            layers=layers,
            access_logs=access_logs,
            retention_years=audit_retention_years,
        )
        governance.grant_verify(api_fn)  # GET /audit/verify
        governance.grant_verify(tasks_fn)  # the hourly verification
        scoring = Scoring(
            self,
            "Scoring",
            layers=layers,
            registry=registry,
            access_logs=access_logs,
            environment=common_env,
            reserved_concurrency=scoring_concurrency,
        )
        if auth.role_mapping.tags:
            for fn in (api_fn, scoring.function):
                grant_read_principal_tags(fn.role)
        monitoring = Monitoring(
            self,
            "Monitoring",
            logs=scoring.logs,
            access_logs=access_logs,
            layers=layers,
            registry=registry,
            environment=common_env,
            drift_concurrency=drift_concurrency,
        )
        monitoring.grant_evaluate(api_fn)
        monitoring.grant_start_run(api_fn)  # on-demand windows of more than one batch
        monitoring.grant_read_runs(api_fn)  # ... and their status
        monitoring.grant_schedules(api_fn)
        monitoring.grant_keep_evidence(api_fn)  # evidence packs over the inline size
        sign_evidence(self, evidence_signing_key, api_fn)  # with a KMS key, if configured
        monitoring.grant_read_logs(lifecycle_fn)
        scoring.grant_redrive(api_fn)
        api = Api(self, "Api", handler=api_fn.function, user_pool_arn=auth.user_pool_arn)
        for path in ("/models/{name}/predict", "/models/{name}/explain", "/models/{name}/feedback"):
            api.route(path, "POST", scoring.function.function)
        cdk.CfnOutput(self, "ApiUrl", value=api.url)
        # Without CloudFront (GovCloud, China) or locally (the platform serves console/
        # itself, and moto's CloudFormation has no CloudFront) the Console is left out.
        if console:
            files = Console(self, "Console", rest_api=api.rest_api, access_logs=access_logs)
            domain = files.distribution.distribution_domain_name
            cdk.CfnOutput(self, "ConsoleUrl", value=f"https://{domain}/")
        PracticeDashboard(self, "Practice", scoring=scoring.function.function)
        alarms = alarm_topic(self, "Alarms", email=alarm_email)
        notify_every_alarm(self, alarms)
        cdk.CfnOutput(
            self,
            "AlarmTopicArn",
            value=alarms.topic_arn,
            description="Every alarm notifies this topic: subscribe e-mail, chat or a pager",
        )
        cdk.CfnOutput(self, "AuditCopyBucket", value=governance.copy.bucket_name)
        cdk.CfnOutput(self, "ArtifactsBucket", value=registry.artifacts.bucket_name)
        cdk.CfnOutput(self, "LogsBucket", value=scoring.logs.bucket_name)
        cdk.CfnOutput(self, "ReportsBucket", value=monitoring.reports.bucket_name)
        cdk.CfnOutput(self, "DriftStateMachine", value=monitoring.state_machine.state_machine_arn)
        cdk.Tags.of(self).add("app", "steward")
