"""Deployment rules: approval gates and routing, approval timing, canary verdicts and the
retrain lease. Pure functions over plain values: the workflow tasks feed them evidence."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from steward.domain.models import DeploymentPolicy, RetrainPolicy, RetrainState, RiskTier
from steward.domain.schedule import parse_schedule
from steward.stats.performance import ALIASES, LOWER_IS_BETTER

# A human may take days, but Step Functions must hear from the waiting task more often:
# the hourly governance job sends heartbeats for every open approval.
HEARTBEAT_S = 6 * 3600

Verdict = Literal["reject", "approve", "human"]


class GateResult(BaseModel):
    gate: str
    metric: str
    value: float | None
    bound: float
    champion: float | None = None
    passed: bool
    detail: str


class GateReport(BaseModel):
    passed: bool
    verdict: Verdict
    reason: str
    gates: list[GateResult]
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None = None
    champion_version: int | None = None
    approval_timeout_s: int
    heartbeat_s: int


def _gate(
    name: str, tolerance: float, metrics: dict[str, float], champion: dict[str, float] | None
) -> GateResult:
    if name.startswith(("min_", "max_")):
        metric = ALIASES.get(name[4:], name[4:])
        value = metrics.get(metric)
        ok = value is not None and (value >= tolerance if name[:3] == "min" else value <= tolerance)
        word = "at least" if name[:3] == "min" else "at most"
        return GateResult(
            gate=name,
            metric=metric,
            value=value,
            bound=tolerance,
            passed=ok,
            detail=f"{metric} {_fmt(value)} must be {word} {tolerance:g}",
        )
    metric = ALIASES.get(name, name)
    value = metrics.get(metric)
    if champion is None or metric not in champion:
        # Nothing to lose against: the first version, or a champion without the metric.
        return GateResult(
            gate=name,
            metric=metric,
            value=value,
            bound=tolerance,
            passed=value is not None,
            detail=f"{metric} {_fmt(value)}: no champion to compare with",
        )
    base = champion[metric]
    if metric in LOWER_IS_BETTER:
        bound, ok = base + tolerance, value is not None and value <= base + tolerance
        word = "at most"
    else:
        bound, ok = base - tolerance, value is not None and value >= base - tolerance
        word = "at least"
    return GateResult(
        gate=name,
        metric=metric,
        value=value,
        bound=bound,
        champion=base,
        passed=ok,
        detail=(
            f"{metric} {_fmt(value)} must be {word} {bound:g} (champion {base:g} ± {tolerance:g})"
        ),
    )


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def evaluate_gates(
    gates: dict[str, float], metrics: dict[str, float], champion: dict[str, float] | None
) -> list[GateResult]:
    """One result per configured gate; a gate whose metric is missing fails."""
    results = []
    for name, tolerance in sorted(gates.items()):
        result = _gate(name, tolerance, metrics, champion)
        results.append(result.model_copy(update={"detail": f"{name}: {result.detail}"}))
    return results


def route_approval(
    risk: RiskTier, policy: DeploymentPolicy, results: list[GateResult]
) -> tuple[Verdict, str]:
    """Reject on a failed gate; auto-approve a low-risk model that passes every gate when
    its policy allows it; everything else waits for a human."""
    failed = [r.detail for r in results if not r.passed]
    if failed:
        return "reject", "gate failed: " + "; ".join(failed)
    if policy.auto_approve_low_risk and risk is RiskTier.LOW:
        return "approve", f"low risk, {len(results)} gate(s) passed, auto-approval allowed"
    return "human", "waiting for an approver"


def heartbeat_for(timeout_s: int) -> int:
    """Always strictly below the timeout, so the timeout stays reachable."""
    return max(1, min(HEARTBEAT_S, timeout_s - 1))


class CanaryStats(BaseModel):
    rows: int
    errors: int = 0
    latency_p95_ms: float | None = None
    classes: dict[str, float] | None = None  # multiclass: each chosen class's share of rows


class CanaryVerdict(BaseModel):
    passed: bool
    reasons: list[str]
    challenger: CanaryStats
    champion: CanaryStats
    prediction_shift: float | None = None


def canary_verdict(
    policy: DeploymentPolicy,
    challenger: CanaryStats,
    champion: CanaryStats,
    prediction_shift: float | None,
) -> CanaryVerdict:
    """Promote unless the challenger's own evidence is against it."""
    reasons: list[str] = []
    if challenger.rows < policy.min_canary_rows:
        reasons.append(f"{challenger.rows} challenger rows, fewer than {policy.min_canary_rows}")
    if challenger.rows:
        rate = challenger.errors / challenger.rows
        if rate > policy.max_error_rate:
            reasons.append(f"error rate {rate:.3f} over {policy.max_error_rate:g}")
    p95 = challenger.latency_p95_ms
    if p95 is not None and p95 > policy.max_latency_ms:
        reasons.append(f"p95 latency {p95:.1f} ms over {policy.max_latency_ms:g} ms")
    if prediction_shift is not None and prediction_shift > policy.max_prediction_shift:
        what = "class" if challenger.classes is not None else "prediction"
        reasons.append(
            f"{what} distribution moved {prediction_shift:.3f} (JS distance) from the "
            f"champion's, over {policy.max_prediction_shift:g}"
        )
    return CanaryVerdict(
        passed=not reasons,
        reasons=reasons,
        challenger=challenger,
        champion=champion,
        prediction_shift=prediction_shift,
    )


Trigger = Literal["drift", "schedule", "manual"]
MAX_SLOTS = 100_000  # catching up a schedule: at most this many missed slots are skipped


def retrain_refusal(
    policy: RetrainPolicy,
    state: RetrainState | None,
    labels: int,
    now: datetime,
    trigger: Trigger = "drift",
) -> str | None:
    """Why a retrain may not start now, or ``None`` when it may. By hand, only the lease
    and the labels count; drift needs ``on_drift``, a schedule needs ``schedule``."""
    if state is not None and state.running:
        return f"retrain {state.run} is still running"
    if trigger == "drift" and not policy.on_drift:
        return "the retrain policy does not retrain on drift"
    if trigger == "schedule" and not policy.schedule:
        return "the retrain policy has no schedule"
    manual = trigger == "manual"
    if state is not None and not manual:
        ready = state.started_at + timedelta(hours=policy.cooldown_hours)
        if now < ready:
            return f"cooling down until {ready.isoformat()}"
    if labels < policy.min_labels:
        return f"{labels} labelled rows, fewer than {policy.min_labels}"
    return None


def retrain_slot(
    expression: str, anchor: datetime, last: datetime | None, now: datetime
) -> datetime | None:
    """The latest slot of a retrain schedule in ``(last or anchor, now]``, or ``None``.
    Missed slots collapse into the latest one: a retrain catches up once, not per slot."""
    schedule = parse_schedule(expression)
    slot = schedule.next_after(last or anchor, anchor)
    if slot is None or slot > now:
        return None
    for _ in range(MAX_SLOTS):
        following = schedule.next_after(slot, anchor)
        if following is None or following > now:
            break
        slot = following
    return slot
