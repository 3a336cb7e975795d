"""The version lifecycle as a transition table, and the approval rules."""

from __future__ import annotations

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
