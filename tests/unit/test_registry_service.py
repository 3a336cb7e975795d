"""Registry rules on in-memory fakes: lifecycle, approvals, aliases, rollback, audit."""

from __future__ import annotations

import threading

import pytest

from steward.adapters.memory import MemoryArtifactStore, MemoryAuditLog
from steward.domain.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    IntegrityError,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec, Status, TrafficPolicy
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from tests.factories import model_spec, register_body


def _setup(registry: Registry, users: UserDirectory) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec()), users.identify("alice"))


def _register(registry: Registry, users: UserDirectory, **overrides: object) -> int:
    request = RegisterVersion.model_validate(register_body(**overrides))
    return registry.register_version("churn", request, users.identify("alice")).version


def _approved(registry: Registry, users: UserDirectory) -> int:
    number = _register(registry, users)
    assert registry.validate("churn", number).ok
    registry.decide(
        "churn", number, Decision(decision="approve", comment="ok"), users.identify("bob")
    )
    return number


def test_create_model_twice_conflicts(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    with pytest.raises(AlreadyExists):
        _setup(registry, users)


def test_only_data_scientists_create_and_register(registry: Registry, users: UserDirectory) -> None:
    with pytest.raises(Forbidden):
        registry.create_model(ModelSpec.model_validate(model_spec()), users.identify("bob"))
    with pytest.raises(Forbidden):
        registry.create_model(ModelSpec.model_validate(model_spec()), users.identify("nobody"))


def test_register_profiles_and_starts_workflow(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    version = registry.get_version("churn", _register(registry, users))
    assert version.version == 1 and version.status is Status.REGISTERED
    assert version.artifact.s3_version_id and len(version.sha256) == 64
    assert version.profile is not None and version.profile["rows"] == 200
    assert set(version.profile["features"]) == {"tenure", "charges", "plan"}
    assert version.profile["prediction"]["kind"] == "numeric"
    assert version.execution_arn == "execution:churn:1"
    assert version.lineage.code_ref == "git:abc123"


def test_register_rejects_wrong_sha_and_pickle(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    with pytest.raises(ValidationFailed, match="sha256"):
        _register(registry, users, sha256="0" * 64)
    with pytest.raises(ValidationFailed, match="skops"):
        _register(registry, users, artifact=b"\x80\x04\x95pickle")


def test_register_rejects_artifact_that_does_not_fit_signature(
    registry: Registry, users: UserDirectory
) -> None:
    _setup(registry, users)
    bad = b'{"intercept": 0, "coefficients": {"age": 1.0}}'
    with pytest.raises(ValidationFailed, match="not in the signature"):
        _register(registry, users, artifact=bad)


def test_register_over_limit_is_413(users: UserDirectory) -> None:
    small = Registry(
        *_fakes(),
        max_artifact_bytes=10,
    )
    small.create_model(ModelSpec.model_validate(model_spec()), users.identify("alice"))
    with pytest.raises(PayloadTooLarge):
        small.register_version(
            "churn", RegisterVersion.model_validate(register_body()), users.identify("alice")
        )


def _fakes() -> tuple:  # type: ignore[type-arg]
    from steward.adapters.memory import MemoryModelStore, MemoryWorkflowEngine

    return MemoryModelStore(), MemoryArtifactStore(), MemoryAuditLog(), MemoryWorkflowEngine()


def test_concurrent_registrations_get_distinct_gapless_numbers(
    registry: Registry, users: UserDirectory
) -> None:
    _setup(registry, users)
    numbers: list[int] = []
    errors: list[Exception] = []

    def register() -> None:
        try:
            numbers.append(_register(registry, users))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == list(range(1, 9))


def test_lifecycle_and_decision_rules(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    number = _register(registry, users)
    with pytest.raises(Conflict, match="not pending"):
        registry.decide(
            "churn", number, Decision(decision="approve", comment="early"), users.identify("bob")
        )
    assert registry.validate("churn", number).ok
    assert registry.get_version("churn", number).status is Status.PENDING_APPROVAL
    assert registry.await_decision("churn", number, "token-1") is None
    with pytest.raises(Forbidden, match="approver role"):
        registry.decide(
            "churn", number, Decision(decision="approve", comment="mine"), users.identify("alice")
        )
    admin_registrant = UserDirectory({"alice": ["admin"], "bob": ["approver"]})
    with pytest.raises(Forbidden, match="registrant"):
        registry.decide(
            "churn",
            number,
            Decision(decision="approve", comment="x"),
            admin_registrant.identify("alice"),
        )
    with pytest.raises(Forbidden):
        registry.decide(
            "churn", number, Decision(decision="approve", comment="x"), users.identify("viewer")
        )
    approved = registry.decide(
        "churn", number, Decision(decision="approve", comment="good"), users.identify("bob")
    )
    assert approved.status is Status.APPROVED and approved.approvals[0].actor == "bob"
    assert registry.workflows.resumed == [  # type: ignore[attr-defined]
        ("token-1", {"decision": "approve", "actor": "bob", "status": "APPROVED"})
    ]
    with pytest.raises(Conflict):
        registry.decide(
            "churn", number, Decision(decision="reject", comment="late"), users.identify("carol")
        )


def test_decision_before_workflow_waits_resumes_at_once(
    registry: Registry, users: UserDirectory
) -> None:
    _setup(registry, users)
    number = _register(registry, users)
    registry.validate("churn", number)
    registry.decide(
        "churn", number, Decision(decision="reject", comment="no"), users.identify("bob")
    )
    assert registry.await_decision("churn", number, "late-token") == {
        "decision": "reject",
        "actor": "bob",
        "status": "REJECTED",
    }


def test_validation_refuses_tampered_artifact(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    number = _register(registry, users)
    version = registry.get_version("churn", number)
    artifacts = registry.artifacts
    assert isinstance(artifacts, MemoryArtifactStore)
    artifacts.overwrite(version.artifact.uri, version.artifact.s3_version_id or "", b"{}")
    with pytest.raises(IntegrityError):
        registry.load_artifact(version)
    result = registry.validate("churn", number)
    assert not result.ok and "sha256" in result.checks["failure"]
    assert registry.get_version("churn", number).status is Status.REJECTED


def test_production_alias_needs_approval(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    pending = _register(registry, users)
    with pytest.raises(Conflict, match="only APPROVED"):
        registry.set_alias("churn", "production", pending, users.identify("alice"))
    registry.set_alias("churn", "staging", pending, users.identify("alice"))
    with pytest.raises(Conflict):
        registry.set_traffic("churn", TrafficPolicy(champion=pending), users.identify("alice"))
    with pytest.raises(Forbidden):
        registry.set_alias("churn", "staging", pending, users.identify("viewer"))


def test_promote_and_rollback(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    first = _approved(registry, users)
    second = _approved(registry, users)
    alice = users.identify("alice")
    with pytest.raises(Conflict, match="no previous"):
        registry.rollback("churn", alice, "nothing yet")
    registry.set_alias("churn", "production", first, alice)
    model = registry.set_alias("churn", "production", second, alice)
    assert model.aliases["production"] == second and model.production_history == [first]
    assert model.traffic.champion == second
    model = registry.rollback("churn", alice, "bad canary")
    assert model.aliases["production"] == first and model.traffic.champion == first
    bob = users.identify("bob")
    with pytest.raises(Conflict, match="serving"):
        registry.archive("churn", first, bob, "retire")
    with pytest.raises(Forbidden):  # archiving is an approver's decision
        registry.archive("churn", second, alice, "retire")
    assert registry.archive("churn", second, bob, "retire").status is Status.ARCHIVED


def test_stale_model_update_conflicts(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    model = registry.get_model("churn")
    registry.store.save_model(model, model.rev)
    with pytest.raises(Conflict):
        registry.store.save_model(model, model.rev)


def test_every_change_is_audited_and_chain_verifies(
    registry: Registry, users: UserDirectory
) -> None:
    _setup(registry, users)
    number = _approved(registry, users)
    registry.set_alias("churn", "production", number, users.identify("alice"))
    events = list(registry.audit_log.all_events("churn"))
    assert [e.action for e in events] == [
        "model.created",
        "version.registered",
        "version.validating",
        "version.pending_approval",
        "version.approved",
        "alias.set",
    ]
    assert events[4].actor == "bob" and events[4].after == {"status": "APPROVED"}
    assert registry.verify_audit("churn").ok


def test_tampered_audit_event_is_detected(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    _approved(registry, users)
    audit = registry.audit_log
    assert isinstance(audit, MemoryAuditLog)
    audit.tamper("churn", 4, actor="mallory")
    report = registry.verify_audit("churn")
    assert not report.ok and report.broken_at == 4 and "hash" in (report.problem or "")


def test_unknown_model_and_version(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.get_model("nope")
    with pytest.raises(NotFound):
        registry.store.get_version("nope", 1)


def test_cutting_off_the_newest_events_is_detected_at_once(
    registry: Registry, users: UserDirectory
) -> None:
    _setup(registry, users)
    _approved(registry, users)
    assert all(r.ok for r in registry.verify_all())
    audit = registry.audit_log
    assert isinstance(audit, MemoryAuditLog)
    audit.truncate("churn", 3)  # the newest events deleted with storage access
    report = registry.verify_audit("churn")
    assert not report.ok and report.broken_at == 4 and report.missing == [4, 5]
    assert "missing" in (report.problem or "")


def test_a_tail_rewritten_with_recomputed_hashes_is_detected(
    registry: Registry, users: UserDirectory
) -> None:
    """The chain holds after a rewrite that recomputes every hash: the copy does not."""
    _setup(registry, users)
    _approved(registry, users)
    audit = registry.audit_log
    assert isinstance(audit, MemoryAuditLog)
    original = list(audit.all_events("churn"))
    audit.truncate("churn", 3)
    for event in original[3:]:  # re-appended: the stream copies the forgeries too
        audit.append(
            stream="churn",
            actor="mallory",
            action=event.action,
            target=event.target,
            clock=lambda e=event: e.at,  # type: ignore[misc]
            after=event.after,
        )
    report = registry.verify_audit("churn")
    assert report.events == len(original) and not report.ok
    assert report.altered == [4, 5] and report.broken_at == 4
    assert "differs from its write-once copy" in (report.problem or "")


def test_a_stream_deleted_whole_is_still_verified(registry: Registry, users: UserDirectory) -> None:
    _setup(registry, users)
    audit = registry.audit_log
    assert isinstance(audit, MemoryAuditLog)
    audit.truncate("churn", 0)
    (report,) = registry.verify_all()
    assert report.stream == "churn" and not report.ok and report.broken_at == 1
