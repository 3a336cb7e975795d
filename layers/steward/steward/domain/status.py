"""The version lifecycle as a transition table, and the approval rules."""

from __future__ import annotations

from enum import StrEnum

from steward.domain.errors import Conflict, Forbidden
from steward.domain.identity import Identity, Role
from steward.domain.models import ModelVersion, Status

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.REGISTERED: frozenset({Status.VALIDATING, Status.REJECTED, Status.ARCHIVED}),
    Status.VALIDATING: frozenset({Status.PENDING_APPROVAL, Status.REJECTED}),
    Status.PENDING_APPROVAL: frozenset({Status.APPROVED, Status.REJECTED, Status.ARCHIVED}),
    Status.APPROVED: frozenset({Status.ARCHIVED}),
    Status.REJECTED: frozenset({Status.ARCHIVED}),
    Status.ARCHIVED: frozenset(),
}

DEPLOYABLE = frozenset({Status.APPROVED})


class Action(StrEnum):
    """What can happen to a version; each action has one target status."""

    START_VALIDATION = "start_validation"
    PASS_VALIDATION = "pass_validation"  # noqa: S105 - not a password
    FAIL_VALIDATION = "fail_validation"
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    ARCHIVE = "archive"


TARGET: dict[Action, Status] = {
    Action.START_VALIDATION: Status.VALIDATING,
    Action.PASS_VALIDATION: Status.PENDING_APPROVAL,
    Action.FAIL_VALIDATION: Status.REJECTED,
    Action.APPROVE: Status.APPROVED,
    Action.REJECT: Status.REJECTED,
    Action.EXPIRE: Status.REJECTED,
    Action.ARCHIVE: Status.ARCHIVED,
}
# Where each action may start from (a subset of what TRANSITIONS allows).
SOURCES: dict[Action, frozenset[Status]] = {
    Action.START_VALIDATION: frozenset({Status.REGISTERED}),
    Action.PASS_VALIDATION: frozenset({Status.VALIDATING}),
    Action.FAIL_VALIDATION: frozenset({Status.REGISTERED, Status.VALIDATING}),
    Action.APPROVE: frozenset({Status.PENDING_APPROVAL}),
    Action.REJECT: frozenset({Status.PENDING_APPROVAL}),
    Action.EXPIRE: frozenset({Status.PENDING_APPROVAL}),
    Action.ARCHIVE: frozenset(
        {Status.REGISTERED, Status.PENDING_APPROVAL, Status.APPROVED, Status.REJECTED}
    ),
}


def next_status(current: Status, action: Action) -> Status:
    """The status ``action`` leads to from ``current``; :class:`Conflict` if not allowed."""
    if current not in SOURCES[action]:
        raise Conflict(f"cannot {action.value.replace('_', ' ')} a {current.value} version")
    target = TARGET[action]
    check_transition(current, target)
    return target


def can_transition(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: Status, target: Status) -> None:
    if not can_transition(current, target):
        raise Conflict(f"a {current.value} version cannot become {target.value}")


def check_decision(version: ModelVersion, caller: Identity) -> None:
    """Who may approve or reject: an approver (or admin) who did not register the version."""
    caller.require(Role.APPROVER)
    if caller.user == version.created_by:
        raise Forbidden("the registrant of a version cannot decide on it")
    if version.status is not Status.PENDING_APPROVAL:
        raise Conflict(f"version {version.version} is {version.status.value}, not pending approval")


def check_deployable(version: ModelVersion, alias: str) -> None:
    """Only an APPROVED version may hold ``production`` or take live traffic."""
    if version.status not in DEPLOYABLE:
        raise Conflict(
            f"version {version.version} is {version.status.value}; only APPROVED versions "
            f"may hold {alias}"
        )
