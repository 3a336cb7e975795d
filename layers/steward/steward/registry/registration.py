"""Registration: creating and updating models, registering a version (artifact, reference
and holdout samples staged, the record written, the approval workflow started)."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from typing import Any

from steward.domain.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    RuntimeUnavailable,
    ValidationFailed,
)
from steward.domain.frames import columns_from_records, infer_signature
from steward.domain.identity import Identity, Role
from steward.domain.inventory import ModelFilter, ScheduleRefresh
from steward.domain.models import (
    Artifact,
    DeploymentPolicy,
    Lineage,
    Model,
    ModelSpec,
    ModelVersion,
    Status,
    Task,
    Validation,
)
from steward.domain.profile import build_profile
from steward.domain.separation import DEFAULT_RISK, check_policy_change
from steward.explain.profile import attribution_profile
from steward.registry.core import (
    HOLDOUT_FILE,
    REFERENCE_FILE,
    RegistryCore,
    as_json,
    prediction_column,
    sha256_hex,
)
from steward.registry.requests import ModelUpdate, RegisterVersion
from steward.registry.skops_audit import record_skops_trusted
from steward.registry.tabular import encode_sample, rows_of
from steward.retry import on_conflict
from steward.runtimes.loader import validate_artifact
from steward.runtimes.safety import refuse_pickle

logger = logging.getLogger(__name__)
EXTENSIONS = {"onnx": "onnx", "sklearn": "skops"}
REFERENCE_SAMPLE = 5_000
DEFERRED = "deferred: this function has no runtime for the flavor; the approval workflow validates"


class Registration(RegistryCore):
    """Creating and updating models; registering versions."""

    def create_model(self, spec: ModelSpec, caller: Identity) -> Model:
        caller.require(Role.DATA_SCIENTIST)
        check_policy_change(
            caller, DEFAULT_RISK, DeploymentPolicy(), spec.risk_tier, spec.deployment
        )
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
        """Change the risk tier or replace policies (audited, loosening only by an approver);
        the drift schedule follows the monitoring policy."""
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        fields = ("risk_tier", "monitoring", "deployment", "retrain", "value", "explain")
        changes = {f: getattr(update, f) for f in fields if getattr(update, f) is not None}
        if "value" in changes and model.task is not Task.CLASSIFICATION:
            raise ValidationFailed("a value matrix needs a classification model")
        check_policy_change(
            caller,
            model.risk_tier,
            model.deployment,
            changes.get("risk_tier", model.risk_tier),
            changes.get("deployment", model.deployment),
        )
        before = {f: as_json(getattr(model, f)) for f in changes}
        saved = self._update_model(
            model, caller.user, "model.updated", before, update.reason, **changes
        )
        if self.schedules is not None and self.schedules.get(name) != saved.monitoring.schedule:
            self.schedules.put(name, saved.monitoring.schedule)
        return saved

    def refresh_schedules(self, limit: int, token: str | None, caller: Identity) -> ScheduleRefresh:
        """Put the drift schedule of up to ``limit`` models (name order, after ``token``)
        again, as creating them did. Schedules keep the target they were created with: a
        deployment that moves the target (from the drift function to the start queue, issue
        20) leaves older models' schedules on the old one until they are put again.
        Idempotent (a put is an upsert); one audit event a call, in the ``admin`` stream."""
        caller.require(Role.ADMIN)
        page = self.store.list_models(limit, token, ModelFilter())
        done = ScheduleRefresh(examined=len(page.items), next_token=page.next_token)
        if self.schedules is None:
            return done
        for model in page.items:
            self.schedules.put(model.name, model.monitoring.schedule)
            done.refreshed += 1
        if done.refreshed:
            first, last = page.items[0].name, page.items[-1].name
            self._audit(
                "admin",
                caller.user,
                "schedules.refreshed",
                f"{first}..{last}",
                after={"refreshed": done.refreshed},
            )
        return done

    def _checked_artifact(self, request: RegisterVersion) -> tuple[bytes, str]:
        """The artifact's bytes and sha256, refused when the digest the caller gave does
        not match or when the bytes are a pickle."""
        data = self._artifact_bytes(request)
        digest = sha256_hex(data)
        if request.sha256 is not None and request.sha256 != digest:
            raise ValidationFailed("sha256 does not match the artifact's content")
        refuse_pickle(data)
        return data, digest

    def _holdout(
        self, request: RegisterVersion
    ) -> tuple[list[dict[str, Any]], list[Any] | None] | None:
        """The holdout rows and labels, when the request carries them."""
        if request.holdout_data is None:
            return None
        return rows_of(request.holdout_data, self.artifacts), request.holdout_data.labels

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
        data, digest = self._checked_artifact(request)
        record_skops_trusted(self.audit_log, self.clock, request.flavor)
        if request.parent_version is not None:
            self.store.get_version(name, request.parent_version)

        rows = rows_of(request.reference_data, self.artifacts) if request.reference_data else []
        signature = request.signature or (infer_signature(rows) if rows else None)
        if signature is None:
            raise ValidationFailed("give a signature, or reference_data to infer one from")
        reference = columns_from_records(rows, signature) if rows else None
        try:
            result = validate_artifact(request.flavor, data, signature, model.task, reference)
            checks, predictions = result.checks, prediction_column(result)
            attributions = attribution_profile(result.runtime, reference)
        except RuntimeUnavailable:
            checks, predictions, attributions = {"loads": DEFERRED}, None, None
        profile = None
        if reference is not None:
            profile = build_profile(reference, predictions).model_dump(mode="json")

        holdout = self._holdout(request)

        # Stage once, then race only for the number: a loser's retry is a read and a
        # conditional write, not another upload, so twenty concurrent registrations
        # settle in a few round trips each even on a loaded machine.
        staged: list[str] = []
        try:
            artifact = self._stage(model, request, data, digest, rows, holdout, staged)
        except Exception:
            self._withdraw(staged)
            raise

        def attempt(_: int) -> ModelVersion:
            number = self.store.get_model(name).latest_version + 1
            version = self._record(model, number, request, artifact, signature, caller)
            version.profile = profile
            version.attribution_profile = attributions
            version.validation = Validation(ok=True, checks=checks, at=self.clock())
            version.execution_arn = self.workflows.approval_id(name, number)
            try:
                self.store.add_version(version)
            except Conflict:
                raise  # a concurrent registration took the number: take the next one
            except Exception:
                # A write whose answer was lost may have landed: read it back, and go on
                # if it did; withdraw what no record references; when that cannot be
                # known, withdraw nothing (a record without its artifact is a loss).
                landed = self._landed(name, number, staged)
                if landed:
                    return version
                if landed is False:
                    self._withdraw(staged)
                raise
            return version

        try:
            version = on_conflict(attempt, f"registering a version of {name}")
        except Conflict:
            self._withdraw(staged)
            raise

        self._audit(
            name,
            caller.user,
            "version.registered",
            f"{name}/{version.version}",
            after={"status": version.status.value, "sha256": digest, "flavor": request.flavor},
        )
        self.workflows.start_approval(name, version.version)
        return version

    def _stage(
        self,
        model: Model,
        request: RegisterVersion,
        data: bytes,
        digest: str,
        rows: list[dict[str, Any]],
        holdout: tuple[list[dict[str, Any]], list[Any] | None] | None,
        staged: list[str],
    ) -> Artifact:
        """Upload the artifact (and reference/holdout samples), appending each object's URI
        to ``staged`` as it lands.

        Each registration writes under a folder of its own (``models/<name>/<upload id>/``),
        so a registration that fails never shares a key with another's objects and can be
        withdrawn without touching them; the version record names the folder.
        """
        prefix = f"models/{model.name}/{uuid.uuid4().hex[:12]}"
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
        return Artifact(uri=uri, sha256=digest, size=len(data), s3_version_id=version_id)

    def _record(
        self,
        model: Model,
        number: int,
        request: RegisterVersion,
        artifact: Artifact,
        signature: Any,
        caller: Identity,
    ) -> ModelVersion:
        """The record of version ``number`` over the staged ``artifact``."""
        now = self.clock()
        return ModelVersion(
            name=model.name,
            version=number,
            status=Status.REGISTERED,
            flavor=request.flavor,
            task=model.task,
            sha256=artifact.sha256,
            artifact=artifact,
            signature=signature,
            metrics=request.metrics,
            lineage=Lineage(
                parent_version=request.parent_version,
                code_ref=request.code_ref,
                trainer_run=request.trainer_run,
                trainer_sha256=request.trainer_sha256,
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
