"""Aliases, traffic and rollback."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from steward.api.context import caller
from steward.domain.errors import ValidationFailed
from steward.domain.models import ALIAS_NAME, Model, TrafficPolicy
from steward.registry.requests import AliasUpdate, Rollback
from steward.wiring import registry

router = Router()


@router.put("/models/<name>/aliases/<alias>", summary="Point an alias at a version")
def set_alias(name: str, alias: str, update: AliasUpdate) -> Model:
    import re

    if not re.match(ALIAS_NAME, alias):
        raise ValidationFailed(f"alias must match {ALIAS_NAME}")
    return registry().set_alias(name, alias, update.version, caller(router))


@router.put("/models/<name>/traffic", summary="Champion and challenger (canary or shadow)")
def set_traffic(name: str, policy: TrafficPolicy) -> Model:
    return registry().set_traffic(name, policy, caller(router))


@router.post("/models/<name>/rollback", summary="Production back to the previous version")
def rollback(name: str, request: Rollback | None = None) -> Model:
    reason = request.reason if request else "rollback"
    return registry().rollback(name, caller(router), reason)
