"""The portfolio's drift runs over a period: for each model of a page of the inventory, how
its latest run within the period ended (evaluated, skipped, failed), or why there was none
(not due in the period, or due and not run: still queued, or dead-lettered).

Bounded per request, whatever the number of models or runs: one page of the inventory
(``limit`` models, its index), then one batch read of their latest runs (``RUN#LATEST``, one
small record per model written by the run itself: the report's step, the skip, the state
machine's catch). It never lists executions, reports or audit events. The latest run only:
a failure earlier in the period followed by a success shows as evaluated.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from steward.domain.errors import ValidationFailed
from steward.domain.inventory import ModelFilter
from steward.domain.models import Model
from steward.domain.schedule import EPOCH, offset_of, parse_schedule
from steward.ports import ModelStore
from steward.ports.monitoring import ReportStore

Outcome = Literal["evaluated", "skipped", "failed", "missed"]
OUTCOMES: tuple[Outcome, ...] = ("evaluated", "skipped", "failed", "missed")
MAX_PERIOD = timedelta(days=31)


class ModelRun(BaseModel):
    """One model in the period. ``reason`` for skipped: ``no_logs``, ``not_in_production``
    or ``not_due`` (its schedule has no firing in the period); for failed: the state
    machine's error; for missed: ``not_run`` (due, and no run recorded: still in the start
    queue, or in its dead-letter queue)."""

    model: str
    outcome: Outcome
    reason: str | None = None
    schedule: str
    at: str | None = None  # when the run ended
    report_id: str | None = None
    drift_detected: bool | None = None
    execution: str | None = None


class Portfolio(BaseModel):
    since: str
    until: str
    counts: dict[str, int]  # of this page
    items: list[ModelRun]
    next_token: str | None = None


def due(model: Model, since: datetime, until: datetime) -> bool:
    """Whether the model's schedule fires within ``[since, until]``: a rate on the model's
    own phase (:func:`~steward.domain.schedule.spread_start`), a cron or an at as written."""
    schedule = parse_schedule(model.monitoring.schedule)
    if schedule.every is not None:
        if until - since >= schedule.every:
            return True
        anchor = EPOCH + offset_of(model.name, schedule.every)
    else:
        anchor = None
    firing = schedule.next_after(since - timedelta(microseconds=1), anchor)
    return firing is not None and firing <= until


def of_model(
    model: Model, run: dict[str, Any] | None, since: datetime, until: datetime
) -> ModelRun:
    base = {"model": model.name, "schedule": model.monitoring.schedule}
    if run is not None and since <= datetime.fromisoformat(run["at"]) <= until:
        fields = ("reason", "at", "report_id", "drift_detected", "execution")
        return ModelRun(**base, outcome=run["outcome"], **{f: run.get(f) for f in fields})
    if not due(model, since, until):
        return ModelRun(**base, outcome="skipped", reason="not_due")
    return ModelRun(**base, outcome="missed", reason="not_run")


def portfolio(
    store: ModelStore,
    reports: ReportStore,
    since: datetime,
    until: datetime,
    limit: int,
    token: str | None = None,
    where: ModelFilter | None = None,
) -> Portfolio:
    if not since < until or until - since > MAX_PERIOD:
        raise ValidationFailed("the period must have since < until and span at most 31 days")
    page = store.list_models(limit, token, where)
    runs = reports.latest_runs([m.name for m in page.items])
    items = [of_model(m, runs.get(m.name), since, until) for m in page.items]
    counts = {o: sum(i.outcome == o for i in items) for o in OUTCOMES}
    return Portfolio(
        since=since.isoformat(),
        until=until.isoformat(),
        counts=counts,
        items=items,
        next_token=page.next_token,
    )
