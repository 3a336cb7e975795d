"""Build the services from settings: boto3 adapters, created once per cold start.

Every service module is imported where its builder runs, so that importing this module costs
a function nothing it does not use (the audit archiver ships neither numpy nor pyarrow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.config import PerColdStart, Settings, settings
from steward.runtimes.skops_trust import trust_added

if TYPE_CHECKING:
    from steward.adapters.aws.iam import IamPrincipalTags
    from steward.adapters.aws.lambda_ import LambdaForwarder
    from steward.adapters.aws.s3 import S3ArtifactStore, S3PackStore
    from steward.drift.runs import DriftJobs
    from steward.drift.service import DriftService
    from steward.evidence.pack import EvidenceBuilder
    from steward.lifecycle.deploy import Deployer
    from steward.lifecycle.retrain import Retrainer
    from steward.ports.audit import AuditCopy
    from steward.ports.evidence import ManifestSigner
    from steward.ports.logs import DeadLetters
    from steward.ports.monitoring import DriftRuns, Schedules
    from steward.registry.service import Registry
    from steward.scoring.service import Scorer


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3)
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def reset() -> None:
    """Forget settings and services: the next call builds them again (a new cold start).
    A build another thread has under way is not kept (see :class:`PerColdStart`)."""
    for cached in (
        settings,
        registry,
        audit_copy,
        dead_letters,
        scorer,
        image_forwarder,
        principal_tags,
        log_store,
        drift,
        drift_jobs,
        scheduled_runs,
        deployer,
        retrainer,
        evidence,
        pack_store,
    ):
        cached.cache_clear()


@PerColdStart
def registry() -> Registry:
    from steward.adapters.aws.audit_trail import DynamoAuditLog
    from steward.adapters.aws.dynamodb import DynamoModelStore
    from steward.adapters.aws.s3 import S3ArtifactStore
    from steward.adapters.aws.stepfunctions import StepFunctionsEngine
    from steward.registry.service import Registry

    cfg: Settings = settings()
    trust_added(cfg.skops_trusted)
    dynamodb = _client("dynamodb")
    return Registry(
        store=DynamoModelStore(dynamodb, cfg.need("registry_table")),
        artifacts=S3ArtifactStore(_client("s3"), cfg.need("artifacts_bucket")),
        audit=DynamoAuditLog(dynamodb, cfg.need("audit_table")),
        workflows=StepFunctionsEngine(
            _client("stepfunctions"),
            cfg.approval_state_machine_arn or "",
            cfg.retrain_state_machine_arn or "",
        ),
        max_artifact_bytes=cfg.max_artifact_bytes,
        schedules=schedules(cfg),
        audit_copy=audit_copy() if cfg.audit_copy_bucket else None,
    )


@PerColdStart
def audit_copy() -> AuditCopy:
    from steward.adapters.aws.s3 import S3AuditCopy

    return S3AuditCopy(_client("s3"), settings().need("audit_copy_bucket"))


@PerColdStart
def dead_letters() -> DeadLetters:
    from steward.adapters.aws.sqs import SqsDeadLetters

    cfg = settings()
    return SqsDeadLetters(_client("sqs"), cfg.need("log_dlq_url"), cfg.need("log_queue_url"))


def schedules(cfg: Settings) -> Schedules | None:
    """The per-model drift schedules, where the stack defines them (the API function)."""
    if not cfg.drift_schedule_group:
        return None
    from steward.adapters.aws.events import EventBridgeSchedules

    return EventBridgeSchedules(
        _client("scheduler"),
        cfg.drift_schedule_group,
        target_arn=cfg.need("drift_start_queue_arn"),
        role_arn=cfg.need("drift_scheduler_role_arn"),
        dead_letter_arn=cfg.need("drift_schedule_dlq_arn"),
    )


@PerColdStart
def scorer() -> Scorer:
    from steward.adapters.aws.dynamodb import DynamoModelStore
    from steward.adapters.aws.s3 import S3ArtifactStore
    from steward.adapters.aws.sqs import SqsLogSink
    from steward.scoring.service import Scorer

    cfg = settings()
    trust_added(cfg.skops_trusted)
    return Scorer(
        store=DynamoModelStore(_client("dynamodb"), cfg.need("registry_table")),
        artifacts=S3ArtifactStore(_client("s3"), cfg.need("artifacts_bucket")),
        sink=SqsLogSink(_client("sqs"), cfg.need("log_queue_url")),
    )


@PerColdStart
def principal_tags() -> IamPrincipalTags:
    """The IAM tags of callers, for the role mapping's tag rules."""
    from steward.adapters.aws.iam import IamPrincipalTags

    return IamPrincipalTags(_client("iam"))


