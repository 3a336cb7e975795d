"""A Steward Lambda function: its own role, log group, tracing, bounded memory and timeout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.bundling import function_code, image_code
from infra.constructs.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_11
SOURCE_TAG = "steward:source"


def owned_log_group(
    scope: Construct,
    construct_id: str,
    retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> logs.LogGroup:
    """A log group of Steward's own, kept ``retention`` and removed with the stack."""
    return logs.LogGroup(
        scope, construct_id, retention=retention, removal_policy=cdk.RemovalPolicy.DESTROY
    )


def service_role(scope: Construct, construct_id: str, service: str, description: str) -> iam.Role:
    """A role ``service`` (``lambda``, ``codebuild``...) assumes; it starts empty and each
    capability grants exactly the actions it needs."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal(f"{service}.amazonaws.com"),
        description=description,
    )


class StewardFunction(Construct):
    """One Lambda per folder of ``functions/``; the tag ``steward:source`` names the folder
    whose handler it runs. A zip function with layers by default; with ``image``, a container
    image function (``functions/image/Dockerfile``) for dependencies too heavy for a zip.

    The role starts empty: each capability grants exactly the actions it needs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: str,
        description: str,
        layers: Sequence[lambda_.ILayerVersion] = (),
        image: bool = False,
        environment: dict[str, str] | None = None,
        memory_size: int = 512,
        timeout: cdk.Duration | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = owned_log_group(self, "Logs")
        self.role = service_role(self, "Role", "lambda", f"Steward {source} function")
        common: dict[str, Any] = {
            "architecture": lambda_.Architecture.X86_64,
            "role": self.role,
            "description": description,
            "memory_size": memory_size,
            "timeout": timeout or cdk.Duration.seconds(30),
            "tracing": lambda_.Tracing.ACTIVE,
            "log_group": self.log_group,
            "logging_format": lambda_.LoggingFormat.JSON,
            "reserved_concurrent_executions": reserved_concurrency,
            "environment": {
                "POWERTOOLS_SERVICE_NAME": f"steward-{source}",
                "POWERTOOLS_METRICS_NAMESPACE": "Steward",
                # Steward uses no pydantic plugins: skip their entry-point scan at cold start.
                "PYDANTIC_DISABLE_PLUGINS": "__all__",
                **(environment or {}),
            },
        }
        self.function: lambda_.Function
        if image:
            self.function = lambda_.DockerImageFunction(
                self, "Function", code=image_code(source), **common
            )
        else:
            self.function = lambda_.Function(
                self,
                "Function",
                runtime=RUNTIME,
                handler="handler.handler",
                code=function_code(source),
                layers=list(layers),
                **common,
            )
        self.log_group.grant_write(self.role)
        cdk.Tags.of(self.function).add(SOURCE_TAG, source)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level "
            "permissions; every other statement of this role names its resources.",
        )
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion") if not image else ():
            acknowledge(
                self.function,
                rule,
                "Pinned to python3.11, the build interpreter, so that the shipped .pyc files "
                "match the runtime and cold starts never recompile; raise both together.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously (API Gateway, Step Functions) where the caller sees the "
            "error; asynchronous sources (EventBridge targets) carry their own DLQ.",
        )

    def add_environment(self, key: str, value: str) -> None:
        self.function.add_environment(key, value)
