"""Approvals: the workflow's validation of a version, its gates' verdict, the human
decision (task token kept until someone decides), expiry and failure."""

from __future__ import annotations

import logging
from typing import Any, Literal

from steward.domain.errors import Conflict, IntegrityError, ValidationFailed
from steward.domain.frames import columns_from_records
from steward.domain.identity import Identity
from steward.domain.models import Approval, ModelVersion, Page, Status, Task, Validation
from steward.domain.profile import build_profile
from steward.domain.status import Action, check_decision
from steward.registry.core import RegistryCore, prediction_column
from steward.registry.requests import Decision
from steward.runtimes.loader import ValidationResult, validate_artifact

logger = logging.getLogger(__name__)
POLICY_ACTOR = "steward-policy"


class Approvals(RegistryCore):
    """Validation, gates' verdicts and decisions on a version."""

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
            holdout, calibration = self.holdout_metrics(version, result)
            if holdout:
                checks["holdout"] = "scored the labelled holdout rows"
            if calibration is not None:
                checks["calibration"] = _calibration_check(calibration)
            profile = version.profile
            if reference is not None and (profile or {}).get("prediction") is None:
                profile = build_profile(reference, prediction_column(result)).model_dump(
                    mode="json"
                )
        except (ValidationFailed, IntegrityError) as exc:
            checks["failure"] = exc.message
            validation = Validation(ok=False, checks=checks, at=self.clock())
            return self._settle(
                version, Action.FAIL_VALIDATION, actor, validation, reason=exc.message
            )
        validation = Validation(
            ok=True,
            checks=checks,
            at=self.clock(),
            holdout_metrics=holdout,
            calibration=calibration,
        )
        if hold:
            held = version.model_copy(
                update={"validation": validation, "profile": profile, "updated_at": self.clock()}
            )
            self.store.save_version(held, version.status)
            self._audit(name, actor, "version.checked", f"{name}/{number}", after=checks)
            return validation
        return self._settle(version, Action.PASS_VALIDATION, actor, validation, profile=profile)

    def holdout_metrics(
        self, version: ModelVersion, result: ValidationResult
    ) -> tuple[dict[str, float], dict[str, Any] | None]:
        """Performance on the labelled holdout sample, if one was registered, and a binary
        classifier's score calibration on it (what CBPE estimates label-free performance
        from: :mod:`steward.stats.cbpe`)."""
        rows, labels = self.holdout(version)
        if not rows or not labels:
            return {}, None
        try:
            prediction = result.runtime.predict(columns_from_records(rows, version.signature))
        except ValidationFailed:
            raise
        except Exception:  # as for the reference rows: the artifact is at fault
            raise ValidationFailed("the model failed to score the holdout rows") from None
        from steward.stats.performance import calibration, holdout

        regression = version.task is Task.REGRESSION
        measured = holdout(
            regression,
            labels,
            prediction.values,
            prediction.scores,
            prediction.probabilities,
            prediction.classes,
        )
        if regression or prediction.scores is None or prediction.multiclass:
            return measured, None
        return measured, calibration(labels, prediction.values, prediction.scores)

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
            if self.store.take_task_token(name, number) is None:
                return None  # the decider (or an archive) took the token: it resumes us
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

    def pending_approvals(self, limit: int = 50, token: str | None = None) -> Page[ModelVersion]:
        return self.store.versions_by_status(Status.PENDING_APPROVAL, limit, token)


def _decision_output(version: ModelVersion) -> dict[str, Any]:
    last = version.approvals[-1]
    return {"decision": last.decision, "actor": last.actor, "status": version.status.value}


def _calibration_check(record: dict[str, Any]) -> str:
    check = record["check"]
    raw = "n/a" if check["ece_raw"] is None else f"{check['ece_raw']:.4f}"
    kept = "isotonic kept" if record["method"] == "isotonic" else "raw score kept"
    return (
        f"{kept}: held-out ECE {check['ece']:.4f} calibrated vs {raw} raw "
        f"({check['folds']} folds, {len(record['probabilities'])} blocks)"
    )
