"""Registry and governance: every rule about models, versions, approvals and aliases.

The service talks to storage only through the ports, so the same code runs on DynamoDB/S3/
Step Functions in AWS, on the local emulator, and on in-memory fakes in unit tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from steward.domain.audit import ChainReport, verify_chain
from steward.domain.errors import (
    BadRequest,
    Conflict,
    IntegrityError,
    NotFound,
    PayloadTooLarge,
    RuntimeUnavailable,
    ValidationFailed,
)
from steward.domain.frames import columns_from_records, infer_signature
from steward.domain.identity import Identity, Role
from steward.domain.models import (
    PRODUCTION,
    Approval,
    Artifact,
    Lineage,
    Model,
    ModelSpec,
    ModelVersion,
    Page,
    RetrainState,
    Status,
    Task,
    TrafficPolicy,
    Validation,
)
from steward.domain.profile import build_profile
from steward.domain.status import Action, check_decision, check_deployable, next_status
from steward.ports import ArtifactStore, AuditLog, ModelStore, WorkflowEngine
from steward.ports.monitoring import Schedules
from steward.registry.integrity import fetch_verified
from steward.registry.requests import Decision, ModelUpdate, RegisterVersion
from steward.registry.tabular import decode_sample, encode_sample, rows_of
from steward.retry import on_conflict
from steward.runtimes.loader import ValidationResult, validate_artifact
from steward.runtimes.safety import refuse_pickle

Clock = Callable[[], datetime]
logger = logging.getLogger(__name__)
EXTENSIONS = {"onnx": "onnx", "sklearn": "skops"}
REFERENCE_SAMPLE = 5_000
REFERENCE_FILE = "reference.jsonl.gz"
HOLDOUT_FILE = "holdout.jsonl.gz"
POLICY_ACTOR = "steward-policy"
DEFERRED = "deferred: this function has no runtime for the flavor; the approval workflow validates"


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Registry:
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
    ) -> None:
        self.schedules = schedules
        self.store = store
        self.artifacts = artifacts
        self.audit_log = audit
        self.workflows = workflows
        self.clock = clock
        self.max_artifact_bytes = max_artifact_bytes

    # -- audit ---------------------------------------------------------------------------

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
        """Verify the chain, and that it still holds the last checkpointed event (so that
        cutting off the newest events is detected too)."""
        return verify_chain(
            name, self.audit_log.all_events(name), self.store.audit_checkpoint(name)
        )

    def verify_all(self, checkpoint: bool = False) -> list[ChainReport]:
        """Verify every stream; with ``checkpoint``, remember the head of each sound one."""
        reports = []
        for stream in self.audit_log.streams():
            report = self.verify_audit(stream)
            head = self.audit_log.head(stream)
            if checkpoint and report.ok and head is not None:
                self.store.put_audit_checkpoint(stream, head.seq, head.hash)
            reports.append(report)
        return reports

    # -- models --------------------------------------------------------------------------

    def create_model(self, spec: ModelSpec, caller: Identity) -> Model:
        caller.require(Role.DATA_SCIENTIST)
        now = self.clock()
        spec = spec.model_copy(update={"owner": spec.owner or caller.user})
        model = Model(**spec.model_dump(), created_by=caller.user, created_at=now, updated_at=now)
        self.store.create_model(model)
        self._audit(
            spec.name, caller.user, "model.created", spec.name, after=spec.model_dump(mode="json")
        )
        if self.schedules is not None:
            self.schedules.put(spec.name, spec.monitoring.schedule)
        return model

    def update_model(self, name: str, update: ModelUpdate, caller: Identity) -> Model:
        """Replace policies (audited); the drift schedule follows the monitoring policy."""
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        fields = ("monitoring", "deployment", "retrain")
        changes = {f: getattr(update, f) for f in fields if getattr(update, f) is not None}
        before = {f: getattr(model, f).model_dump(mode="json") for f in changes}
        saved = self._update_model(
            model, caller.user, "model.updated", before, update.reason, **changes
        )
        if self.schedules is not None and self.schedules.get(name) != saved.monitoring.schedule:
            self.schedules.put(name, saved.monitoring.schedule)
        return saved

    def get_model(self, name: str) -> Model:
        return self.store.get_model(name)

    def list_models(self, limit: int = 50, token: str | None = None) -> Page[Model]:
        return self.store.list_models(limit, token)

    # -- versions ------------------------------------------------------------------------

    def _artifact_bytes(self, request: RegisterVersion) -> bytes:
        if request.artifact_b64 is not None:
            if len(request.artifact_b64) > self.max_artifact_bytes * 4 // 3 + 4:
                raise PayloadTooLarge(
                    f"artifact over {self.max_artifact_bytes} bytes: upload it to S3 and "
                    "pass artifact_uri"
                )
            try:
                return base64.b64decode(request.artifact_b64, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed("artifact_b64 is not valid base64") from None
        assert request.artifact_uri is not None
        return self.artifacts.get(request.artifact_uri)

    def register_version(
        self, name: str, request: RegisterVersion, caller: Identity
    ) -> ModelVersion:
        caller.require(Role.DATA_SCIENTIST)
        model = self.store.get_model(name)
        data = self._artifact_bytes(request)
        digest = sha256_hex(data)
        if request.sha256 is not None and request.sha256 != digest:
            raise ValidationFailed("sha256 does not match the artifact's content")
        refuse_pickle(data)
        if request.parent_version is not None:
            self.store.get_version(name, request.parent_version)

        rows = rows_of(request.reference_data, self.artifacts) if request.reference_data else []
        signature = request.signature or (infer_signature(rows) if rows else None)
        if signature is None:
            raise ValidationFailed("give a signature, or reference_data to infer one from")
        reference = columns_from_records(rows, signature) if rows else None
        try:
            result = validate_artifact(request.flavor, data, signature, model.task, reference)
            checks, predictions = result.checks, _prediction_column(result)
        except RuntimeUnavailable:
            checks, predictions = {"loads": DEFERRED}, None
        profile = None
        if reference is not None:
            profile = build_profile(reference, predictions).model_dump(mode="json")

        holdout = None
        if request.holdout_data is not None:
            holdout_rows = rows_of(request.holdout_data, self.artifacts)
            holdout = (holdout_rows, request.holdout_data.labels)

        def attempt(_: int) -> ModelVersion:
            number = self.store.get_model(name).latest_version + 1
            staged: list[str] = []
            try:
                version = self._stage_version(
                    model, number, request, data, digest, signature, rows, holdout, caller, staged
                )
                version.profile = profile
                version.validation = Validation(ok=True, checks=checks, at=self.clock())
                version.execution_arn = self.workflows.approval_id(name, number)
                self.store.add_version(version)
                return version
            except Conflict:
                # A concurrent registration took the number: take the next one.
                self._withdraw(staged)
                raise
            except Exception:
                # Record and artifact, or neither. A write whose answer was lost may have
                # landed: read it back, and go on if it did; withdraw what no record
                # references; when that cannot be known, withdraw nothing.
                landed = self._landed(name, number, staged)
                if landed:
                    return version
                if landed is False:
                    self._withdraw(staged)
                raise

        version = on_conflict(attempt, f"registering a version of {name}")

        self._audit(
            name,
            caller.user,
            "version.registered",
            f"{name}/{version.version}",
            after={"status": version.status.value, "sha256": digest, "flavor": request.flavor},
        )
        self.workflows.start_approval(name, version.version)
        return version

    def _stage_version(
        self,
        model: Model,
        number: int,
        request: RegisterVersion,
        data: bytes,
        digest: str,
        signature: Any,
        rows: list[dict[str, Any]],
        holdout: tuple[list[dict[str, Any]], list[Any] | None] | None,
        caller: Identity,
        staged: list[str],
    ) -> ModelVersion:
        """Upload the artifact (and reference/holdout samples) for version ``number``,
        appending each object's URI to ``staged`` as it lands.

        Each attempt writes under a folder of its own (``models/<name>/<number>/<attempt>/``),
        so an attempt that loses its number, or fails, never shares a key with the winner's
        objects and can be withdrawn without touching them.
        """
        prefix = f"models/{model.name}/{number}/{uuid.uuid4().hex[:12]}"
        ext = EXTENSIONS.get(request.flavor.value, "json")
        uri, version_id = self.artifacts.put(f"{prefix}/model.{ext}", data)
        staged.append(uri)
        if rows:
            sample = encode_sample(rows[:REFERENCE_SAMPLE])
            staged.append(self.artifacts.put(f"{prefix}/{REFERENCE_FILE}", sample)[0])
        if holdout is not None:
            staged.append(
                self.artifacts.put(f"{prefix}/{HOLDOUT_FILE}", encode_sample(*holdout))[0]
            )
        now = self.clock()
        return ModelVersion(
            name=model.name,
            version=number,
            status=Status.REGISTERED,
            flavor=request.flavor,
            task=model.task,
            sha256=digest,
            artifact=Artifact(uri=uri, sha256=digest, size=len(data), s3_version_id=version_id),
            signature=signature,
            metrics=request.metrics,
            lineage=Lineage(
                parent_version=request.parent_version,
                code_ref=request.code_ref,
                trainer_run=request.trainer_run,
                trigger=request.trigger,
                training_data=request.training_data,
                data_window=request.data_window,
            ),
            created_by=caller.user,
            created_at=now,
            updated_at=now,
            description=request.description,
        )

    def _landed(self, name: str, number: int, staged: list[str]) -> bool | None:
        """Whether the version record that references the staged artifact exists: True,
        False, or None when the read fails too."""
        if not staged:
            return False
        try:
            return self.store.get_version(name, number).artifact.uri == staged[0]
        except NotFound:
            return False
        except Exception:
            logger.warning("could not check a failed registration", exc_info=True)
            return None

    def _withdraw(self, staged: list[str]) -> None:
        for uri in staged:
            try:
                self.artifacts.discard(uri)
            except Exception:  # unreferenced either way; the failure is logged
                logger.warning("could not withdraw %s", uri, exc_info=True)

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

    def holdout_metrics(self, version: ModelVersion, result: ValidationResult) -> dict[str, float]:
        """Performance on the labelled holdout sample, if one was registered."""
        rows, labels = self.holdout(version)
        if not rows or not labels:
            return {}
        try:
            prediction = result.runtime.predict(columns_from_records(rows, version.signature))
        except ValidationFailed:
            raise
        except Exception:  # as for the reference rows: the artifact is at fault
            raise ValidationFailed("the model failed to score the holdout rows") from None
        from steward.stats.performance import holdout

        regression = version.task is Task.REGRESSION
        return holdout(regression, labels, prediction.values, prediction.scores)

    # -- lifecycle -----------------------------------------------------------------------

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

    def validate(
        self, name: str, number: int, actor: str = "workflow", *, hold: bool = False
    ) -> Validation:
        """The workflow's first check: integrity, loads, scores the reference rows, matches
        the task. With ``hold``, a valid version stays VALIDATING until its gates are
        evaluated (:meth:`conclude_validation`), so no one can approve it before.

        Idempotent: a duplicate or retried run resumes a VALIDATING version that a
        dependency fault cut short (a held one keeps its result) and, if another run
        settles it first, returns that run's result; each transition is recorded once.
        """
        version = self.store.get_version(name, number)
        if version.status is Status.REGISTERED:
            try:
                version = self.transition(version, Action.START_VALIDATION, actor)
            except Conflict:  # a duplicate run started it first
                version = self.store.get_version(name, number)
        if version.status is not Status.VALIDATING:
            return version.validation or Validation(ok=version.status is not Status.REJECTED)
        if hold and version.validation is not None and "integrity" in version.validation.checks:
            return version.validation  # checked already, held for its gates
        checks: dict[str, str] = {}
        try:
            data = self.load_artifact(version)
            checks["integrity"] = "sha256 and S3 version verified"
            rows = self.reference_rows(version)
            reference = columns_from_records(rows, version.signature) if rows else None
            result = validate_artifact(
                version.flavor, data, version.signature, version.task, reference
            )
            checks.update(result.checks)
            holdout = self.holdout_metrics(version, result)
            if holdout:
                checks["holdout"] = "scored the labelled holdout rows"
            profile = version.profile
            if reference is not None and (profile or {}).get("prediction") is None:
                profile = build_profile(reference, _prediction_column(result)).model_dump(
                    mode="json"
                )
        except (ValidationFailed, IntegrityError) as exc:
            checks["failure"] = exc.message
            validation = Validation(ok=False, checks=checks, at=self.clock())
            return self._settle(
                version, Action.FAIL_VALIDATION, actor, validation, reason=exc.message
            )
        validation = Validation(ok=True, checks=checks, at=self.clock(), holdout_metrics=holdout)
        if hold:
            held = version.model_copy(
                update={"validation": validation, "profile": profile, "updated_at": self.clock()}
            )
            self.store.save_version(held, version.status)
            self._audit(name, actor, "version.checked", f"{name}/{number}", after=checks)
            return validation
        return self._settle(version, Action.PASS_VALIDATION, actor, validation, profile=profile)

    def _settle(
        self,
        version: ModelVersion,
        action: Action,
        actor: str,
        validation: Validation,
        reason: str = "",
        **changes: Any,
    ) -> Validation:
        try:
            self.transition(version, action, actor, reason, validation=validation, **changes)
        except Conflict:  # a duplicate run settled it first: its result stands
            settled = self.store.get_version(version.name, version.version)
            return settled.validation or Validation(ok=settled.status is not Status.REJECTED)
        return validation

    def conclude_validation(
        self,
        name: str,
        number: int,
        verdict: Literal["approve", "reject", "human"],
        reason: str,
        evidence: dict[str, Any],
    ) -> ModelVersion:
        """After the gates: reject, approve by policy, or open the approval to humans."""
        version = self.store.get_version(name, number)
        if version.status is not Status.VALIDATING:
            raise Conflict(f"version {number} is {version.status.value}, not validating")
        validation = (version.validation or Validation(ok=True)).model_copy(
            update={"gates": evidence, "ok": verdict != "reject"}
        )
        if verdict == "reject":
            validation.checks["gates"] = reason
            return self.transition(
                version, Action.FAIL_VALIDATION, POLICY_ACTOR, reason, validation=validation
            )
        version = self.transition(
            version, Action.PASS_VALIDATION, "workflow", validation=validation
        )
        if verdict == "approve":
            approval = Approval(
                actor=POLICY_ACTOR, decision="approve", comment=reason, at=self.clock()
            )
            version = self.transition(
                version, Action.APPROVE, POLICY_ACTOR, reason, approvals=[approval]
            )
        return version

    def await_decision(self, name: str, number: int, token: str) -> dict[str, Any] | None:
        """Keep the workflow's task token until a human decides.

        If the decision was recorded before the workflow reached this step, the decision
        is returned at once so the caller can resume the workflow itself.
        """
        version = self.store.get_version(name, number)
        if version.status is Status.PENDING_APPROVAL:
            self.store.put_task_token(name, number, token)
            self._audit(name, "workflow", "approval.requested", f"{name}/{number}")
            # The decision may have landed between the read and the write: check again.
            version = self.store.get_version(name, number)
            if version.status is Status.PENDING_APPROVAL:
                return None
            self.store.take_task_token(name, number)
        if version.status in (Status.APPROVED, Status.REJECTED) and version.approvals:
            return _decision_output(version)
        raise Conflict(f"version {number} is {version.status.value}: nothing to approve")

    def decide(self, name: str, number: int, decision: Decision, caller: Identity) -> ModelVersion:
        version = self.store.get_version(name, number)
        check_decision(version, caller)
        approval = Approval(
            actor=caller.user, decision=decision.decision, comment=decision.comment, at=self.clock()
        )
        action = Action.APPROVE if decision.decision == "approve" else Action.REJECT
        updated = self.transition(
            version,
            action,
            caller.user,
            decision.comment,
            approvals=[*version.approvals, approval],
        )
        token = self.store.take_task_token(name, number)
        if token is not None:
            try:
                self.workflows.resume(token, _decision_output(updated))
            except Exception:
                # The decision is recorded and stands; keep the token so that the waiting
                # workflow can still be resumed, rather than answer a failure for a decision
                # that was made (its retry would be a 409).
                logger.exception("could not resume the approval workflow of %s/%s", name, number)
                self.store.put_task_token(name, number, token)
        return updated

    def expire(self, name: str, number: int) -> None:
        version = self.store.get_version(name, number)
        self.store.take_task_token(name, number)
        if version.status is Status.PENDING_APPROVAL:
            self.transition(version, Action.EXPIRE, "workflow", "approval expired")

    def fail(self, name: str, number: int, reason: str) -> None:
        """The workflow failed: audit it, and reject a version stuck before approval."""
        version = self.store.get_version(name, number)
        self._audit(name, "workflow", "workflow.failed", f"{name}/{number}", reason=reason)
        if version.status in (Status.REGISTERED, Status.VALIDATING):
            self.transition(version, Action.FAIL_VALIDATION, "workflow", reason)

    def archive(self, name: str, number: int, caller: Identity, reason: str) -> ModelVersion:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        if number in model.aliases.values() or number in (
            model.traffic.champion,
            model.traffic.challenger,
        ):
            raise Conflict(f"version {number} is serving: move its aliases and traffic first")
        return self.transition(
            self.store.get_version(name, number), Action.ARCHIVE, caller.user, reason
        )

    def pending_approvals(self, limit: int = 50, token: str | None = None) -> Page[ModelVersion]:
        return self.store.versions_by_status(Status.PENDING_APPROVAL, limit, token)

    # -- aliases and traffic -------------------------------------------------------------

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
        after = {
            k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v)
            for k, v in changes.items()
        }
        self._audit(
            model.name, actor, action, model.name, before=before, after=after, reason=reason
        )
        return saved

    def set_alias(
        self, name: str, alias: str, number: int, caller: Identity, reason: str = ""
    ) -> Model:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        version = self.store.get_version(name, number)
        if alias == PRODUCTION:
            check_deployable(version, alias)
        elif version.status in (Status.REJECTED, Status.ARCHIVED):
            raise Conflict(f"version {number} is {version.status.value}")
        if _holds(model, alias, number):
            return model  # already so: nothing to change or audit
        previous = model.aliases.get(alias)
        aliases = {**model.aliases, alias: number}
        changes: dict[str, Any] = {"aliases": aliases}
        if alias == PRODUCTION:
            if previous is not None and previous != number:
                changes["production_history"] = [*model.production_history, previous]
            changes["traffic"] = TrafficPolicy(champion=number)
        try:
            return self._update_model(
                model, caller.user, "alias.set", {"aliases": model.aliases}, reason, **changes
            )
        except Conflict:
            # A concurrent change: fine if it made the same change (the workflow promoting
            # while a person deploys the same version), a 409 otherwise.
            current = self.store.get_model(name)
            if _holds(current, alias, number):
                return current
            raise

    def set_traffic(self, name: str, policy: TrafficPolicy, caller: Identity) -> Model:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        for number in (policy.champion, policy.challenger):
            if number is not None:
                check_deployable(self.store.get_version(name, number), "live traffic")
        if policy.champion is None:
            raise BadRequest("a traffic policy needs a champion")
        changes: dict[str, Any] = {"traffic": policy}
        if model.aliases.get(PRODUCTION) != policy.champion:
            changes["aliases"] = {**model.aliases, PRODUCTION: policy.champion}
            if PRODUCTION in model.aliases:
                changes["production_history"] = [
                    *model.production_history,
                    model.aliases[PRODUCTION],
                ]
        return self._update_model(
            model,
            caller.user,
            "traffic.set",
            {"traffic": model.traffic.model_dump(mode="json")},
            "",
            **changes,
        )

    def rollback(self, name: str, caller: Identity, reason: str) -> Model:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        history = list(model.production_history)
        while history:
            candidate = history.pop()
            version = self.store.get_version(name, candidate)
            if version.status is Status.APPROVED:
                return self._update_model(
                    model,
                    caller.user,
                    "production.rollback",
                    {"aliases": model.aliases},
                    reason,
                    aliases={**model.aliases, PRODUCTION: candidate},
                    production_history=history,
                    traffic=TrafficPolicy(champion=candidate),
                )
        raise Conflict(f"{name} has no previous approved production version")


def _holds(model: Model, alias: str, number: int) -> bool:
    """``alias`` already points at ``number`` (production: with no challenger)."""
    if model.aliases.get(alias) != number:
        return False
    return alias != PRODUCTION or model.traffic.challenger is None


def _prediction_column(result: ValidationResult) -> Any:
    if result.prediction is None:
        return None
    prediction = result.prediction
    return prediction.scores if prediction.scores is not None else prediction.values


def _decision_output(version: ModelVersion) -> dict[str, Any]:
    last = version.approvals[-1]
    return {"decision": last.decision, "actor": last.actor, "status": version.status.value}
