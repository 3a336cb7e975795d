"""Registry: the model/version table, the append-only audit table and the artifact bucket."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.storage import secure_bucket, secure_table

# gsi1 holds: the model listing (gsi1pk MODEL), versions by status (STATUS#<s>) and the
# inventory's index entries (INV#<facet>, one item per model and facet, sk = model name)
REGISTRY_INDEX = "gsi1"
# Every audit event by time (partition ``trail``, one value; sort ``at``): ``GET /audit``
# pages it newest first. One partition takes 1,000 writes/s: audit events are governance
# actions, a few a minute.
AUDIT_TIME_INDEX = "by-time"
# The only attributes an audit item may carry (``dynamodb:Attributes``), and the only
# partition keys a writer may touch in the registry table (``dynamodb:LeadingKeys``).
AUDIT_ATTRIBUTES = ("stream", "seq", "doc", "trail", "at")
REGISTRY_LEADING_KEYS = ("MODEL#*",)


class Registry(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_logs: s3.IBucket,
        object_lock_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = secure_table(self, "Table", partition_key="pk", sort_key="sk")
        self.table.add_global_secondary_index(
            index_name=REGISTRY_INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
        )
        self.audit = secure_table(
            self,
            "Audit",
            partition_key="stream",
            sort_key="seq",
            sort_key_type=dynamodb.AttributeType.NUMBER,
            # Every new event leaves the table through its stream into the WORM copy
            # (Governance); old images show what an edit or a delete destroyed.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        self.audit.add_global_secondary_index(
            index_name=AUDIT_TIME_INDEX,
            partition_key=dynamodb.Attribute(name="trail", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="at", type=dynamodb.AttributeType.STRING),
        )
        self.artifacts = secure_bucket(
            self,
            "Artifacts",
            access_logs=access_logs,
            object_lock=s3.ObjectLockRetention.governance(cdk.Duration.days(object_lock_days)),
        )

    def environment(self) -> dict[str, str]:
        return {
            "STEWARD_REGISTRY_TABLE": self.table.table_name,
            "STEWARD_AUDIT_TABLE": self.audit.table_name,
            "STEWARD_ARTIFACTS_BUCKET": self.artifacts.bucket_name,
        }

    def grant_read(self, grantee: iam.IGrantable) -> None:
        self.table.grant(grantee, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
        self.audit.grant(grantee, "dynamodb:GetItem", "dynamodb:Query")
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.artifacts.arn_for_objects("models/*")],
            )
        )
        self._acknowledge_scoped(grantee)

    def grant_read_artifacts(self, grantee: iam.IGrantable) -> None:
        """Read the versions' artifacts and reference samples only (drift explains them)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.artifacts.arn_for_objects("models/*")],
            )
        )
        assert isinstance(grantee, Construct)
        acknowledge(
            grantee,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn_token(self.artifacts)}/models/*]",
            "Artifacts live under models/<name>/<version>/; that prefix is the resource.",
        )

    def grant_write(self, grantee: iam.IGrantable) -> None:
        """Read and write models and versions, append to the audit trail, upload artifacts.

        A model and its inventory index entries change in one transaction
        (``TransactWriteItems`` is authorised by the item actions it holds).
        Audit events can only be put (never updated or deleted): append-only by IAM too.
        ``s3:DeleteObject`` (no version) only lays delete markers, to withdraw what a failed
        registration staged: Object Lock keeps every locked object version.
        """
        self.grant_read(grantee)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",  # a model's stale index entries, taken tokens
                    "dynamodb:ConditionCheckItem",
                ],
                resources=[self.table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(REGISTRY_LEADING_KEYS)}
                },
            )
        )
        self._put_audit(grantee)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[self.artifacts.arn_for_objects("models/*")],
            )
        )

    def grant_append_audit(self, grantee: iam.IGrantable) -> None:
        """Read a stream's head and append events to it (the drift run's reports)."""
        self.audit.grant(grantee, "dynamodb:GetItem", "dynamodb:Query")
        self._put_audit(grantee)
        assert isinstance(grantee, Construct)
        acknowledge(
            grantee,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn_token(self.audit)}/index/*]",
            "Queries use the audit table's own secondary index (audit by time).",
        )

    def _put_audit(self, grantee: iam.IGrantable) -> None:
        """Put only, the event's own attributes: append-only by IAM too."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[self.audit.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {"dynamodb:Attributes": list(AUDIT_ATTRIBUTES)},
                    "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"},
                },
            )
        )

    def _acknowledge_scoped(self, grantee: iam.IGrantable) -> None:
        assert isinstance(grantee, Construct)
        for table in (self.table, self.audit):
            acknowledge(
                grantee,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn_token(table)}/index/*]",
                "Queries use the table's own secondary indexes (approvals inbox, audit by time).",
            )
        acknowledge(
            grantee,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn_token(self.artifacts)}/models/*]",
            "Artifacts live under models/<name>/<version>/; that prefix is the resource.",
        )
