"""The one conflict-retry policy: bounded by attempts and a deadline, full-jitter backoff,
and a loud give-up (a warning and a Conflict naming what was tried) for every caller."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.adapters.memory import MemoryAuditLog, MemoryModelStore
from steward.domain.audit import AuditEvent, next_event
from steward.domain.errors import Conflict, NotFound
from steward.domain.models import Model
from steward.drift.service import DriftService
from steward.retry import CONFLICTS, Backoff, on_conflict
from tests.factories import model_spec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def losing(times: int, then: str = "won") -> tuple[list[int], Callable[[int], str]]:
    seen: list[int] = []

    def operation(attempt: int) -> str:
        seen.append(attempt)
        if len(seen) <= times:
            raise Conflict("taken")
        return then

    return seen, operation


@given(
    attempts=st.integers(1, 60),
    base=st.floats(1e-4, 0.1),
    cap=st.floats(1e-4, 1.0),
    losses=st.integers(0, 80),
)
def test_retries_until_it_wins_or_the_attempts_run_out(
    attempts: int, base: float, cap: float, losses: int
) -> None:
    policy = Backoff(attempts=attempts, base_s=base, cap_s=cap, deadline_s=1e9)
    clock = Clock()
    seen, operation = losing(losses)
    if losses < attempts:
        result = on_conflict(
            operation, "the thing", policy=policy, sleep=clock.sleep, clock=lambda: clock.now
        )
        assert result == "won" and seen == list(range(losses + 1))
    else:
        with pytest.raises(Conflict, match=f"the thing: gave up after {attempts} attempts"):
            on_conflict(
                operation, "the thing", policy=policy, sleep=clock.sleep, clock=lambda: clock.now
            )
        assert len(seen) == attempts
    assert len(clock.slept) == min(losses, attempts - 1)
    # full jitter: every pause within [0, min(cap, base * 2^(n-1))]
    for n, pause in enumerate(clock.slept, start=1):
        assert 0 <= pause <= min(cap, base * 2 ** (n - 1)) + 1e-12


@given(deadline=st.floats(0.01, 2.0))
def test_the_deadline_stops_it_before_the_attempts_do(deadline: float) -> None:
    clock = Clock()
    _, operation = losing(10**6)
    policy = Backoff(attempts=10**6, base_s=0.05, cap_s=0.05, deadline_s=deadline)
    with pytest.raises(Conflict, match="gave up"):
        on_conflict(
            operation,
            "x",
            policy=policy,
            sleep=clock.sleep,
            clock=lambda: clock.now,
            draw=lambda lo, hi: hi,  # the longest pause each time
        )
    assert deadline <= clock.now < deadline + 0.05 + 1e-9


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def operation(attempt: int) -> None:
        calls.append(attempt)
        raise NotFound("gone")

    with pytest.raises(NotFound):
        on_conflict(operation, "x", sleep=lambda s: None)
    assert calls == [0]


def test_giving_up_is_logged_and_can_raise_another_error(caplog: pytest.LogCaptureFixture) -> None:
    class Refused(Exception):
        pass

    def operation(attempt: int) -> None:
        raise Refused

    from steward.domain.errors import DependencyUnavailable

    with (
        caplog.at_level(logging.WARNING, logger="steward.retry"),
        pytest.raises(DependencyUnavailable, match="sending: gave up after 3 attempts"),
    ):
        on_conflict(
            operation,
            "sending",
            policy=Backoff(attempts=3),
            retry_on=(Refused,),
            gives_up_with=DependencyUnavailable,
            sleep=lambda s: None,
        )
    assert "gave up on sending after 3 attempts" in caplog.text


def test_the_default_policy_bounds_a_lost_race_to_seconds() -> None:
    """The worst case of the shared policy: every pause at its cap, every attempt lost and
    taking no time itself: it gives up by the deadline plus one pause."""
    now = [0.0]

    def lose(_: int) -> None:
        raise Conflict("taken")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(Conflict, match="gave up"):
        on_conflict(lose, "racing", sleep=sleep, clock=lambda: now[0], draw=lambda lo, hi: hi)
    assert CONFLICTS.deadline_s <= now[0] < CONFLICTS.deadline_s + CONFLICTS.cap_s
    assert CONFLICTS.attempts >= 40  # the registry's 8-way race needs room


class AlwaysTaken(MemoryModelStore):
    """A model another writer changes between every read and write."""

    def save_model(self, model: Model, expected_rev: int) -> Model:
        raise Conflict(f"model {model.name} changed meanwhile; retry")


def test_the_drift_summary_that_never_lands_now_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to give up silently after five tries: the report said saved, the model's
    ``latest_drift`` stayed stale and nothing told anyone."""
    monkeypatch.setattr("steward.retry.time.sleep", lambda s: None)
    store = AlwaysTaken()
    now = datetime(2026, 11, 27, tzinfo=UTC)
    store.create_model(
        Model.model_validate(
            {**model_spec(), "created_by": "alice", "created_at": now, "updated_at": now}
        )
    )
    service = DriftService.__new__(DriftService)
    service.store = store
    with (
        caplog.at_level(logging.WARNING, logger="steward.retry"),
        pytest.raises(Conflict, match="keeping the latest drift of churn: gave up"),
    ):
        service._remember("churn", {"report_id": "r"})
    assert "gave up on keeping the latest drift of churn" in caplog.text


class Racing(MemoryAuditLog):
    """Another writer appends before each of the first ``losses`` puts."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses

    def put(self, event: AuditEvent) -> None:
        if self.losses:  # the other writer takes this sequence number first
            self.losses -= 1
            other = next_event(
                self.head(event.stream),
                stream=event.stream,
                actor="other",
                action="x",
                target="t",
                at=_now(),
            )
            super().put(other)
        super().put(event)


def _now() -> datetime:
    return datetime(2026, 11, 27, tzinfo=UTC) + timedelta(seconds=1)


def test_an_audit_append_that_loses_chains_after_the_winner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("steward.retry.time.sleep", lambda s: None)
    log = Racing(losses=3)
    event = log.append(stream="churn", actor="alice", action="a", target="t", clock=_now)
    events = list(log.all_events("churn"))
    assert [e.actor for e in events] == ["other", "other", "other", "alice"]
    assert event.seq == events[-1].seq


class Queue:
    """An SQS client that refuses the first ``refusals`` entries it is sent."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.sent: list[str] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict:  # type: ignore[type-arg]
        failed = []
        for entry in Entries:
            if self.refusals:
                self.refusals -= 1
                failed.append({"Id": entry["Id"], "Code": "InternalError"})
            else:
                self.sent.append(entry["MessageBody"])
        return {"Failed": failed}


def _batch(rows: int) -> dict:  # type: ignore[type-arg]
    return {"rows": rows, "columns": {"request_id": [str(i) for i in range(rows)]}}


def test_the_log_queue_sends_refused_entries_again_with_the_shared_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from steward.adapters.aws.sqs import SCORING_PATH, SqsLogSink
    from steward.domain.errors import DependencyUnavailable

    pauses: list[float] = []
    monkeypatch.setattr("steward.retry.time.sleep", pauses.append)
    queue = Queue(refusals=1)
    SqsLogSink(queue, "url").send("predictions", "churn", _batch(3))
    assert len(queue.sent) == 1 and len(pauses) == 1  # one refused, sent again after a pause

    stuck = Queue(refusals=10**6)
    with pytest.raises(DependencyUnavailable, match="gave up after 3 attempts; retry"):
        SqsLogSink(stuck, "url").send("predictions", "churn", _batch(3))
    assert len(pauses) == 1 + SCORING_PATH.attempts - 1
