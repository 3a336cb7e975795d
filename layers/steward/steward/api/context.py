"""Request-scoped helpers for routes: who is calling, and response shapes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from steward.api.auth import identity_from_event
from steward.config import settings
from steward.domain.identity import Identity


def caller(router: Router) -> Identity:
    cfg = settings()
    tags = None
    if cfg.auth_mode == "iam" and cfg.role_mapping.tags:
        from steward.wiring import principal_tags

        tags = principal_tags()
    return identity_from_event(router.current_event.raw_event, cfg, tags)


def created(body: BaseModel) -> Response[str]:
    return Response(201, "application/json", body.model_dump_json())
