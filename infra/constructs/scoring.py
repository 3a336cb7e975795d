"""Scoring: the lean scoring function, the image scoring function for heavy flavors, the
prediction-log queue (with DLQ), the Parquet writer, the logs bucket, and alarms on errors
and dead letters."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.function import StewardFunction
from infra.constructs.layers import Layers
from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.observability import alarm_on_any
from infra.constructs.registry import Registry
from infra.constructs.storage import dead_letter_queue, queue_with_dead_letters, secure_bucket

WRITER_BATCH = 1000
WRITER_WINDOW = cdk.Duration.seconds(60)
WRITER_TIMEOUT = cdk.Duration.minutes(5)
# AWS: a queue's visibility timeout at least 6x its function's timeout, so that a batch is
# not received again while Lambda retries a throttled invocation.
QUEUE_VISIBILITY = cdk.Duration.minutes(6 * WRITER_TIMEOUT.to_minutes())
MAX_RECEIVES = 5
# Reserved concurrency of each scoring function (steward:scoringConcurrency, 0 for none): no
# other function (drift runs above all) can take it. 100 concurrent answers at ~10 ms each
# is ~10,000 requests/s; the account's default limit is 1,000 (docs/scale.md).
SCORING_CONCURRENCY = 100


class Scoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        layers: Layers,
        registry: Registry,
        access_logs: s3.IBucket,
        environment: dict[str, str],
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.logs = secure_bucket(self, "Logs", access_logs=access_logs)
        self.dead_letters = dead_letter_queue(self, "LogDlq", of="the prediction log queue")
        self.queue = queue_with_dead_letters(
            self,
            "LogQueue",
            dead_letters=self.dead_letters,
            max_receives=MAX_RECEIVES,
            retention=cdk.Duration.days(4),
            visibility=QUEUE_VISIBILITY,
        )
        scoring_env = {**environment, "STEWARD_LOG_QUEUE_URL": self.queue.queue_url}
        # Same handler, every flavor installed (scikit-learn, skops): a container image, as
        # those do not fit a zip's 250 MB. Only the zip function invokes it.
        self.image_function = StewardFunction(
            self,
            "ImageFunction",
            source="scoring",
            image=True,
            description="Steward scoring for heavy flavors (scikit-learn), forwarded by scoring",
            environment=scoring_env,
            memory_size=3008,
            reserved_concurrency=reserved_concurrency,
        )
        self.function = StewardFunction(
            self,
            "Function",
            source="scoring",
            description="Steward scoring: predict and feedback",
            layers=[layers.steward, layers.core, layers.numpy, layers.onnx],
            environment={
                **scoring_env,
                "STEWARD_IMAGE_SCORING_FUNCTION": self.image_function.function.function_name,
            },
            memory_size=2048,
            reserved_concurrency=reserved_concurrency,
        )
        for fn in (self.function, self.image_function):
            registry.grant_read(fn.role)
            self.queue.grant_send_messages(fn.role)
        self.function.role.add_to_principal_policy(  # this function only, no version wildcard
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[self.image_function.function.function_arn],
            )
        )

        self.writer = StewardFunction(
            self,
            "Writer",
            source="log_writer",
            description="Steward log writer: queue batches to Parquet",
            layers=[layers.steward, layers.core, layers.numpy, layers.arrow],
            environment={"STEWARD_LOGS_BUCKET": self.logs.bucket_name},
            memory_size=1024,
            timeout=WRITER_TIMEOUT,
        )
        self.writer.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[
                    self.logs.arn_for_objects("predictions/*"),
                    self.logs.arn_for_objects("feedback/*"),
                ],
            )
        )
        for prefix in ("predictions", "feedback"):
            acknowledge(
                self.writer.role,
                f"AwsSolutions-IAM5[Resource::{arn_token(self.logs)}/{prefix}/*]",
                "The writer puts new Parquet files under its own prefix only.",
            )
        self.writer.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=WRITER_BATCH,
                max_batching_window=WRITER_WINDOW,
                report_batch_item_failures=True,
            )
        )
        acknowledge(
            self.writer.function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event sources take no on-failure destination: the queue's redrive policy moves "
            f"a message to the DLQ after {MAX_RECEIVES} failed receives.",
        )
        self.alarms: list[cdk.aws_cloudwatch.Alarm] = [
            alarm_on_any(self, "ScoringErrors", self.function.function.metric_errors()),
            alarm_on_any(self, "ImageScoringErrors", self.image_function.function.metric_errors()),
            alarm_on_any(self, "WriterErrors", self.writer.function.metric_errors()),
            alarm_on_any(
                self,
                "DeadLetters",
                self.dead_letters.metric_approximate_number_of_messages_visible(),
            ),
        ]

    def grant_redrive(self, fn: StewardFunction) -> None:
        """Move dead letters back to the log queue: take them from the DLQ (receive, then
        delete once sent), put them on the queue; nothing else on either queue."""
        fn.add_environment("STEWARD_LOG_DLQ_URL", self.dead_letters.queue_url)
        fn.add_environment("STEWARD_LOG_QUEUE_URL", self.queue.queue_url)
        grantee = fn.role
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                resources=[self.dead_letters.queue_arn],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
        )
