"""What every room of the registry shares: the ports, the clock, the audit trail, the
guarded transitions of a version and the audited updates of a model, and the reads of
models, versions and their stored artifact and samples.

The service talks to storage only through the ports, so the same code runs on DynamoDB/S3/
Step Functions in AWS, on the local emulator, and on in-memory fakes in unit tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from steward.domain.audit import ChainReport, compare_with_copy, verify_chain
from steward.domain.errors import NotFound
from steward.domain.inventory import ModelFilter
from steward.domain.models import Model, ModelVersion, Page, RetrainState
from steward.domain.status import Action, next_status
from steward.ports import ArtifactStore, AuditLog, ModelStore, WorkflowEngine
from steward.ports.audit import AuditCopy
from steward.ports.monitoring import Schedules
from steward.registry.integrity import fetch_verified
from steward.registry.tabular import decode_sample
from steward.runtimes.loader import ValidationResult
from steward.stats.performance import class_key

Clock = Callable[[], datetime]
REFERENCE_FILE = "reference.jsonl.gz"
HOLDOUT_FILE = "holdout.jsonl.gz"
# How long an audit event may take to reach the write-once copy (stream delivery and the
# archiver's retries) before its absence there is reported.
COPY_GRACE = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RegistryCore:
    """The ports and the audited writes every room of the registry builds on."""

    def __init__(
        self,
        store: ModelStore,
        artifacts: ArtifactStore,
        audit: AuditLog,
        workflows: WorkflowEngine,
        *,
        clock: Clock = utcnow,
        max_artifact_bytes: int = 5 * 1024 * 1024,
        schedules: Schedules | None = None,
        audit_copy: AuditCopy | None = None,
    ) -> None:
        self.schedules = schedules
        self.audit_copy = audit_copy
        self.store = store
        self.artifacts = artifacts
        self.audit_log = audit
        self.workflows = workflows
        self.clock = clock
        self.max_artifact_bytes = max_artifact_bytes

    def _audit(
        self,
        stream: str,
        actor: str,
        action: str,
        target: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str = "",
    ) -> None:
        self.audit_log.append(
            stream=stream,
            actor=actor,
            action=action,
            target=target,
            clock=self.clock,
            before=before,
            after=after,
            reason=reason,
        )

    def record(
        self,
        name: str,
        action: str,
        target: str,
        reason: str = "",
        after: dict[str, Any] | None = None,
        actor: str = "workflow",
    ) -> None:
        """Audit a workflow step that changes no record (gates, canary analysis)."""
        self._audit(name, actor, action, target, after=after, reason=reason)

    def transition(
        self, version: ModelVersion, action: Action, actor: str, reason: str = "", **changes: Any
    ) -> ModelVersion:
        target = next_status(version.status, action)
        updated = version.model_copy(
            update={"status": target, "updated_at": self.clock(), **changes}
        )
        self.store.save_version(updated, version.status)
        self._audit(
            version.name,
            actor,
            f"version.{target.value.lower()}",
            f"{version.name}/{version.version}",
            before={"status": version.status.value},
            after={"status": target.value},
            reason=reason,
        )
        return updated

    def _update_model(
        self,
        model: Model,
        actor: str,
        action: str,
        before: dict[str, Any],
        reason: str,
        **changes: Any,
    ) -> Model:
        updated = model.model_copy(update={**changes, "updated_at": self.clock()})
        saved = self.store.save_model(updated, model.rev)
        after = {k: as_json(v) for k, v in changes.items()}
        self._audit(
            model.name, actor, action, model.name, before=before, after=after, reason=reason
        )
        return saved

    def set_retraining(self, model: Model, state: RetrainState, reason: str) -> Model:
        """Take or release the model's retrain lease; :class:`Conflict` if the model changed
        since ``model`` was read (a concurrent retrain took it first)."""
        return self._update_model(
            model,
            "workflow",
            "retrain.started" if state.running else f"retrain.{state.outcome or 'ended'}",
            {"retraining": model.retraining.model_dump(mode="json") if model.retraining else None},
            reason,
            retraining=state,
        )

    def verify_audit(self, name: str) -> ChainReport:
        """Verify the chain and, where there is one, compare the table with the write-once
        copy: cut-off, deleted and rewritten events are reported at once."""
        events = self.audit_log.all_events(name)
        if self.audit_copy is None:
            return verify_chain(name, events)
        return compare_with_copy(
            name, events, self.audit_copy.digests(name), now=self.clock(), grace=COPY_GRACE
        )

    def verify_all(self) -> list[ChainReport]:
        """Every stream of the table or of the copy (a stream deleted whole is one too)."""
        streams = set(self.audit_log.streams())
        if self.audit_copy is not None:
            streams |= set(self.audit_copy.streams())
        return [self.verify_audit(stream) for stream in sorted(streams)]

    def get_model(self, name: str) -> Model:
        return self.store.get_model(name)

    def list_models(
        self, limit: int = 50, token: str | None = None, where: ModelFilter | None = None
    ) -> Page[Model]:
        return self.store.list_models(limit, token, where)

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self.store.get_version(name, version)

    def list_versions(
        self, name: str, limit: int = 50, token: str | None = None
    ) -> Page[ModelVersion]:
        return self.store.list_versions(name, limit, token)

    def load_artifact(self, version: ModelVersion) -> bytes:
        """The artifact bytes, refused unless they still hash to the registered sha256."""
        return fetch_verified(self.artifacts, version)

    def _sample(
        self, version: ModelVersion, file: str
    ) -> tuple[list[dict[str, Any]], list[Any] | None]:
        uri = f"{version.artifact.uri.rsplit('/', 1)[0]}/{file}"
        try:
            return decode_sample(self.artifacts.get(uri))
        except NotFound:
            return [], None

    def reference_rows(self, version: ModelVersion) -> list[dict[str, Any]]:
        return self._sample(version, REFERENCE_FILE)[0]

    def holdout(self, version: ModelVersion) -> tuple[list[dict[str, Any]], list[Any] | None]:
        """The labelled rows given at registration for the gates (empty if none)."""
        return self._sample(version, HOLDOUT_FILE)


def prediction_column(result: ValidationResult) -> Any:
    """What the reference profile's prediction distribution is made of: the score (binary
    probability, points) when there is one, else the output; for a multiclass model the
    predicted class (its top probability says little about which classes it chooses), spelled
    as the log reader spells classes."""
    if result.prediction is None:
        return None
    prediction = result.prediction
    if prediction.multiclass:
        return np.array([class_key(v) for v in prediction.values.tolist()], dtype=object)
    return prediction.scores if prediction.scores is not None else prediction.values


def as_json(value: Any) -> Any:
    """A record's field as the audit stores it."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
