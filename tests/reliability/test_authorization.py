"""Every mutating endpoint, tried by every role and by no identity, through the API handler.

Roles come from ``steward.domain.identity`` (the local users file's defaults): ``admin``
holds every role, ``alice`` is a data scientist, ``bob`` an approver, ``viewer`` a viewer,
``mallory`` is an authenticated user with no role, and ``None`` sends no identity.
Scoring (predict, feedback) is authorized by API Gateway's IAM auth in front of the scoring
function, not by role: it is not in this matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from steward import wiring
from tests.factories import model_spec, register_body
from tests.moto_stack import Stack
from tests.reliability.conftest import USERS, approve, call, create, register

CALLERS: list[str | None] = ["admin", "alice", "bob", "viewer", "mallory", None]
WRITERS = {"admin", "alice", "bob"}  # data scientists and approvers (admin holds both)
MODEL = "authz"


@dataclass
class Endpoint:
    method: str
    path: str
    allowed: set[str]
    body: Callable[[str], Any]
    prepare: Callable[[str], str] | None = None  # returns the path to call, after setup


def _pending_version(user: str) -> str:
    number = register(MODEL)
    return f"/models/{MODEL}/versions/{number}/decision"


def _with_previous_production(_: str) -> str:
    reg = wiring.registry()
    alice = USERS.identify("alice")
    reg.set_alias(MODEL, "production", 2, alice)
    reg.set_alias(MODEL, "production", 1, alice)
    return f"/models/{MODEL}/rollback"


ENDPOINTS = [
    Endpoint("POST", "/models", {"admin", "alice"}, lambda u: model_spec(f"authz-new-{u}")),
    Endpoint("POST", f"/models/{MODEL}/versions", {"admin", "alice"}, lambda u: register_body()),
    Endpoint(
        "POST",
        "",
        {"admin", "bob"},
        lambda u: {"decision": "approve", "comment": f"by {u}"},
        prepare=_pending_version,
    ),
    Endpoint("PUT", f"/models/{MODEL}/aliases/production", WRITERS, lambda u: {"version": 1}),
    Endpoint("PUT", f"/models/{MODEL}/aliases/staging", WRITERS, lambda u: {"version": 2}),
    Endpoint("PUT", f"/models/{MODEL}/traffic", WRITERS, lambda u: {"champion": 1}),
    Endpoint(
        "POST",
        "",
        WRITERS,
        lambda u: {"reason": f"by {u}"},
        prepare=_with_previous_production,
    ),
    Endpoint("POST", f"/models/{MODEL}/drift/evaluate", WRITERS, lambda u: {}),
    Endpoint(
        "PATCH",
        f"/models/{MODEL}",
        WRITERS,
        lambda u: {"deployment": {"canary_percent": 20}, "reason": f"by {u}"},
    ),
]


@pytest.fixture(scope="module")
def authz_model(stack: Stack) -> str:
    create(MODEL)
    for _ in range(2):
        approve(MODEL, register(MODEL))
    wiring.registry().set_alias(MODEL, "production", 1, USERS.identify("alice"))
    return MODEL


@pytest.mark.parametrize("user", CALLERS, ids=lambda u: u or "anonymous")
@pytest.mark.parametrize(
    "endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path or e.prepare.__name__}"
)
def test_only_allowed_roles_succeed(
    stack: Stack, authz_model: str, endpoint: Endpoint, user: str | None
) -> None:
    name = user or "anonymous"
    path = endpoint.prepare(name) if endpoint.prepare else endpoint.path
    before = wiring.registry().get_model(MODEL)
    answer = call(stack, endpoint.method, path, endpoint.body(name), user=user)
    if user in endpoint.allowed:
        assert 200 <= answer.status < 300, answer.raw
    else:
        assert answer.status == 403, answer.raw
        assert answer.body["error"] == "forbidden"
        after = wiring.registry().get_model(MODEL)
        assert (after.rev, after.latest_version) == (before.rev, before.latest_version)


def test_the_registrant_never_decides_even_holding_the_approver_role(
    stack: Stack, authz_model: str
) -> None:
    """admin holds every role: it may register and approve, but never its own version."""
    answer = call(stack, "POST", f"/models/{MODEL}/versions", register_body(), user="admin")
    assert answer.status == 201
    number = answer.body["version"]
    from tests.reliability.conftest import wait_status

    wait_status(MODEL, number, "PENDING_APPROVAL")
    for decision in ("approve", "reject"):
        answer = call(
            stack,
            "POST",
            f"/models/{MODEL}/versions/{number}/decision",
            {"decision": decision, "comment": "mine"},
            user="admin",
        )
        assert answer.status == 403 and answer.body["error"] == "forbidden"
    version = wiring.registry().get_version(MODEL, number)
    assert version.status.value == "PENDING_APPROVAL" and version.approvals == []


def test_unapproved_versions_never_take_production_or_traffic(
    stack: Stack, authz_model: str
) -> None:
    number = register(MODEL)  # pending approval
    for method, path, body in (
        ("PUT", f"/models/{MODEL}/aliases/production", {"version": number}),
        ("PUT", f"/models/{MODEL}/traffic", {"champion": number}),
        (
            "PUT",
            f"/models/{MODEL}/traffic",
            {"champion": 1, "challenger": number, "challenger_percent": 10},
        ),
    ):
        answer = call(stack, method, path, body, user="admin")
        assert answer.status == 409, answer.raw
    assert wiring.registry().get_model(MODEL).aliases["production"] != number
