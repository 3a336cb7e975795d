"""Administration: upkeep of derived data (the inventory's index entries, the drift
schedules)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from steward.api.context import caller
from steward.domain.identity import Role
from steward.domain.inventory import IndexBackfill, ScheduleRefresh
from steward.wiring import registry

router = Router()


@router.post(
    "/admin/inventory/backfill",
    summary="Write the inventory index entries that models lack (admin)",
    description=(
        "Examines up to `limit` models in name order after `next_token` and writes the "
        "index entries (`INV#<facet>`) their facets call for: models created before the "
        "index existed have none. Idempotent; call again with `next_token` until it is "
        "absent (`steward admin backfill-inventory` does)."
    ),
)
def backfill_inventory(
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    next_token: str | None = None,
) -> IndexBackfill:
    caller(router).require(Role.ADMIN)
    return registry().store.backfill_index(limit, next_token)


@router.post(
    "/admin/schedules/refresh",
    summary="Put the models' drift schedules again (admin)",
    description=(
        "Puts the drift schedule of up to `limit` models in name order after `next_token` "
        "again, as creating them did: after an upgrade that moves the schedules' target "
        "(issue 20: the start queue instead of the drift function), older schedules keep "
        "the old target until then. Idempotent; call again with `next_token` until it is "
        "absent (`steward admin refresh-schedules` does)."
    ),
)
def refresh_schedules(
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    next_token: str | None = None,
) -> ScheduleRefresh:
    return registry().refresh_schedules(limit, next_token, caller(router))
