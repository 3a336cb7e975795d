"""Secure defaults for the stateful resources every capability creates."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    access_logs: s3.IBucket | None,
    object_lock: s3.ObjectLockRetention | None = None,
) -> s3.Bucket:
    """Versioned, encrypted, SSL-only, no public access, access-logged, retained on delete;
    with ``object_lock``, every new object version is locked by default."""
    return s3.Bucket(
        scope,
        construct_id,
        versioned=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{construct_id.lower()}/" if access_logs else None,
        object_lock_enabled=bool(object_lock) or None,
        object_lock_default_retention=object_lock,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


def secure_table(
    scope: Construct,
    construct_id: str,
    *,
    partition_key: str,
    sort_key: str | None = None,
    sort_key_type: dynamodb.AttributeType = dynamodb.AttributeType.STRING,
    stream: dynamodb.StreamViewType | None = None,
) -> dynamodb.Table:
    """On-demand, encrypted, point-in-time recovery, deletion-protected, retained."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=sort_key_type) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        stream=stream,
    )


def dead_letter_queue(scope: Construct, construct_id: str, *, of: str) -> sqs.Queue:
    """An encrypted, SSL-only queue kept 14 days, for what ``of`` could not deliver."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
    for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
        acknowledge(queue, rule, f"This queue is itself the dead-letter queue of {of}.")
    return queue


def queue_with_dead_letters(
    scope: Construct,
    construct_id: str,
    *,
    dead_letters: sqs.IQueue,
    max_receives: int,
    retention: cdk.Duration,
    visibility: cdk.Duration,
) -> sqs.Queue:
    """An encrypted, SSL-only queue whose messages go to ``dead_letters`` after
    ``max_receives`` receives."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=max_receives),
    )
