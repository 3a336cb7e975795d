"""Caller identity from an API Gateway proxy event.

In AWS the identity comes from the authorizer (IAM principal or Cognito claims). Only when
``STEWARD_AUTH_MODE=local`` (the local platform) is the ``X-Steward-User`` header trusted.
"""

from __future__ import annotations

from typing import Any

from steward.config import Settings
from steward.domain.identity import ANONYMOUS, Identity, Role, UserDirectory

USER_HEADER = "x-steward-user"


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value) if value is not None else None
    return None


def _principal_name(arn: str) -> str:
    # arn:aws:iam::123:user/alice -> alice ; arn:aws:sts::123:assumed-role/Role/session -> Role
    resource = arn.split(":", 5)[-1]
    parts = resource.split("/")
    if parts[0] == "assumed-role" and len(parts) >= 2:
        return parts[1]
    return parts[-1]


def identity_from_event(event: dict[str, Any], settings: Settings) -> Identity:
    directory = UserDirectory(settings.users)
    ctx = event.get("requestContext") or {}
    if settings.auth_mode == "local":
        user = (_header(event, USER_HEADER) or "").strip()
        return directory.identify(user) if user else ANONYMOUS
    if settings.auth_mode == "cognito":
        claims = (ctx.get("authorizer") or {}).get("claims") or {}
        user = claims.get("cognito:username") or claims.get("sub") or ""
        groups = claims.get("cognito:groups") or ""
        names = groups.split(",") if isinstance(groups, str) else list(groups)
        roles = frozenset(Role(g) for g in names if g in Role.__members__.values())
        return directory.identify(str(user), roles) if user else ANONYMOUS
    arn = (ctx.get("identity") or {}).get("userArn") or ""
    return directory.identify(_principal_name(arn)) if arn else ANONYMOUS
