"""Concurrency on the DynamoDB adapters (moto): promotions, decisions, duplicate events.

Each thread stands for one Lambda execution environment, with services of its own
(``wiring.registry.__wrapped__()`` builds them as a cold start does): Lambda never runs two
invocations in one environment at once.

What "exactly one wins" means: a promotion is a read-modify-write of the model record,
committed only if the record's revision is still the one it read (optimistic locking).
Of promotions that read the same revision, exactly one commits; the others get 409 and
change nothing. To make that the tested case rather than a matter of timing, every thread
is held at its write until all ten have read the record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from steward import wiring
from steward.api.errors import status_for
from steward.domain.errors import Conflict, StewardError
from steward.registry.requests import Decision
from steward.registry.service import Registry
from tests.moto_stack import Stack
from tests.reliability.conftest import USERS, approve, create, register, register_unstarted

THREADS = 10


def race(work: list[Callable[[Registry], Any]]) -> list[Any]:
    """Run each piece of work in its own thread with its own services, all at once;
    returns each result or the StewardError it raised."""
    services = [wiring.registry.__wrapped__() for _ in work]
    results: list[Any] = [None] * len(work)
    start = threading.Barrier(len(work))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work[i](services[i])
        except StewardError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


class HoldWrites:
    """A botocore hook that holds every call it is registered on until ``n`` threads reach it."""

    def __init__(self, n: int) -> None:
        self.barrier = threading.Barrier(n, timeout=30)

    def __call__(self, **_: Any) -> None:
        self.barrier.wait()


def _approved_versions(name: str, n: int) -> list[int]:
    create(name)
    numbers = [register(name) for _ in range(n)]
    for number in numbers:
        approve(name, number)
    return numbers


def test_ten_concurrent_promotions_from_one_revision_one_wins(stack: Stack) -> None:
    name = "conc-promote"
    numbers = _approved_versions(name, THREADS)
    rev = wiring.registry().get_model(name).rev
    alice = USERS.identify("alice")
    import boto3

    session = boto3._get_default_session()._session
    hold = HoldWrites(THREADS)
    # The first production version changes the model's inventory facets, so its record is
    # written by a transaction (with the index entries), not an UpdateItem.
    write = "before-call.dynamodb.TransactWriteItems"
    session.register(write, hold, unique_id="hold-writes")
    try:
        results = race(
            [(lambda reg, v=v: reg.set_alias(name, "production", v, alice)) for v in numbers]
        )
    finally:
        session.unregister(write, unique_id="hold-writes")
        wiring.reset()
    winners = [r for r in results if not isinstance(r, StewardError)]
    losers = [r for r in results if isinstance(r, StewardError)]
    assert len(winners) == 1, results
    assert len(losers) == THREADS - 1
    assert all(isinstance(r, Conflict) and status_for(r) == 409 for r in losers)
    model = wiring.registry().get_model(name)
    assert model.rev == rev + 1
    assert model.aliases["production"] == winners[0].aliases["production"]
    assert model.traffic.champion == model.aliases["production"]
    audit = [e for e in wiring.registry().audit_log.all_events(name) if e.action == "alias.set"]
    assert len(audit) == 1  # the losers changed nothing and recorded nothing


def test_concurrent_promotions_without_a_hold_lose_no_update(stack: Stack) -> None:
    """Unsynchronized: any number may win, each from a distinct revision; the history
    records every winner in commit order and the final alias is the last winner."""
    name = "conc-promote-free"
    numbers = _approved_versions(name, THREADS)
    rev = wiring.registry().get_model(name).rev
    alice = USERS.identify("alice")
    results = race(
        [(lambda reg, v=v: reg.set_alias(name, "production", v, alice)) for v in numbers]
    )
    winners = [r for r in results if not isinstance(r, StewardError)]
    assert winners and all(isinstance(r, Conflict) for r in results if r not in winners)
    assert sorted(w.rev for w in winners) == list(range(rev + 1, rev + 1 + len(winners)))
    model = wiring.registry().get_model(name)
    assert model.rev == rev + len(winners)
    last = max(winners, key=lambda m: m.rev)
    assert model.aliases["production"] == last.aliases["production"]
    audit = [e for e in wiring.registry().audit_log.all_events(name) if e.action == "alias.set"]
    assert len(audit) == len(winners)


def test_concurrent_decisions_on_one_approval_record_one(stack: Stack) -> None:
    name = "conc-decide"
    create(name)
    number = register(name)
    approvers = ["bob", "carol", "admin"] * 4
    work = [
        (
            lambda reg, i=i, user=user: reg.decide(
                name,
                number,
                Decision(decision="approve" if i % 2 else "reject", comment=f"by {user}"),
                USERS.identify(user),
            )
        )
        for i, user in enumerate(approvers[:THREADS])
    ]
    results = race(work)
    winners = [r for r in results if not isinstance(r, StewardError)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r not in winners)
    version = wiring.registry().get_version(name, number)
    assert len(version.approvals) == 1
    assert version.status == winners[0].status
    decided = [
        e
        for e in wiring.registry().audit_log.all_events(name)
        if e.action in ("version.approved", "version.rejected")
    ]
    assert len(decided) == 1


@pytest.mark.parametrize("copies", [2, THREADS])
def test_duplicate_validation_events_make_one_transition(stack: Stack, copies: int) -> None:
    """Step Functions and Lambda deliver at least once: the same task event may arrive
    several times, concurrently."""
    name = f"conc-dup-{copies}"
    create(name)
    number = register_unstarted(name)
    from steward.dispatch import dispatch

    event = {"task": "validate", "input": {"name": name, "version": number}}
    results = race([(lambda reg: dispatch(event, serves=["models"])) for _ in range(copies)])
    assert all(isinstance(r, dict) and r["ok"] is True for r in results), results
    version = wiring.registry().get_version(name, number)
    assert version.status.value == "VALIDATING"  # held for its gates, the next step
    assert version.validation is not None and "integrity" in version.validation.checks
    actions = [e.action for e in wiring.registry().audit_log.all_events(name)]
    assert actions.count("version.validating") == 1  # one transition
    assert actions.count("version.checked") >= 1  # each copy that ran the checks says so


def test_duplicate_workflow_starts_run_one_execution(stack: Stack) -> None:
    name = "conc-dup-start"
    create(name)
    number = register_unstarted(name)
    results = race(
        [(lambda reg: reg.workflows.start_approval(name, number)) for _ in range(THREADS)]
    )
    assert len(set(results)) == 1, results  # one execution, named after the version


def test_concurrent_api_requests_keep_their_own_event(stack: Stack) -> None:
    """powertools resolves the current request from a class attribute shared by every
    resolver in the process; the local runtime runs API requests one at a time, as Lambda
    runs one invocation per environment, so a request never reads another's headers (or
    its caller's identity)."""
    import time

    import boto3

    from tests.factories import api_event
    from tests.reliability.conftest import serve

    name = "conc-event"
    serve(name)
    a_inside = threading.Event()
    owner = threading.get_ident()

    def pause_first_read(**_: Any) -> None:
        if threading.get_ident() == owner and not a_inside.is_set():
            a_inside.set()
            time.sleep(0.3)  # the window in which another request could take over

    path = f"/models/{name}/versions/1/card"
    answers: dict[str, Any] = {}

    def other() -> None:
        a_inside.wait(10)
        event = api_event("GET", path, user="bob", headers={"Accept": "text/markdown"})
        answers["b"] = stack.invoke("api", event)

    session = boto3._get_default_session()._session
    session.register("before-call.dynamodb.GetItem", pause_first_read, unique_id="pause")
    wiring.reset()  # after the hook: clients built from here on carry it
    try:
        thread = threading.Thread(target=other)
        thread.start()
        event = api_event("GET", path, user="alice", headers={"Accept": "text/html"})
        answers["a"] = stack.invoke("api", event)
        thread.join(30)
    finally:
        session.unregister("before-call.dynamodb.GetItem", unique_id="pause")
        wiring.reset()
    assert _content_type(answers["a"]).startswith("text/html")
    assert _content_type(answers["b"]).startswith("text/markdown")


def _content_type(result: dict[str, Any]) -> str:
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    return str(single.get("Content-Type") or multi.get("Content-Type", [""])[0])
