"""The audit trail: read and verify (no route changes or removes an event)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from steward.api.context import caller
from steward.api.schemas import AuditList, AuditVerification
from steward.domain.identity import Role
from steward.domain.models import MODEL_NAME
from steward.wiring import registry

router = Router()

Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/models/<name>/audit", summary="A model's audit trail, oldest first")
def model_audit(name: str, limit: Limit = 100, next_token: str | None = None) -> AuditList:
    reg = registry()
    reg.get_model(name)
    page = reg.audit_log.events(name, limit, next_token)
    return AuditList(items=page.items, next_token=page.next_token)


@router.get("/audit", summary="Every audit event, newest first")
def all_audit(limit: Limit = 100, next_token: str | None = None) -> AuditList:
    page = registry().audit_log.recent(limit, next_token)
    return AuditList(items=page.items, next_token=page.next_token)


@router.get("/audit/verify", summary="Compare the audit trail with its write-once copy")
def verify(model: Annotated[str | None, Query(pattern=MODEL_NAME)] = None) -> AuditVerification:
    """The hash chains, and every event against the Object Lock copy: events missing from
    the table, altered in it, or never copied are reported with the first divergence."""
    caller(router).require(Role.APPROVER, Role.DATA_SCIENTIST, Role.VIEWER)
    reg = registry()
    reports = [reg.verify_audit(model)] if model else reg.verify_all()
    return AuditVerification(ok=all(r.ok for r in reports), streams=reports)
