"""Practice KPIs from the audit trail alone: one pure function over audit events.

What each figure reads (every event up to ``until``; a sample or a count belongs to the
window when the event that completes it is in ``[since, until]``; shares describe ``until``):

- ``lead_time_s``: ``version.registered`` -> the first event putting that version in the
  production alias (``alias.set``, ``traffic.set`` or ``production.rollback``).
- ``validation_s``: ``version.validating`` -> ``version.pending_approval`` (or the rejection
  that ends validation); ``approval_wait_s``: ``version.pending_approval`` -> the decision
  (``version.approved``, ``version.rejected``, ``version.archived``).
- ``drift_to_redeploy_s``: the first ``drift.reported`` with drift (or degraded performance)
  since the last production
  change -> the next production change to a newer version (the retrained one).
- ``deployments``: changes of the production version that are not rollbacks; ``rollbacks``:
  ``production.rollback`` events; ``rollback_rate`` = rollbacks / deployments.
- ``change_failure_rate``: deployments *failed* within :data:`FAILURE_WINDOW` (7 days) after
  them: rolled back, or a ``drift.reported`` on that version with degraded performance
  (labels below the registered metrics), while it served. Counted at the deployment's time.
- ``monitored_share``: production models with a drift schedule; ``fresh_report_share``:
  production models with a report within :data:`FRESH_REPORT` (2 days); ``labelled_share``:
  production models whose latest report had labels (measured performance).
- ``reviews_overdue``: models (not all archived) whose last ``model.reviewed`` (an approver's
  audited action), or creation, is older than the risk tier's :data:`REVIEW_EVERY`.
- ``estimate_error_auc``: per ``drift.reported`` with both a label-free (CBPE) estimate and
  labels, |estimated - realized| ROC AUC on the same labelled rows (p50, p90, n).
- ``value``: the business value of the window's reports, ``realized`` (labelled) and
  ``estimated`` (CBPE) summed, with their ``units`` (a portfolio sum is meaningful only when
  the models share one unit).
- ``trend``: the same figures per :data:`PERIOD` (7 days) ending at ``until``, oldest first,
  at most :data:`MAX_PERIODS` of them (back to ``since`` or the first event): lead time p50
  and n (by the production event's time), deployments, value realized and estimated, and the
  estimate's error p50 (by the report's time).

A model's figures read only its own stream, so the portfolio is their combination: counts
add up, shares are the sum of numerators over the sum of denominators, percentiles come from
the union of the per-model samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from steward.domain.audit import AuditEvent

PRODUCTION = "production"
FAILURE_WINDOW = timedelta(days=7)
FRESH_REPORT = timedelta(days=2)
REVIEW_EVERY: dict[str, timedelta] = {
    "high": timedelta(days=365),
    "medium": timedelta(days=730),
    "low": timedelta(days=1095),
}
PERIOD = timedelta(days=7)
MAX_PERIODS = 26
DURATIONS = ("lead_time_s", "approval_wait_s", "validation_s", "drift_to_redeploy_s")
# The steps of the lead time, in order: the step breakdown.
STEPS = ("to_validation", "validation", "approval_wait", "to_production")
COUNTS = (
    "deployments",
    "rollbacks",
    "failed",
    "production",
    "monitored",
    "fresh",
    "labelled",
    "overdue",
)
DECISIONS = {"version.approved", "version.rejected", "version.archived"}


class Percentiles(BaseModel):
    p50: float | None = None
    p90: float | None = None
    n: int = 0


class Step(Percentiles):
    step: str


class Period(BaseModel):
    start: datetime
    end: datetime
    lead_time_p50: float | None = None
    lead_time_n: int = 0
    deployments: int = 0
    value_realized: float | None = None
    value_estimated: float | None = None
    estimate_error_auc_p50: float | None = None


class Kpis(BaseModel):
    model: str | None = None  # None: the portfolio
    since: datetime | None = None
    until: datetime
    lead_time_s: Percentiles
    approval_wait_s: Percentiles
    validation_s: Percentiles
    drift_to_redeploy_s: Percentiles
    deployments: int
    rollbacks: int
    rollback_rate: float | None
    change_failure_rate: float | None
    monitored_share: float | None
    fresh_report_share: float | None
    labelled_share: float | None
    reviews_overdue: int
    production_models: int
    steps: list[Step]
    estimate_error_auc: Percentiles = Percentiles()
    # {"realized", "estimated", "units"} of the window's drift reports
    value: dict[str, Any] = {}
    trend: list[Period] = []


@dataclass
class Tally:
    """One model's (or the portfolio's) raw figures: samples and counts that add up."""

    samples: dict[str, list[float]] = field(
        default_factory=lambda: {k: [] for k in (*DURATIONS, *STEPS)}
    )
    deployments: int = 0
    rollbacks: int = 0
    failed: int = 0
    production: int = 0
    monitored: int = 0
    fresh: int = 0
    labelled: int = 0
    overdue: int = 0
    # (at, figure, value) of what the trend and the value add up: "lead_time_s",
    # "deployment", "value_realized", "value_estimated", "estimate_error_auc"
    timed: list[tuple[datetime, str, float]] = field(default_factory=list)
    units: set[str] = field(default_factory=set)

    def __add__(self, other: Tally) -> Tally:
        total = Tally({k: v + other.samples[k] for k, v in self.samples.items()})
        for name in COUNTS:
            setattr(total, name, getattr(self, name) + getattr(other, name))
        total.timed = self.timed + other.timed
        total.units = self.units | other.units
        return total


def percentiles(values: Iterable[float]) -> Percentiles:
    """Nearest-rank p50 and p90 (a value that occurred)."""
    ordered = sorted(values)
    if not ordered:
        return Percentiles()

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return Percentiles(p50=rank(0.5), p90=rank(0.9), n=len(ordered))


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _production(after: Mapping[str, Any] | None) -> int | bool | None:
    """The production version an event sets; False when it does not touch the aliases."""
    if not after or "aliases" not in after or not isinstance(after["aliases"], dict):
        return False
    value = after["aliases"].get(PRODUCTION)
    return int(value) if value is not None else None


def _version(target: str) -> int | None:
    _, _, number = target.rpartition("/")
    return int(number) if number.isdigit() else None


class _Trail:
    """One model's stream read in time order: the state the figures need."""

    def __init__(self, until: datetime, since: datetime | None) -> None:
        self.until, self.since, self.out = until, since, Tally()
        self.registered: dict[int, datetime] = {}
        self.validating: dict[int, datetime] = {}
        self.pending: dict[int, datetime] = {}
        self.approved: dict[int, datetime] = {}
        self.archived: set[int] = set()
        self.served: set[int] = set()  # versions in production at least once
        self.current: int | None = None
        self.drifted: datetime | None = None  # first drift since the last production change
        self.deployments: list[tuple[int, datetime, bool]] = []  # version, at, failed
        self.schedule, self.risk = "", "medium"
        self.reviewed: datetime | None = None
        self.last_report: AuditEvent | None = None

    def inside(self, at: datetime) -> bool:
        return self.since is None or at >= self.since

    def sample(self, key: str, start: datetime | None, end: datetime) -> None:
        if start is not None and self.inside(end):
            self.out.samples[key].append((end - start).total_seconds())
            if key == "lead_time_s":
                self.out.timed.append((end, key, (end - start).total_seconds()))

    def fail(self, number: int, at: datetime) -> None:
        for i, (version, when, failed) in enumerate(self.deployments):
            if version == number and not failed and at - when <= FAILURE_WINDOW:
                self.deployments[i] = (version, when, True)

    def read(self, event: AuditEvent) -> None:
        action, after, number = event.action, event.after or {}, _version(event.target)
        if action.startswith("model."):
            self._model(event, after)
        elif action == "drift.reported":
            self._report(event, after)
        elif number is not None and action.startswith("version."):
            self._lifecycle(action, number, event.at)
        production = _production(event.after)
        if production is not False and production != self.current:
            self._serve(event, production if isinstance(production, int) else None)

    def _model(self, event: AuditEvent, after: Mapping[str, Any]) -> None:
        monitoring = after.get("monitoring")
        if isinstance(monitoring, dict):
            self.schedule = str(monitoring.get("schedule") or "")
        self.risk = str(after.get("risk_tier") or self.risk)
        if event.action == "model.reviewed" or self.reviewed is None:
            self.reviewed = event.at

    def _report(self, event: AuditEvent, after: Mapping[str, Any]) -> None:
        self.last_report = event
        for key in ("value_realized", "value_estimated", "estimate_error_auc"):
            found = after.get(key)
            number = isinstance(found, int | float) and not isinstance(found, bool)
            if number and self.inside(event.at):
                self.out.timed.append((event.at, key, float(found)))  # type: ignore[arg-type]
                if key.startswith("value_") and after.get("value_unit"):
                    self.out.units.add(str(after["value_unit"]))
        degraded = bool(after.get("degraded"))
        if (degraded or after.get("drift_detected")) and self.drifted is None:
            self.drifted = event.at
        if degraded and after.get("version") == self.current and self.current is not None:
            self.fail(self.current, event.at)

    def _lifecycle(self, action: str, number: int, at: datetime) -> None:
        if action == "version.registered":
            self.registered[number] = at
        elif action == "version.validating":
            self.validating[number] = at
            self.sample("to_validation", self.registered.get(number), at)
        elif action == "version.pending_approval":
            self.pending[number] = at
            self.sample("validation_s", self.validating.get(number), at)
            self.sample("validation", self.validating.get(number), at)
        elif action in DECISIONS:
            if number in self.pending:
                waited = self.pending.pop(number)
                self.sample("approval_wait_s", waited, at)
                self.sample("approval_wait", waited, at)
            elif action == "version.rejected" and number in self.validating:
                self.sample("validation_s", self.validating[number], at)
            if action == "version.approved":
                self.approved[number] = at
            if action == "version.archived":
                self.archived.add(number)
            self.validating.pop(number, None)

    def _serve(self, event: AuditEvent, number: int | None) -> None:
        previous, self.current = self.current, number
        if number is None:
            return
        if event.action == "production.rollback":
            if self.inside(event.at):
                self.out.rollbacks += 1
            if previous is not None:
                self.fail(previous, event.at)
        else:
            self.deployments.append((number, event.at, False))
            if self.inside(event.at):
                self.out.timed.append((event.at, "deployment", 1.0))
            if number not in self.served:
                self.sample("lead_time_s", self.registered.get(number), event.at)
                self.sample("to_production", self.approved.get(number), event.at)
            if self.drifted is not None and (previous is None or number > previous):
                self.sample("drift_to_redeploy_s", self.drifted, event.at)
        self.served.add(number)
        self.drifted = None

    def result(self) -> Tally:
        out, until = self.out, self.until
        chosen = [d for d in self.deployments if self.inside(d[1])]
        out.deployments = len(chosen)
        out.failed = sum(1 for d in chosen if d[2])
        if self.current is not None:
            out.production = 1
            out.monitored = int(bool(self.schedule))
            if self.last_report is not None:
                out.fresh = int(until - self.last_report.at <= FRESH_REPORT)
                out.labelled = int(bool((self.last_report.after or {}).get("labelled")))
        live = self.registered.keys() - self.archived
        if self.reviewed is not None and (live or self.current is not None):
            period = REVIEW_EVERY.get(self.risk, REVIEW_EVERY["medium"])
            out.overdue = int(until - self.reviewed > period)
        return out


