"""Governance: tamper evidence for the audit trail, and the hourly jobs.

Every audit event leaves the audit table through its DynamoDB stream and is written, by a
function only that stream invokes, into a bucket with S3 Object Lock in compliance mode: no
one, the account's root included, can delete or shorten the retention of a copied event
before it expires. ``steward audit verify`` compares the table with that copy.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.function import StewardFunction
from infra.constructs.layers import Layers
from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.observability import alarm_on_any
from infra.constructs.registry import Registry
from infra.constructs.storage import dead_letter_queue, secure_bucket
from infra.constructs.tasks import TaskFunctions

AUDIT_VERIFY_SCHEDULE = "rate(1 hour)"
# The EU AI Act (art. 18-19) keeps documentation and logs of high-risk systems for 10 years;
# `-c steward:auditRetentionYears=N` changes it (it can be raised later, never lowered).
AUDIT_RETENTION_YEARS = 10
COPY_PREFIX = "audit/"  # audit/<stream>/<seq:012d>/<sha256>.json (steward.ports.audit)
ARCHIVER_BATCH = 100


class Governance(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: TaskFunctions,
        registry: Registry,
        layers: Layers,
        access_logs: s3.IBucket,
        retention_years: int = AUDIT_RETENTION_YEARS,
    ) -> None:
        super().__init__(scope, construct_id)
        self.copy = secure_bucket(
            self,
            "AuditCopy",
            access_logs=access_logs,
            object_lock=s3.ObjectLockRetention.compliance(cdk.Duration.days(365 * retention_years)),
        )
        self.archiver = StewardFunction(
            self,
            "Archiver",
            source="audit_archiver",
            description="Steward audit archiver: the audit table's stream into the WORM copy",
            layers=[layers.steward, layers.core],
            environment={"STEWARD_AUDIT_COPY_BUCKET": self.copy.bucket_name},
            memory_size=256,
            timeout=cdk.Duration.minutes(1),
        )
        # New objects only: each event once, under its content's digest (If-None-Match).
        self.archiver.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.copy.arn_for_objects(f"{COPY_PREFIX}*")]
            )
        )
        acknowledge(
            self.archiver.role,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.copy)}/{COPY_PREFIX}*]",
            "The archiver puts new objects under audit/ only; Object Lock keeps each one.",
        )
        self._protect_copy()
        self.archive_failures = dead_letter_queue(self, "ArchiverDlq", of="the audit archiver")
        self.archiver.function.add_event_source(
            sources.DynamoEventSource(
                registry.audit,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=ARCHIVER_BATCH,
                bisect_batch_on_error=True,
                retry_attempts=10,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.archive_failures),
            )
        )
        acknowledge(
            self.archiver.role,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams (granted with the stream event source) and X-Ray support "
            "no resource-level permissions; reading the stream names the stream.",
        )
        self.alarms = [
            alarm_on_any(self, "ArchiverErrors", self.archiver.function.metric_errors()),
            alarm_on_any(
                self,
                "ArchiveFailures",
                self.archive_failures.metric_approximate_number_of_messages_visible(),
            ),
            # Emitted by the archiver (an audit item edited or deleted) and by the hourly
            # verification (the table diverged from its copy).
            *(
                alarm_on_any(
                    self,
                    alarm,
                    cdk.aws_cloudwatch.Metric(
                        namespace="Steward", metric_name=metric, dimensions_map={"service": by}
                    ),
                )
                for alarm, metric, by in (
                    ("AuditTampered", "AuditTampered", "audit-archiver"),
                    ("AuditDiverged", "AuditChainsBroken", "workflow"),
                )
            ),
        ]

        self.dead_letters = dead_letter_queue(self, "ScheduleDlq", of="the schedule targets")
        self.verify_audit = events.Rule(
            self,
            "VerifyAudit",
            description="Hourly: verify audit chains, heartbeat open approvals, due retrains",
            schedule=events.Schedule.expression(AUDIT_VERIFY_SCHEDULE),
            # Open approvals wait for days; Step Functions must hear from them within their
            # heartbeat (at most 6 hours), so every open one gets one each hour.
            targets=[
                targets.LambdaFunction(
                    functions(task),
                    event=events.RuleTargetInput.from_object({"task": task}),
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=2,
                    max_event_age=cdk.Duration.hours(1),
                )
                for task in ("verify_audit", "send_heartbeats", "scheduled_retrains")
            ],
        )
        self.alarms.append(
            alarm_on_any(
                self,
                "ScheduleDeadLetters",
                self.dead_letters.metric_approximate_number_of_messages_visible(),
            )
        )

    def _protect_copy(self) -> None:
        """Only the archiver writes, and only new keys; nobody deletes or loosens a lock.

        Object Lock (compliance) already refuses to delete a locked version; these denials
        also refuse delete markers (which would hide copies from a plain listing) and
        overwrites (new versions of a key), whatever the caller's own policies allow.
        """
        everyone = iam.AnyPrincipal()
        archiver = self.archiver.role.role_arn
        self.copy.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[everyone],
                actions=[
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:PutObjectRetention",
                    "s3:PutObjectLegalHold",
                    "s3:BypassGovernanceRetention",
                    "s3:PutBucketObjectLockConfiguration",
                    "s3:PutLifecycleConfiguration",
                ],
                resources=[self.copy.bucket_arn, self.copy.arn_for_objects("*")],
            )
        )
        self.copy.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[everyone],
                actions=["s3:PutObject"],
                resources=[self.copy.arn_for_objects("*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": archiver}},
            )
        )
        self.copy.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[everyone],
                actions=["s3:PutObject"],
                resources=[self.copy.arn_for_objects("*")],
                conditions={"Null": {"s3:if-none-match": "true"}},
            )
        )

    def grant_verify(self, fn: StewardFunction) -> None:
        """Name the copy to ``fn`` and let it list every archived version (delete markers
        cannot hide one)."""
        fn.add_environment("STEWARD_AUDIT_COPY_BUCKET", self.copy.bucket_name)
        grantee = fn.role
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucketVersions", "s3:ListBucket"],
                resources=[self.copy.bucket_arn],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObjectVersion"],
                resources=[self.copy.arn_for_objects(f"{COPY_PREFIX}*")],
            )
        )
        acknowledge(
            grantee,
            f"AwsSolutions-IAM5[Resource::{arn_token(self.copy)}/{COPY_PREFIX}*]",
            "Verification reads archived audit events, all of them, under audit/.",
        )
