"""Practice KPIs from the audit trail: the registry's own events, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.domain.audit import AuditEvent, next_event
from steward.domain.identity import UserDirectory
from steward.domain.kpis import COUNTS, PERIOD, Kpis, kpis, percentiles, tally
from steward.domain.models import ModelSpec
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from tests.factories import model_spec, register_body

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _streams(registry: Registry) -> dict[str, list[AuditEvent]]:
    log = registry.audit_log
    return {s: list(log.all_events(s)) for s in log.streams()}


def _release(registry: Registry, users: UserDirectory, number: int, wait: int) -> None:
    """Register, validate, wait ``wait`` seconds for the approver, approve, deploy."""
    name = "churn"
    registry.register_version(
        name, RegisterVersion.model_validate(register_body()), users.identify("alice")
    )
    registry.validate(name, number)
    registry.clock.now += timedelta(seconds=wait)  # type: ignore[attr-defined]
    registry.decide(name, number, Decision(decision="approve", comment="ok"), users.identify("bob"))
    registry.set_alias(name, "production", number, users.identify("alice"))


def test_lead_time_and_approval_wait_match_the_clock_around_the_actions(
    registry: Registry, users: UserDirectory
) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec()), users.identify("alice"))
    clock: Any = registry.clock
    before = clock.now
    _release(registry, users, 1, wait=3600)
    after = clock.now
    found = kpis(_streams(registry), until=after, model="churn")
    lead = found.lead_time_s.p50
    assert lead is not None and 3600 <= lead <= (after - before).total_seconds()
    wait = found.approval_wait_s.p50
    assert wait is not None and 3600 <= wait <= 3600 + 5
    assert found.deployments == 1 and found.rollbacks == 0
    assert found.change_failure_rate == 0
    steps = {s.step: s for s in found.steps}
    assert steps["approval_wait"].p50 == wait and steps["to_production"].n == 1
    total = sum(s.p50 or 0 for s in found.steps)
    assert total == lead  # the steps add up to the lead time (one version)


def test_a_rollback_is_a_failed_change_and_drift_to_redeploy(
    registry: Registry, users: UserDirectory
) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec()), users.identify("alice"))
    _release(registry, users, 1, wait=10)
    drifted = registry.clock()
    registry.audit_log.append(
        stream="churn",
        actor="workflow",
        action="drift.reported",
        target="churn/1",
        clock=lambda: drifted,
        after={"version": 1, "drift_detected": True, "labelled": True, "degraded": False},
    )
    _release(registry, users, 2, wait=100)
    deployed = registry.clock.now  # type: ignore[attr-defined]
    registry.rollback("churn", users.identify("alice"), "worse than 1")
    found = kpis(_streams(registry), until=registry.clock())
    assert (found.deployments, found.rollbacks) == (2, 1)
    assert found.rollback_rate == 0.5 and found.change_failure_rate == 0.5
    redeploy = found.drift_to_redeploy_s.p50
    assert redeploy is not None and 100 <= redeploy <= (deployed - drifted).total_seconds()
    assert found.production_models == 1
    assert found.monitored_share == 1.0  # the factory's spec has a schedule
    assert found.fresh_report_share == 1.0 and found.labelled_share == 1.0
    stale = kpis(_streams(registry), until=registry.clock() + timedelta(days=3))
    assert stale.fresh_report_share == 0.0
    assert stale.reviews_overdue == 0
    overdue = kpis(_streams(registry), until=registry.clock() + timedelta(days=800))
    assert overdue.reviews_overdue == 1  # medium risk: every two years


def test_percentiles_are_nearest_rank() -> None:
    found = percentiles([5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert (found.p50, found.p90, found.n) == (5.0, 9.0, 10)
    assert percentiles([]).n == 0 and percentiles([]).p50 is None


# -- properties over generated trails ----------------------------------------------------

STEP = st.sampled_from(
    [
        "version.registered",
        "version.validating",
        "version.pending_approval",
        "version.approved",
        "version.rejected",
        "alias.set",
        "production.rollback",
        "drift.reported",
        "model.reviewed",
    ]
)
TRAIL = st.lists(
    st.tuples(st.integers(0, 10**6), STEP, st.integers(1, 4), st.booleans()), max_size=25
)


def _errors(found: Kpis) -> list[float]:
    return [found.estimate_error_auc.p50] * found.estimate_error_auc.n  # type: ignore[list-item]


def _trail(name: str, steps: list[tuple[int, str, int, bool]]) -> list[AuditEvent]:
    at, head = T0, None
    events: list[AuditEvent] = []
    created = {"monitoring": {"schedule": "rate(1 day)"}, "risk_tier": "high"}
    head = next_event(None, stream=name, actor="a", action="model.created", target=name, at=at)
    head = head.model_copy(update={"after": created}).sealed()
    events.append(head)
    for delay, action, number, flag in steps:
        at += timedelta(seconds=delay)
        after: dict[str, Any] | None = None
        target = f"{name}/{number}"
        if action in ("alias.set", "production.rollback"):
            after = {"aliases": {"production": number}}
            target = name
        elif action == "drift.reported":
            after = {"version": number, "drift_detected": flag, "labelled": not flag}
            # value and the estimate's error as the drift service records them
            after |= {"value_estimated": 10.0 * number - 25, "value_unit": "USD"}
            if not flag:
                after |= {"value_realized": 7.0 * number - 20, "estimate_error_auc": number / 100}
        head = next_event(
            head, stream=name, actor="a", action=action, target=target, at=at, after=after
        )
        events.append(head)
    return events


@settings(max_examples=150, deadline=None)
@given(TRAIL, TRAIL, st.integers(0, 3 * 10**6), st.integers(0, 10**6))
def test_later_events_never_change_an_earlier_until(
    early: list[tuple[int, str, int, bool]],
    late: list[tuple[int, str, int, bool]],
    until_s: int,
    since_s: int,
) -> None:
    events = _trail("m", early)
    until = T0 + timedelta(seconds=until_s)
    since = T0 + timedelta(seconds=min(since_s, until_s))
    before = kpis({"m": [e for e in events if e.at <= until]}, until=until, since=since)
    after = kpis({"m": events}, until=until, since=since)  # events past until are ignored
    shift = until - T0 + timedelta(seconds=1)  # every added event is past until
    more = events + [e.model_copy(update={"at": e.at + shift}) for e in _trail("m", late)[1:]]
    grown = kpis({"m": more}, until=until, since=since)
    assert before == after == grown


@settings(max_examples=150, deadline=None)
@given(st.lists(TRAIL, min_size=1, max_size=4), st.integers(0, 3 * 10**6))
def test_the_portfolio_is_the_combination_of_its_models(
    trails: list[list[tuple[int, str, int, bool]]], until_s: int
) -> None:
    until = T0 + timedelta(seconds=until_s)
    streams = {f"m{i}": _trail(f"m{i}", t) for i, t in enumerate(trails)}
    portfolio = kpis(streams, until=until)
    parts = [tally(events, until=until) for events in streams.values()]
    for name in COUNTS:
        assert sum(getattr(p, name) for p in parts) == sum(
            getattr(tally(e, until=until), name) for e in streams.values()
        )
    per_model = [kpis(streams, until=until, model=m) for m in streams]
    assert portfolio.deployments == sum(k.deployments for k in per_model)
    assert portfolio.rollbacks == sum(k.rollbacks for k in per_model)
    assert portfolio.reviews_overdue == sum(k.reviews_overdue for k in per_model)
    assert portfolio.production_models == sum(k.production_models for k in per_model)
    for key in ("lead_time_s", "approval_wait_s", "validation_s", "drift_to_redeploy_s"):
        union = [x for p in parts for x in p.samples[key]]
        assert getattr(portfolio, key) == percentiles(union)
        assert getattr(portfolio, key).n == sum(getattr(k, key).n for k in per_model)
    union = [x for k in per_model for x in _errors(k)]
    assert portfolio.estimate_error_auc.n == sum(k.estimate_error_auc.n for k in per_model)
    assert portfolio.estimate_error_auc.n == len(union)
    for key in ("realized", "estimated"):
        values = [k.value[key] for k in per_model if k.value[key] is not None]
        assert portfolio.value[key] == (pytest.approx(sum(values)) if values else None)
    # the trend: periods end at until - k weeks for every model, figures add up period by period
    for period in portfolio.trend:
        same = [p for k in per_model for p in k.trend if p.end == period.end]
        assert period.deployments == sum(p.deployments for p in same)
        assert period.lead_time_n == sum(p.lead_time_n for p in same)
        values = [p.value_estimated for p in same if p.value_estimated is not None]
        assert period.value_estimated == (pytest.approx(sum(values)) if values else None)
    assert sum(p.deployments for p in portfolio.trend) <= portfolio.deployments
    monitored = sum((k.monitored_share or 0) * k.production_models for k in per_model)
    if portfolio.production_models:
        assert portfolio.monitored_share == monitored / portfolio.production_models


def test_the_trend_puts_lead_time_deployments_and_value_in_their_periods() -> None:
    day = 24 * 3600
    steps = [
        (0, "version.registered", 1, False),
        (day, "alias.set", 1, False),  # lead time 1 day, in week 1
        (2 * day, "drift.reported", 1, False),  # value in week 1
        (7 * day, "version.registered", 2, False),
        (3 * day, "alias.set", 2, False),  # lead time 3 days, in week 2
        (day, "drift.reported", 2, True),  # estimated only
    ]
    events = _trail("m", steps)
    until = T0 + timedelta(days=14)
    found = kpis({"m": events}, until=until, model="m")
    assert [p.end for p in found.trend] == [until - PERIOD, until]
    first, second = found.trend
    assert (first.lead_time_p50, first.lead_time_n, first.deployments) == (day, 1, 1)
    assert (second.lead_time_p50, second.deployments) == (3 * day, 1)
    assert first.value_realized == 7.0 - 20 and first.value_estimated == 10.0 - 25
    assert second.value_realized is None and second.value_estimated == 20.0 - 25
    assert first.estimate_error_auc_p50 == 0.01 and second.estimate_error_auc_p50 is None
    assert found.value == {"realized": -13.0, "estimated": -20.0, "units": ["USD"]}
    assert found.estimate_error_auc.n == 1
