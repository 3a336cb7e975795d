from __future__ import annotations

import pytest

from steward.api.auth import identity_from_event
from steward.config import Settings
from steward.domain.errors import Conflict
from steward.domain.identity import Role
from steward.domain.models import Status
from steward.domain.status import TRANSITIONS, can_transition, check_transition


def _event(headers: dict[str, str], ctx: dict | None = None) -> dict:  # type: ignore[type-arg]
    return {"headers": headers, "requestContext": ctx or {}}


def test_header_identity_only_in_local_mode() -> None:
    event = _event({"X-Steward-User": "admin"})
    local = identity_from_event(event, Settings(auth_mode="local"))
    assert local.user == "admin" and local.has(Role.APPROVER)
    iam = identity_from_event(event, Settings(auth_mode="iam"))
    assert iam.anonymous


def test_iam_and_cognito_identities() -> None:
    ctx = {"identity": {"userArn": "arn:aws:sts::1:assumed-role/bob/session"}}
    assert identity_from_event(_event({}, ctx), Settings(auth_mode="iam")).user == "bob"
    claims = {"authorizer": {"claims": {"cognito:username": "zed", "cognito:groups": "approver"}}}
    ident = identity_from_event(_event({}, claims), Settings(auth_mode="cognito"))
    assert ident.user == "zed" and ident.has(Role.APPROVER) and not ident.has(Role.ADMIN)


def test_settings_read_users_json() -> None:
    s = Settings.from_env({"STEWARD_USERS": '{"x": ["approver"]}', "STEWARD_AUTH_MODE": "local"})
    assert s.users == {"x": ["approver"]}


def test_transition_table() -> None:
    assert can_transition(Status.PENDING_APPROVAL, Status.APPROVED)
    assert not can_transition(Status.REGISTERED, Status.APPROVED)
    assert not TRANSITIONS[Status.ARCHIVED]
    for status in Status:
        assert not can_transition(status, Status.REGISTERED)
    with pytest.raises(Conflict):
        check_transition(Status.REJECTED, Status.APPROVED)
