"""Caller identity from an API Gateway proxy event.

In AWS the identity comes from API Gateway's authorizer: the IAM principal's ARN
(``requestContext.identity.userArn``) or the Cognito user pool's claims; its roles come only
from the deployment's role mapping (:mod:`steward.domain.role_mapping`). Only when
``STEWARD_AUTH_MODE=local`` (the local platform, which synth refuses to build for AWS) is
the ``X-Steward-User`` header trusted, with the local users file, and never inside AWS
Lambda's runtime, whatever the function's environment says.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import Any

from steward.config import Settings
from steward.domain.identity import ANONYMOUS, Identity, UserDirectory
from steward.domain.role_mapping import Principal, parse_principal

logger = logging.getLogger(__name__)
USER_HEADER = "x-steward-user"
# IAM tags of the calling user or role, for the mapping's tag rules (None: not looked up).
TagReader = Callable[[Principal], dict[str, str]]


def in_aws_lambda() -> bool:
    """True inside a Lambda runtime (the local platform runs its handlers in-process)."""
    return "LAMBDA_TASK_ROOT" in os.environ


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value) if value is not None else None
    return None


def cognito_groups(value: Any) -> list[str]:
    """``cognito:groups`` as API Gateway passes it: a list, or one string (``"a,b"`` or
    ``"[a b]"``, as REST APIs flatten the token's array)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip().removeprefix("[").removesuffix("]")
    return [g for g in re.split(r"[,\s]+", text) if g]


def identity_from_event(
    event: dict[str, Any], settings: Settings, tags: TagReader | None = None
) -> Identity:
    ctx = event.get("requestContext") or {}
    mapping = settings.role_mapping
    if settings.auth_mode == "local":
        if in_aws_lambda():
            # Synth refuses this mode outside the local platform; a function whose
            # environment was changed after deployment still trusts no header.
            logger.error("STEWARD_AUTH_MODE=local in AWS Lambda: every caller is anonymous")
            return ANONYMOUS
        user = (_header(event, USER_HEADER) or "").strip()
        return UserDirectory(settings.users).identify(user) if user else ANONYMOUS
    if settings.auth_mode == "cognito":
        claims = (ctx.get("authorizer") or {}).get("claims") or {}
        user = str(claims.get("cognito:username") or claims.get("sub") or "")
        if not user:
            return ANONYMOUS
        roles = mapping.cognito_roles(cognito_groups(claims.get("cognito:groups")))
        return Identity(user=f"cognito:{user}", roles=frozenset(roles), source="cognito")
    principal = parse_principal(str((ctx.get("identity") or {}).get("userArn") or ""))
    if principal is None:
        return ANONYMOUS
    found = tags(principal) if tags is not None and mapping.tags else None
    source = "identity-center" if principal.permission_set is not None else "iam"
    return Identity(
        user=mapping.person(principal),
        roles=frozenset(mapping.iam_roles(principal, found)),
        source=source,
    )
