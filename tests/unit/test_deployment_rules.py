"""Approval gates and routing, approval timing, canary verdicts and the retrain lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from steward.domain.deployment import (
    CanaryStats,
    canary_verdict,
    evaluate_gates,
    heartbeat_for,
    retrain_refusal,
    retrain_slot,
    route_approval,
)
from steward.domain.models import DeploymentPolicy, RetrainPolicy, RetrainState, RiskTier

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_a_tolerance_gate_compares_with_the_champion() -> None:
    [ok] = evaluate_gates({"auc": 0.02}, {"roc_auc": 0.80}, {"roc_auc": 0.81})
    [bad] = evaluate_gates({"auc": 0.02}, {"roc_auc": 0.78}, {"roc_auc": 0.81})
    assert ok.passed and not bad.passed and bad.bound == 0.81 - 0.02
    assert "champion 0.81" in bad.detail


def test_lower_is_better_metrics_may_only_rise_by_the_tolerance() -> None:
    [ok] = evaluate_gates({"rmse": 0.5}, {"rmse": 3.4}, {"rmse": 3.0})
    [bad] = evaluate_gates({"rmse": 0.5}, {"rmse": 3.6}, {"rmse": 3.0})
    assert ok.passed and not bad.passed


def test_absolute_bounds_and_missing_metrics() -> None:
    results = evaluate_gates({"min_auc": 0.9, "max_log_loss": 0.5}, {"roc_auc": 0.95}, None)
    by_gate = {r.gate: r for r in results}
    assert by_gate["min_auc"].passed
    assert not by_gate["max_log_loss"].passed  # the metric is missing: the gate fails
    [first] = evaluate_gates({"auc": 0.02}, {"roc_auc": 0.7}, None)
    assert first.passed and "no champion" in first.detail


def test_routing_rejects_failures_and_auto_approves_only_low_risk_by_policy() -> None:
    passed = evaluate_gates({"min_auc": 0.5}, {"roc_auc": 0.9}, None)
    failed = evaluate_gates({"min_auc": 0.95}, {"roc_auc": 0.9}, None)
    auto = DeploymentPolicy(auto_approve_low_risk=True)
    assert route_approval(RiskTier.LOW, auto, failed)[0] == "reject"
    assert route_approval(RiskTier.LOW, auto, passed)[0] == "approve"
    assert route_approval(RiskTier.MEDIUM, auto, passed)[0] == "human"
    assert route_approval(RiskTier.HIGH, auto, passed)[0] == "human"
    assert route_approval(RiskTier.LOW, DeploymentPolicy(), passed)[0] == "human"


@given(st.integers(min_value=2, max_value=300 * 86400))
def test_the_heartbeat_is_always_below_the_timeout(timeout: int) -> None:
    heartbeat = heartbeat_for(timeout)
    assert 1 <= heartbeat < timeout
    assert heartbeat <= 6 * 3600


def test_canary_verdicts() -> None:
    policy = DeploymentPolicy(max_error_rate=0.01, max_latency_ms=50, min_canary_rows=10)
    champion = CanaryStats(rows=900, latency_p95_ms=5)
    good = canary_verdict(policy, CanaryStats(rows=100, latency_p95_ms=6), champion, 0.05)
    assert good.passed and good.reasons == []
    few = canary_verdict(policy, CanaryStats(rows=5), champion, None)
    errors = canary_verdict(policy, CanaryStats(rows=100, errors=5), champion, None)
    slow = canary_verdict(policy, CanaryStats(rows=100, latency_p95_ms=80), champion, None)
    moved = canary_verdict(policy, CanaryStats(rows=100), champion, 0.8)
    for verdict, word in ((few, "fewer"), (errors, "error"), (slow, "latency"), (moved, "moved")):
        assert not verdict.passed and word in verdict.reasons[0]


def test_retrain_refusals() -> None:
    policy = RetrainPolicy(on_drift=True, cooldown_hours=24, min_labels=100)
    running = RetrainState(run="r1", trigger="drift:a", started_at=NOW - timedelta(hours=1))
    recent = running.model_copy(update={"running": False})
    old = recent.model_copy(update={"started_at": NOW - timedelta(hours=30)})
    assert retrain_refusal(policy, None, 500, NOW) is None
    assert retrain_refusal(policy, old, 500, NOW) is None
    assert "running" in (retrain_refusal(policy, running, 500, NOW) or "")
    assert "cooling down" in (retrain_refusal(policy, recent, 500, NOW) or "")
    assert "fewer than 100" in (retrain_refusal(policy, None, 99, NOW) or "")
    assert "does not retrain on drift" in (
        retrain_refusal(RetrainPolicy(on_drift=False), None, 5000, NOW) or ""
    )
    assert "no schedule" in (retrain_refusal(policy, None, 500, NOW, "schedule") or "")
    scheduled = RetrainPolicy(schedule="rate(7 days)", cooldown_hours=24, min_labels=0)
    assert retrain_refusal(scheduled, old, 0, NOW, "schedule") is None
    assert "cooling down" in (retrain_refusal(scheduled, recent, 0, NOW, "schedule") or "")
    # By hand: no cooldown and no on_drift needed, but never two at once.
    assert retrain_refusal(RetrainPolicy(min_labels=0), recent, 0, NOW, "manual") is None
    assert retrain_refusal(policy, running, 500, NOW, "manual") is not None


def test_retrain_slots_catch_up_once() -> None:
    created = NOW - timedelta(days=30)
    weekly = "rate(7 days)"
    assert retrain_slot(weekly, NOW, None, NOW + timedelta(days=6)) is None
    assert retrain_slot(weekly, created, None, NOW) == created + timedelta(days=28)
    last = created + timedelta(days=28, hours=1)  # it ran: nothing until the next slot
    assert retrain_slot(weekly, created, last, NOW) is None
    assert retrain_slot(weekly, created, last, NOW + timedelta(days=5)) == created + timedelta(
        days=35
    )
    nightly = "cron(0 2 * * ? *)"
    assert retrain_slot(nightly, created, None, NOW) == NOW.replace(hour=2)
