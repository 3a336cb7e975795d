"""Only APPROVED versions answer clients, a status change reaches warm scorers within the
model record's TTL, and feedback takes a role."""

from __future__ import annotations

import pytest

from steward.adapters.memory import MemoryLogSink, MemoryWorkflowEngine
from steward.domain.errors import Conflict, Forbidden
from steward.domain.identity import ANONYMOUS, UserDirectory
from steward.domain.models import ModelSpec, Status
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from steward.scoring.inputs import PredictRequest
from steward.scoring.service import Scorer
from tests.factories import model_spec, reference_rows, register_body

USERS = UserDirectory()
TTL = 5.0
ROWS = PredictRequest(instances=reference_rows(3))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _register(registry: Registry, approve: bool) -> int:
    request = RegisterVersion.model_validate(register_body())
    number = registry.register_version("churn", request, USERS.identify("alice")).version
    registry.validate("churn", number)
    if approve:
        decision = Decision(decision="approve", comment="ok")
        registry.decide("churn", number, decision, USERS.identify("bob"))
    return number


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scorer(registry: Registry, clock: Clock) -> Scorer:
    registry.create_model(ModelSpec.model_validate(model_spec()), USERS.identify("alice"))
    live = _register(registry, approve=True)
    registry.set_alias("churn", "production", live, USERS.identify("alice"))
    return Scorer(registry.store, registry.artifacts, MemoryLogSink(), clock=clock, model_ttl_s=TTL)


def test_a_pinned_pending_version_is_a_conflict(
    registry: Registry, scorer: Scorer, clock: Clock
) -> None:
    pending = _register(registry, approve=False)
    assert registry.get_version("churn", pending).status is Status.PENDING_APPROVAL
    with pytest.raises(Conflict, match="PENDING_APPROVAL"):
        scorer.predict("churn", ROWS, version=pending)
    registry.set_alias("churn", "review", pending, USERS.identify("alice"))
    clock.now += TTL + 0.001
    with pytest.raises(Conflict, match="PENDING_APPROVAL"):
        scorer.predict("churn", ROWS, alias="review")
    assert scorer.predict("churn", ROWS, version=1).version == 1


@pytest.mark.parametrize("retire", ["archive", "reject"])
def test_a_retired_version_stops_answering_warm_scorers_within_the_ttl(
    registry: Registry, scorer: Scorer, clock: Clock, retire: str
) -> None:
    number = _register(registry, approve=retire == "archive")
    if retire == "archive":
        assert scorer.predict("churn", ROWS, version=number).version == number  # warm
        registry.archive("churn", number, USERS.identify("bob"), "retired")
    else:
        with pytest.raises(Conflict):
            scorer.predict("churn", ROWS, version=number)
        registry.decide(
            "churn", number, Decision(decision="reject", comment="no"), USERS.identify("bob")
        )
    clock.now += TTL + 0.001
    with pytest.raises(Conflict, match=r"ARCHIVED|REJECTED"):
        scorer.predict("churn", ROWS, version=number)


@pytest.mark.parametrize("who", ["app", "alice", "admin"])
def test_feedback_from_an_application_or_data_scientist(scorer: Scorer, who: str) -> None:
    assert scorer.feedback("churn", [("r-1", 1)], USERS.identify(who)) == 1


@pytest.mark.parametrize("who", ["bob", "viewer", "mallory", ""])
def test_feedback_from_anyone_else_is_refused(scorer: Scorer, who: str) -> None:
    caller = USERS.identify(who) if who else ANONYMOUS
    with pytest.raises(Forbidden):
        scorer.feedback("churn", [("r-1", 1)], caller)
    assert isinstance(scorer.sink, MemoryLogSink)
    assert scorer.sink.records("feedback") == []


def test_archiving_a_pending_version_ends_its_waiting_approval_workflow(
    registry: Registry, scorer: Scorer
) -> None:
    pending = _register(registry, approve=False)
    assert registry.await_decision("churn", pending, "token-1") is None  # the workflow waits
    registry.archive("churn", pending, USERS.identify("bob"), "superseded before review")
    workflows = registry.workflows
    assert isinstance(workflows, MemoryWorkflowEngine)
    assert workflows.resumed == [
        ("token-1", {"decision": "reject", "actor": "bob", "status": "ARCHIVED"})
    ]
    assert registry.store.take_task_token("churn", pending) is None


def test_an_archive_that_lands_while_the_workflow_records_its_token_ends_it_once(
    registry: Registry, scorer: Scorer
) -> None:
    """The archive lands between the workflow's token write and its second read: the
    archive takes the token and resumes the workflow; the workflow's step waits for that
    instead of failing with "nothing to approve" (seen in CI once the emulator got fast)."""
    pending = _register(registry, approve=False)
    store = registry.store
    put = store.put_task_token

    def put_then_archive(name: str, number: int, token: str) -> None:
        put(name, number, token)
        registry.archive(name, number, USERS.identify("bob"), "superseded before review")

    store.put_task_token = put_then_archive  # type: ignore[method-assign]
    assert registry.await_decision("churn", pending, "token-1") is None
    workflows = registry.workflows
    assert isinstance(workflows, MemoryWorkflowEngine)
    assert workflows.resumed == [
        ("token-1", {"decision": "reject", "actor": "bob", "status": "ARCHIVED"})
    ]
