"""IAM adapter: the tags of the calling IAM user or role, for the role mapping's tag rules.

API Gateway hands a function the caller's ARN but neither its session tags nor its
principal tags, so they are read from IAM (``iam:ListRoleTags`` / ``iam:ListUserTags``) and
kept for a minute per warm function. Session tags (``sts:TagSession``) are not visible this
way: a tag rule matches tags set on the role or user itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code
from steward.domain.errors import DependencyUnavailable
from steward.domain.role_mapping import Principal

TAGS_TTL_S = 60.0
# The principal is gone, or lives in an account whose IAM this one cannot read: no tags.
NO_TAGS = frozenset(
    {"NoSuchEntity", "NoSuchEntityException", "AccessDenied", "AccessDeniedException"}
)


class IamPrincipalTags:
    def __init__(
        self,
        client: Any,
        *,
        ttl_s: float = TAGS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._iam = client
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def __call__(self, principal: Principal) -> dict[str, str]:
        now = self._clock()
        cached = self._cache.get(principal.arn)
        if cached is not None and cached[0] > now:
            return cached[1]
        tags = self._read(principal)
        self._cache[principal.arn] = (now + self._ttl, tags)
        return tags

    def _read(self, principal: Principal) -> dict[str, str]:
        if principal.kind == "assumed-role":
            call, key = self._iam.list_role_tags, {"RoleName": principal.name}
        elif principal.kind == "user":
            call, key = self._iam.list_user_tags, {"UserName": principal.name}
        else:
            return {}
        tags: dict[str, str] = {}
        marker: dict[str, str] = {}
        try:
            while True:
                page = call(**key, **marker)
                tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
                if not page.get("IsTruncated"):
                    return tags
                marker = {"Marker": page["Marker"]}
        except ClientError as exc:
            if error_code(exc) in NO_TAGS:
                return {}
            raise DependencyUnavailable("could not read the caller's IAM tags; retry") from None