def tally(events: Iterable[AuditEvent], *, until: datetime, since: datetime | None = None) -> Tally:
    """One model's figures from its own stream (events later than ``until`` are ignored)."""
    trail = _Trail(until, since)
    for event in sorted((e for e in events if e.at <= until), key=lambda e: (e.at, e.seq)):
        trail.read(event)
    return trail.result()


def summarize(
    total: Tally, *, until: datetime, since: datetime | None = None, model: str | None = None
) -> Kpis:
    s = total.samples
    return Kpis(
        model=model,
        since=since,
        until=until,
        lead_time_s=percentiles(s["lead_time_s"]),
        approval_wait_s=percentiles(s["approval_wait_s"]),
        validation_s=percentiles(s["validation_s"]),
        drift_to_redeploy_s=percentiles(s["drift_to_redeploy_s"]),
        deployments=total.deployments,
        rollbacks=total.rollbacks,
        rollback_rate=_ratio(total.rollbacks, total.deployments),
        change_failure_rate=_ratio(total.failed, total.deployments),
        monitored_share=_ratio(total.monitored, total.production),
        fresh_report_share=_ratio(total.fresh, total.production),
        labelled_share=_ratio(total.labelled, total.production),
        reviews_overdue=total.overdue,
        production_models=total.production,
        steps=[Step(step=k, **percentiles(s[k]).model_dump()) for k in STEPS],
        estimate_error_auc=percentiles(_figures(total.timed, "estimate_error_auc")),
        value={
            "realized": _sum(_figures(total.timed, "value_realized")),
            "estimated": _sum(_figures(total.timed, "value_estimated")),
            "units": sorted(total.units),
        },
        trend=trend(total.timed, until=until, since=since),
    )


