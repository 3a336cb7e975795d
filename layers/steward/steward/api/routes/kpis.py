"""Practice KPIs, computed from the audit trail alone, and the periodic model review."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler.api_gateway import Router

from steward.api.context import caller
from steward.api.params import query_time
from steward.domain.audit import AuditEvent
from steward.domain.errors import ValidationFailed
from steward.domain.identity import Role
from steward.domain.kpis import Kpis, kpis
from steward.registry.requests import Review
from steward.wiring import registry

router = Router()


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime]:
    start, end = query_time(since, "since"), query_time(until, "until") or datetime.now(UTC)
    if start is not None and start > end:
        raise ValidationFailed("since must not be after until")
    return start, end


@router.get("/kpis", summary="The portfolio's practice KPIs, from the audit trail")
def portfolio_kpis(since: str | None = None, until: str | None = None) -> Kpis:
    start, end = _window(since, until)
    return kpis(registry().audit_log.by_stream(), since=start, until=end)


@router.get("/models/<name>/kpis", summary="A model's practice KPIs, from its audit trail")
def model_kpis(name: str, since: str | None = None, until: str | None = None) -> Kpis:
    start, end = _window(since, until)
    reg = registry()
    reg.get_model(name)
    events = list(reg.audit_log.all_events(name))
    return kpis({name: events}, since=start, until=end, model=name)


@router.post("/models/<name>/review", summary="Record the periodic review of a model")
def review(name: str, request: Review) -> AuditEvent:
    """An approver reviewed the model (its policy, reports and use): ``model.reviewed``."""
    who = caller(router)
    who.require(Role.APPROVER)
    reg = registry()
    reg.get_model(name)
    reg.record(name, "model.reviewed", name, request.comment, actor=who.user)
    head = reg.audit_log.head(name)
    assert head is not None
    return head
