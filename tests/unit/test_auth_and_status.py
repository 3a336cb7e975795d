from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.api.auth import identity_from_event
from steward.config import Settings
from steward.domain.errors import Conflict
from steward.domain.identity import Role
from steward.domain.models import Status
from steward.domain.status import (
    TRANSITIONS,
    Action,
    can_transition,
    check_transition,
    next_status,
)


def _event(headers: dict[str, str], ctx: dict | None = None) -> dict:  # type: ignore[type-arg]
    return {"headers": headers, "requestContext": ctx or {}}


def test_header_identity_only_in_local_mode() -> None:
    event = _event({"X-Steward-User": "admin"})
    local = identity_from_event(event, Settings(auth_mode="local"))
    assert local.user == "admin" and local.has(Role.APPROVER)
    iam = identity_from_event(event, Settings(auth_mode="iam"))
    assert iam.anonymous


def test_a_header_names_nobody_inside_aws_lambda_even_in_local_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Synth refuses the header mode outside the local platform; a deployed function whose
    environment was switched to it afterwards still trusts no header."""
    event = _event({"X-Steward-User": "admin"})
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    assert identity_from_event(event, Settings(auth_mode="local")).anonymous
    monkeypatch.delenv("LAMBDA_TASK_ROOT")
    assert identity_from_event(event, Settings(auth_mode="local")).user == "admin"


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


# The lifecycle of the brief, written out independently of the implementation.
EXPECTED: dict[tuple[str, str], str] = {
    ("REGISTERED", "start_validation"): "VALIDATING",
    ("REGISTERED", "fail_validation"): "REJECTED",
    ("VALIDATING", "pass_validation"): "PENDING_APPROVAL",
    ("VALIDATING", "fail_validation"): "REJECTED",
    ("PENDING_APPROVAL", "approve"): "APPROVED",
    ("PENDING_APPROVAL", "reject"): "REJECTED",
    ("PENDING_APPROVAL", "expire"): "REJECTED",
    ("REGISTERED", "archive"): "ARCHIVED",
    ("PENDING_APPROVAL", "archive"): "ARCHIVED",
    ("APPROVED", "archive"): "ARCHIVED",
    ("REJECTED", "archive"): "ARCHIVED",
}


@given(st.sampled_from(list(Status)), st.sampled_from(list(Action)))
def test_transition_function_equals_the_table(status: Status, action: Action) -> None:
    expected = EXPECTED.get((status.value, action.value))
    if expected is None:
        with pytest.raises(Conflict):
            next_status(status, action)
    else:
        assert next_status(status, action).value == expected
        assert can_transition(status, Status(expected))


@given(st.lists(st.sampled_from(list(Action)), max_size=12))
def test_no_sequence_of_actions_reaches_approved_without_approve(actions: list[Action]) -> None:
    status = Status.REGISTERED
    for action in actions:
        try:
            status = next_status(status, action)
        except Conflict:
            continue
        if status is Status.APPROVED:
            assert action is Action.APPROVE