def _figures(
    timed: Iterable[tuple[datetime, str, float]],
    key: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[float]:
    return [
        v
        for at, k, v in timed
        if k == key and (start is None or at > start) and (end is None or at <= end)
    ]


def _sum(values: list[float]) -> float | None:
    return math.fsum(values) if values else None


def trend(
    timed: list[tuple[datetime, str, float]],
    *,
    until: datetime,
    since: datetime | None = None,
    period: timedelta = PERIOD,
) -> list[Period]:
    """The figures per period ``(end - period, end]``, the last ending at ``until``."""
    first = min((at for at, _, _ in timed), default=until)
    start = max(since or first, first)
    count = min(MAX_PERIODS, max(1, math.ceil((until - start) / period)))
    periods = []
    for i in range(count, 0, -1):
        end = until - (i - 1) * period
        begin = end - period
        lead = percentiles(_figures(timed, "lead_time_s", begin, end))
        errors = percentiles(_figures(timed, "estimate_error_auc", begin, end))
        periods.append(
            Period(
                start=begin,
                end=end,
                lead_time_p50=lead.p50,
                lead_time_n=lead.n,
                deployments=len(_figures(timed, "deployment", begin, end)),
                value_realized=_sum(_figures(timed, "value_realized", begin, end)),
                value_estimated=_sum(_figures(timed, "value_estimated", begin, end)),
                estimate_error_auc_p50=errors.p50,
            )
        )
    return periods


def kpis(
    streams: Mapping[str, Iterable[AuditEvent]],
    *,
    until: datetime,
    since: datetime | None = None,
    model: str | None = None,
) -> Kpis:
    """The KPIs of one model (``model``) or of the portfolio (every stream)."""
    names = [model] if model is not None else sorted(streams)
    total = Tally()
    for name in names:
        total = total + tally(streams.get(name, ()), until=until, since=since)
    return summarize(total, until=until, since=since, model=model)
