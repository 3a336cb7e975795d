"""Who is calling, and what they may do."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from steward.domain.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    DATA_SCIENTIST = "data_scientist"
    APPROVER = "approver"
    VIEWER = "viewer"
    # A client system that scores and sends feedback (ground-truth labels).
    APPLICATION = "application"


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    roles: frozenset[Role] = frozenset()
    # Where the identity came from: local | iam | identity-center | cognito (see GET /me).
    source: str = "local"

    @property
    def anonymous(self) -> bool:
        return self.user == ""

    def has(self, role: Role) -> bool:
        return Role.ADMIN in self.roles or role in self.roles

    def require(self, *roles: Role) -> None:
        """Raise ``Forbidden`` unless the caller holds one of ``roles`` (admin holds all)."""
        if self.anonymous:
            raise Forbidden("this action needs an authenticated caller")
        if not any(self.has(role) for role in roles):
            names = " or ".join(role.value for role in roles)
            raise Forbidden(f"this action needs the {names} role")


ANONYMOUS = Identity(user="")

DEFAULT_USERS: dict[str, list[str]] = {
    "admin": [Role.ADMIN.value],
    "alice": [Role.DATA_SCIENTIST.value],
    "bob": [Role.APPROVER.value],
    "carol": [Role.APPROVER.value],
    "scheduler": [Role.DATA_SCIENTIST.value],
    "viewer": [Role.VIEWER.value],
    "app": [Role.APPLICATION.value],
}


class UserDirectory:
    """The local platform's users (``STEWARD_USERS``, or these defaults) and their roles.

    Never used in AWS: there roles come from the deployment's role mapping only
    (:mod:`steward.domain.role_mapping`)."""

    def __init__(self, users: dict[str, list[str]] | None = None) -> None:
        self._users = {
            name: frozenset(Role(r) for r in roles)
            for name, roles in (users or DEFAULT_USERS).items()
        }

    def identify(self, user: str, extra_roles: frozenset[Role] = frozenset()) -> Identity:
        return Identity(user=user, roles=self._users.get(user, frozenset()) | extra_roles)
