"""Request-scoped helpers for routes: who is calling, and response shapes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from steward.api.auth import identity_from_event
from steward.config import settings
from steward.domain.identity import Identity


def caller(router: Router) -> Identity:
    return identity_from_event(router.current_event.raw_event, settings())


def created(body: BaseModel) -> Response[str]:
    return Response(201, "application/json", body.model_dump_json())
