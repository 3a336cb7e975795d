"""Liveness."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from steward import __version__

router = Router()


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", summary="Liveness and version")
def health() -> Health:
    return Health(status="ok", version=__version__)
