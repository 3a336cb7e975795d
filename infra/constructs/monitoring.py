"""Monitoring: the drift report bucket and what drift evaluation may read and publish."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.function import StewardFunction
from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.storage import secure_bucket

LOG_PREFIXES = ("predictions", "feedback")


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        logs: s3.IBucket,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.logs = logs
        self.reports = secure_bucket(self, "Reports", access_logs=access_logs)

    def environment(self) -> dict[str, str]:
        return {
            "STEWARD_LOGS_BUCKET": self.logs.bucket_name,
            "STEWARD_REPORTS_BUCKET": self.reports.bucket_name,
        }

    def grant_evaluate(self, fn: StewardFunction) -> None:
        """Read the logs (listing limited to their prefixes), keep reports, raise events."""
        for key, value in self.environment().items():
            fn.add_environment(key, value)
        policy = fn.role
        policy.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.logs.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}/*" for p in LOG_PREFIXES]}},
            )
        )
        policy.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.logs.arn_for_objects(f"{p}/*") for p in LOG_PREFIXES],
            )
        )
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
        for bucket, prefix in [(self.logs, p) for p in LOG_PREFIXES] + [(self.reports, "drift")]:
            acknowledge(
                fn.role,
                f"AwsSolutions-IAM5[Resource::{arn_token(bucket)}/{prefix}/*]",
                "Drift evaluation reads the log files under their prefix and keeps its reports "
                "under drift/; the prefix is the resource.",
            )
