"""The caller as Steward sees them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from steward.api.context import caller

router = Router()


class Me(BaseModel):
    user: str
    roles: list[str]
    source: str


@router.get("/me", summary="Who the caller is: user, roles and where they come from")
def me() -> Me:
    who = caller(router)
    return Me(user=who.user, roles=sorted(r.value for r in who.roles), source=who.source)