@PerColdStart
def image_forwarder() -> LambdaForwarder | None:
    """The scoring image function, when this function forwards heavy flavors to one."""
    name = settings().image_scoring_function
    if not name:
        return None
    from steward.adapters.aws.lambda_ import LambdaForwarder

    return LambdaForwarder(_client("lambda"), name)


@PerColdStart
def log_store() -> S3ArtifactStore:
    from steward.adapters.aws.s3 import S3ArtifactStore

    return S3ArtifactStore(_client("s3"), settings().need("logs_bucket"))


@PerColdStart
def drift() -> DriftService:
    from steward.adapters.aws.audit_trail import DynamoAuditLog
    from steward.adapters.aws.dynamodb import DynamoModelStore
    from steward.adapters.aws.events import EventBridgeBus
    from steward.adapters.aws.reports import S3DynamoReportStore
    from steward.adapters.aws.s3 import S3ArtifactStore, S3LogFiles
    from steward.drift.service import DriftService

    cfg = settings()
    dynamodb, s3 = _client("dynamodb"), _client("s3")
    return DriftService(
        store=DynamoModelStore(dynamodb, cfg.need("registry_table")),
        logs=S3LogFiles(s3, cfg.need("logs_bucket")),
        reports=S3DynamoReportStore(
            s3, cfg.need("reports_bucket"), dynamodb, cfg.need("registry_table")
        ),
        events=EventBridgeBus(_client("events"), cfg.event_bus),
        audit=DynamoAuditLog(dynamodb, cfg.need("audit_table")),
        artifacts=S3ArtifactStore(s3, cfg.need("artifacts_bucket")),
        batch_rows=cfg.drift_batch_rows,
        batch_bytes=cfg.drift_batch_bytes,
    )


@PerColdStart
def drift_jobs() -> DriftJobs:
    from steward.adapters.aws.s3 import S3RunStore
    from steward.adapters.aws.stepfunctions import StepFunctionsDriftRuns
    from steward.drift.runs import DriftJobs

    cfg = settings()
    arn = cfg.drift_state_machine_arn
    return DriftJobs(
        drift(),
        S3RunStore(_client("s3"), cfg.need("reports_bucket")),
        StepFunctionsDriftRuns(_client("stepfunctions"), arn) if arn else None,
    )


@PerColdStart
def scheduled_runs() -> DriftRuns:
    """The drift starter's one service: start a run per firing of a model's schedule."""
    from steward.adapters.aws.stepfunctions import StepFunctionsDriftRuns

    return StepFunctionsDriftRuns(
        _client("stepfunctions"), settings().need("drift_state_machine_arn")
    )


@PerColdStart
def deployer() -> Deployer:
    from steward.adapters.aws.s3 import S3LogFiles
    from steward.adapters.aws.sns import SnsNotifier
    from steward.lifecycle.deploy import Deployer

    cfg = settings()
    return Deployer(
        registry(),
        S3LogFiles(_client("s3"), cfg.logs_bucket or ""),
        SnsNotifier(_client("sns"), cfg.need("topic_arn")),
    )


@PerColdStart
def retrainer() -> Retrainer:
    from steward.adapters.aws.s3 import S3LogFiles
    from steward.lifecycle.retrain import Retrainer

    logs = S3LogFiles(_client("s3"), settings().need("logs_bucket"))
    return Retrainer(registry(), logs, trainer_cache=settings().trainer_cache)


@PerColdStart
def evidence() -> EvidenceBuilder:
    from steward.adapters.aws.reports import S3DynamoReportStore
    from steward.evidence.pack import EvidenceBuilder

    cfg = settings()
    signer: ManifestSigner | None = None
    if cfg.evidence_kms_key_arn:
        from steward.adapters.aws.kms import KmsSigner

        signer = KmsSigner(_client("kms"), cfg.evidence_kms_key_arn)
    elif cfg.evidence_key_file:
        from steward.adapters.keyfile import Ed25519KeyFile

        signer = Ed25519KeyFile(cfg.evidence_key_file)
    reports = S3DynamoReportStore(
        _client("s3"), cfg.need("reports_bucket"), _client("dynamodb"), cfg.need("registry_table")
    )
    return EvidenceBuilder(registry(), reports, signer=signer)


@PerColdStart
def pack_store() -> S3PackStore:
    from steward.adapters.aws.s3 import S3PackStore

    return S3PackStore(_client("s3"), settings().need("reports_bucket"))
