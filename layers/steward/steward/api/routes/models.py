"""Models: create, list, read, update policies."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from steward.api.context import caller, created
from steward.api.schemas import ModelList
from steward.domain.errors import BadRequest, describe_errors
from steward.domain.inventory import ModelFilter
from steward.domain.models import Model, ModelSpec
from steward.registry.requests import ModelUpdate
from steward.wiring import registry

router = Router()

Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/models",
    summary="Create a model",
    responses={201: {"description": "Created", "content": {"application/json": {"model": Model}}}},
)
def create_model(spec: ModelSpec) -> Response[str]:
    return created(registry().create_model(spec, caller(router)))


@router.get(
    "/models",
    summary="List models with production version and health, filtered",
    description=(
        "Every filter given must hold. A page may hold fewer than `limit` models while "
        "`next_token` is set (each call examines a bounded slice of the index): read until "
        "`next_token` is absent. Bad filters are a 400."
    ),
)
def list_models(
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    next_token: str | None = None,
    owner: Annotated[str | None, Query(description="who answers for the model")] = None,
    risk_tier: Annotated[str | None, Query(description="low | medium | high")] = None,
    task: Annotated[str | None, Query(description="classification | regression | decision")] = None,
    status: Annotated[
        str | None, Query(description="the production version's status, or `none`")
    ] = None,
    drift: Annotated[
        str | None, Query(description="latest verdict: detected | clear | none")
    ] = None,
    tag: Annotated[list[str] | None, Query(description="key:value, repeatable")] = None,
    q: Annotated[str | None, Query(description="words in the name or description")] = None,
) -> ModelList:
    raw: dict[str, object] = {
        "owner": owner,
        "risk_tier": risk_tier,
        "task": task,
        "status": status,
    }
    raw |= {"drift": drift, "tag": tuple(tag or ()), "q": q}
    try:
        where = ModelFilter.model_validate(raw)
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc.errors())) from None
    page = registry().list_models(limit, next_token, where)
    return ModelList(items=page.items, next_token=page.next_token)


@router.get("/models/<name>", summary="Read a model")
def get_model(name: str) -> Model:
    return registry().get_model(name)


@router.patch(
    "/models/<name>",
    summary="Change a model's risk tier, or replace its monitoring, deployment or retrain policy",
)
def update_model(name: str, update: ModelUpdate) -> Model:
    return registry().update_model(name, update, caller(router))
