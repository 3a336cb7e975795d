"""Champion/challenger routing: which variant scores each record, sticky by a key's hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from steward.domain.models import TrafficPolicy


class Variant(StrEnum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"
    SHADOW = "shadow"
    PINNED = "pinned"


@dataclass(frozen=True)
class Route:
    version: int
    variant: Variant
    shadow_version: int | None = None  # also scored and logged, never answered


def bucket(key: str) -> int:
    """A stable bucket in [0, 10000) for a routing key (the same key, the same bucket)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


def route(policy: TrafficPolicy, key: str) -> Route:
    if policy.champion is None:
        raise ValueError("no champion: the model has no production version")
    if policy.challenger is None or (policy.challenger_percent == 0 and policy.mode == "canary"):
        return Route(policy.champion, Variant.CHAMPION)
    if policy.mode == "shadow":
        return Route(policy.champion, Variant.CHAMPION, shadow_version=policy.challenger)
    if bucket(key) < policy.challenger_percent * 100:
        return Route(policy.challenger, Variant.CHALLENGER)
    return Route(policy.champion, Variant.CHAMPION)
