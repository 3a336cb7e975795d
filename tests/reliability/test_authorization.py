"""Every mutating endpoint, tried by every role and by no identity, through the handlers,
with identities as the local platform names them (a header) and as AWS does (the IAM
principal's ARN, its roles from the deployment's role mapping).

Local users come from ``steward.domain.identity``: ``admin`` holds every role, ``alice`` is a
data scientist, ``bob`` an approver, ``viewer`` a viewer, ``app`` an application,
``mallory`` an authenticated user with no role, and ``None`` sends no identity. In IAM mode
each name stands for a principal of the same roles (``PRINCIPALS``): Identity Center users
for alice and bob, a role for admin and app, an IAM user for viewer, and for mallory
``federated-user/admin``, a name its caller picked; every IAM call also sends a forged
``X-Steward-User: admin`` header.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from steward import config, wiring
from steward.registry.requests import ModelUpdate
from tests.factories import model_spec, register_body
from tests.moto_stack import Stack
from tests.reliability.conftest import (
    USERS,
    approve,
    call,
    create,
    register,
    register_unstarted,
    wait_status,
)

CALLERS: list[str | None] = ["admin", "alice", "bob", "viewer", "app", "mallory", None]
WRITERS = {"admin", "alice", "bob"}  # data scientists and approvers (admin holds both)
APPROVERS = {"admin", "bob"}
MODEL = "authz"
POLICY_MODEL = "authz-policy"
ACCOUNT = "111122223333"
SSO = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_{{}}_0a1b2c3d4e5f6789/{{}}"
ROLE_MAPPING = {
    "principals": [
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/steward-admins", "roles": ["admin"]},
        {"arn": f"arn:aws:iam::{ACCOUNT}:user/auditor-*", "roles": ["viewer"]},
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/scoring-app", "roles": ["application"]},
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/ml-team", "roles": ["data_scientist", "approver"]},
    ],
    "identity_center": [
        {"permission_set": "StewardDataScientist", "roles": ["data_scientist"]},
        {"permission_set": "StewardApprover", "roles": ["approver"]},
    ],
    "tags": [{"key": "steward-role", "value": "viewer", "roles": ["viewer"]}],
}
PRINCIPALS: dict[str, str] = {
    "admin": f"arn:aws:sts::{ACCOUNT}:assumed-role/steward-admins/ops",
    "alice": SSO.format("StewardDataScientist", "alice@example.com"),
    "bob": SSO.format("StewardApprover", "bob@example.com"),
    "viewer": f"arn:aws:iam::{ACCOUNT}:user/auditor-1",
    "app": f"arn:aws:sts::{ACCOUNT}:assumed-role/scoring-app/i-0123456789abcdef0",
    "mallory": f"arn:aws:sts::{ACCOUNT}:federated-user/admin",
}
FORGED = {"X-Steward-User": "admin"}


@contextlib.contextmanager
def iam_mode() -> Iterator[None]:
    """The functions as deployed: IAM identities, roles from ``ROLE_MAPPING``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEWARD_AUTH_MODE", "iam")
        patch.setenv("STEWARD_ROLE_MAPPING", json.dumps(ROLE_MAPPING))
        config.settings.cache_clear()
        try:
            yield
        finally:
            patch.undo()
            config.settings.cache_clear()


