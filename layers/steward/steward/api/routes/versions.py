"""Versions: register, list, read, decide; the approvals inbox; profiles and cards."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from steward.api.context import caller, created
from steward.api.schemas import VersionList, VersionView
from steward.domain.errors import BadRequest
from steward.domain.models import Status
from steward.registry.card import model_card
from steward.registry.requests import Archive, Decision, RegisterVersion
from steward.wiring import registry

router = Router()

Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/models/<name>/versions",
    summary="Register a version and start its approval workflow",
    responses={
        201: {"description": "Registered", "content": {"application/json": {"model": VersionView}}}
    },
)
def register_version(name: str, request: RegisterVersion) -> Response[str]:
    version = registry().register_version(name, request, caller(router))
    return created(VersionView.of(version))


@router.get("/models/<name>/versions", summary="List versions, newest first")
def list_versions(name: str, limit: Limit = 50, next_token: str | None = None) -> VersionList:
    page = registry().list_versions(name, limit, next_token)
    return VersionList(items=[VersionView.of(v) for v in page.items], next_token=page.next_token)


@router.get("/models/<name>/versions/<version>", summary="Read a version")
def get_version(name: str, version: int) -> VersionView:
    return VersionView.of(registry().get_version(name, version))


@router.get("/models/<name>/versions/<version>/profile", summary="The reference profile")
def get_profile(name: str, version: int) -> dict[str, Any]:
    return registry().get_version(name, version).profile or {}


@router.get(
    "/models/<name>/versions/<version>/card",
    summary="The model card (Markdown or HTML)",
    responses={
        200: {
            "description": "The card, Markdown unless Accept asks for text/html",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
def get_card(name: str, version: int) -> Response[str]:
    reg = registry()
    card = model_card(reg.get_model(name), reg.get_version(name, version))
    accept = router.current_event.headers.get("accept") or ""
    if "text/html" in accept:
        return Response(200, "text/html; charset=utf-8", card.html)
    return Response(200, "text/markdown; charset=utf-8", card.markdown)


@router.post("/models/<name>/versions/<version>/decision", summary="Approve or reject")
def decide(name: str, version: int, decision: Decision) -> VersionView:
    return VersionView.of(registry().decide(name, version, decision, caller(router)))


@router.post(
    "/models/<name>/versions/<version>/archive",
    summary="Retire a version that serves no alias or traffic (approver or admin)",
)
def archive(name: str, version: int, body: Archive) -> VersionView:
    return VersionView.of(registry().archive(name, version, caller(router), body.comment))


@router.get("/approvals", summary="The approval inbox")
def approvals(
    status: str = "pending", limit: Limit = 50, next_token: str | None = None
) -> VersionList:
    if status != "pending":
        raise BadRequest("only status=pending is supported")
    page = registry().pending_approvals(limit, next_token)
    items = [VersionView.of(v) for v in page.items if v.status is Status.PENDING_APPROVAL]
    return VersionList(items=items, next_token=page.next_token)
