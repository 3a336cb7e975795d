"""Models: create, list, read, update policies."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from steward.api.context import caller, created
from steward.api.schemas import ModelList
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


@router.get("/models", summary="List models with production version and health")
def list_models(limit: Limit = 50, next_token: str | None = None) -> ModelList:
    page = registry().list_models(limit, next_token)
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