@pytest.fixture(params=["local", "iam"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """How the functions learn who calls: the local header, or the IAM principal."""
    with iam_mode() if request.param == "iam" else contextlib.nullcontext():
        yield request.param


def as_caller(stack: Stack, mode: str, user: str | None, method: str, path: str, body: Any) -> Any:
    if mode == "local":
        return call(stack, method, path, body, user=user)
    principal = PRINCIPALS.get(user or "")
    return call(stack, method, path, body, user=None, principal=principal, headers=FORGED)


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


def _unserving_version(_: str) -> str:
    return f"/models/{MODEL}/versions/{register_unstarted(MODEL)}/archive"


def _strict_policy(_: str) -> str:
    """The policy model back to medium risk and no auto-approval before each call."""
    body = {"risk_tier": "medium", "deployment": {"auto_deploy": False}}
    wiring.registry().update_model(
        POLICY_MODEL, ModelUpdate.model_validate(body), USERS.identify("admin")
    )
    return f"/models/{POLICY_MODEL}"


ENDPOINTS = [
    Endpoint("POST", "/models", {"admin", "alice"}, lambda u: model_spec(f"authz-new-{u}")),
    Endpoint(
        "POST",
        "/models",
        {"admin"},  # a low tier takes an approver, creating a data scientist: admin only
        lambda u: model_spec(f"authz-low-{u}", risk_tier="low"),
    ),
    Endpoint("POST", f"/models/{MODEL}/versions", {"admin", "alice"}, lambda u: register_body()),
    Endpoint(
        "POST",
        "",
        APPROVERS,
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
    Endpoint(
        "PATCH",
        "",
        APPROVERS,
        lambda u: {"risk_tier": "low", "reason": f"by {u}"},
        prepare=_strict_policy,
    ),
    Endpoint(
        "PATCH",
        "",
        APPROVERS,
        lambda u: {"deployment": {"auto_deploy": False, "auto_approve_low_risk": True}},
        prepare=_strict_policy,
    ),
    Endpoint(
        "POST",
        "",
        APPROVERS,
        lambda u: {"comment": f"retired by {u}"},
        prepare=_unserving_version,
    ),
    Endpoint(
        "POST",
        f"/models/{MODEL}/feedback",
        {"admin", "alice", "app"},
        lambda u: {"records": [{"request_id": f"r-{u}", "label": 1}]},
    ),
]


@pytest.fixture(scope="module")
def authz_model(stack: Stack) -> str:
    create(MODEL)
    create(POLICY_MODEL)
    for _ in range(2):
        approve(MODEL, register(MODEL))
    wiring.registry().set_alias(MODEL, "production", 1, USERS.identify("alice"))
    return MODEL


def _state(path: str) -> tuple[int, int, int]:
    parts = path.split("/")
    name = parts[2] if len(parts) > 2 else MODEL
    model = wiring.registry().get_model(name)
    archived = sum(
        v.status.value == "ARCHIVED" for v in wiring.registry().list_versions(name).items
    )
    return model.rev, model.latest_version, archived


@pytest.mark.parametrize("user", CALLERS, ids=lambda u: u or "anonymous")
@pytest.mark.parametrize(
    "endpoint",
    ENDPOINTS,
    ids=lambda e: f"{e.method} {e.path or e.prepare.__name__}",  # type: ignore[union-attr]
)
def test_only_allowed_roles_succeed(
    stack: Stack, authz_model: str, mode: str, endpoint: Endpoint, user: str | None
) -> None:
    name = f"{mode}-{user or 'anonymous'}"
    path = endpoint.prepare(name) if endpoint.prepare else endpoint.path
    before = _state(path)
    answer = as_caller(stack, mode, user, endpoint.method, path, endpoint.body(name))
    if user in endpoint.allowed:
        assert 200 <= answer.status < 300, answer.raw
    else:
        assert answer.status == 403, answer.raw
        assert answer.body["error"] == "forbidden"
        assert _state(path) == before


def test_the_registrant_never_decides_even_holding_the_approver_role(
    stack: Stack, authz_model: str
) -> None:
    """admin holds every role: it may register and approve, but never its own version."""
    answer = call(stack, "POST", f"/models/{MODEL}/versions", register_body(), user="admin")
    assert answer.status == 201
    number = answer.body["version"]
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


def test_a_data_scientist_is_told_which_field_takes_an_approver(
    stack: Stack, authz_model: str, mode: str
) -> None:
    spec = model_spec(f"authz-self-{mode}", risk_tier="low")
    spec["deployment"]["auto_approve_low_risk"] = True
    answer = as_caller(stack, mode, "alice", "POST", "/models", spec)
    assert answer.status == 403, answer.raw
    assert "risk_tier" in answer.body["message"]
    assert "deployment.auto_approve_low_risk" in answer.body["message"]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("admin", (f"arn:aws:iam::{ACCOUNT}:role/steward-admins", ["admin"], "iam")),
        ("alice", ("alice@example.com", ["data_scientist"], "identity-center")),
        ("bob", ("bob@example.com", ["approver"], "identity-center")),
        ("viewer", (f"arn:aws:iam::{ACCOUNT}:user/auditor-1", ["viewer"], "iam")),
        ("app", (f"arn:aws:iam::{ACCOUNT}:role/scoring-app", ["application"], "iam")),
        ("mallory", (f"arn:aws:sts::{ACCOUNT}:federated-user/admin", [], "iam")),
    ],
)
def test_me_in_iam_mode(stack: Stack, user: str, expected: tuple[str, list[str], str]) -> None:
    with iam_mode():
        answer = as_caller(stack, "iam", user, "GET", "/me", None)
    assert answer.status == 200, answer.raw
    assert (answer.body["user"], answer.body["roles"], answer.body["source"]) == expected


def test_me_with_a_tag_rule_reads_the_roles_iam_tags(stack: Stack) -> None:
    import boto3

    boto3.client("iam").create_role(
        RoleName="auditors",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
        Tags=[{"Key": "steward-role", "Value": "viewer"}],
    )
    account = boto3.client("sts").get_caller_identity()["Account"]
    with iam_mode():
        principal = f"arn:aws:sts::{account}:assumed-role/auditors/session"
        answer = call(stack, "GET", "/me", user=None, principal=principal)
    assert answer.status == 200, answer.raw
    assert answer.body["roles"] == ["viewer"]


def test_me_in_local_mode(stack: Stack) -> None:
    answer = call(stack, "GET", "/me", user="admin")
    assert answer.body == {"user": "admin", "roles": ["admin"], "source": "local"}


def test_one_person_through_two_permission_sets_never_approves_their_own_version(
    stack: Stack, authz_model: str
) -> None:
    """alice registers through the data scientist permission set and tries to approve
    through the approver one: she is one person, so she is refused; bob approves, and the
    audit names each person."""
    alice_ds = SSO.format("StewardDataScientist", "alice@example.com")
    alice_ap = SSO.format("StewardApprover", "alice@example.com")
    with iam_mode():
        number = _register_as(stack, alice_ds)
        decision = {"decision": "approve", "comment": "mine"}
        path = f"/models/{MODEL}/versions/{number}/decision"
        refused = call(stack, "POST", path, decision, user=None, principal=alice_ap)
        assert refused.status == 403, refused.raw
        decided = call(stack, "POST", path, decision, user=None, principal=PRINCIPALS["bob"])
        assert decided.status == 200, decided.raw
    events = wiring.registry().audit_log.all_events(MODEL)
    actors = {e.action: e.actor for e in events if e.target == f"{MODEL}/{number}"}
    assert actors["version.registered"] == "alice@example.com"
    assert actors["version.approved"] == "bob@example.com"


def test_two_people_sharing_an_ordinary_role_are_one_user(stack: Stack, authz_model: str) -> None:
    """The session name of an ordinary assumed role is chosen by its caller: two sessions
    of a role holding both roles are one user, who never approves what it registered."""
    team = f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-team/{{}}"
    with iam_mode():
        number = _register_as(stack, team.format("alice"))
        path = f"/models/{MODEL}/versions/{number}/decision"
        decision = {"decision": "approve", "comment": "not me"}
        answer = call(stack, "POST", path, decision, user=None, principal=team.format("bob"))
    assert answer.status == 403, answer.raw
    assert wiring.registry().get_version(MODEL, number).approvals == []


def _register_as(stack: Stack, principal: str) -> int:
    path = f"/models/{MODEL}/versions"
    answer = call(stack, "POST", path, register_body(), user=None, principal=principal)
    assert answer.status == 201, answer.raw
    number: int = answer.body["version"]
    wait_status(MODEL, number, "PENDING_APPROVAL")
    return number
