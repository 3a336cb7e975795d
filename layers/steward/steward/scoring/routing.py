"""Champion/challenger routing: which variant scores each record, sticky by a key's hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

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


def assign(
    policy: TrafficPolicy, keys: Sequence[str]
) -> dict[tuple[int, Variant], np.ndarray | None]:
    """The rows of a batch per (version, variant), in order of first appearance; None stands
    for every row, so that champion-only and shadow traffic never hash keys one by one."""
    if policy.champion is None:
        raise ValueError("no champion: the model has no production version")
    if policy.challenger is None or (policy.challenger_percent == 0 and policy.mode == "canary"):
        return {(policy.champion, Variant.CHAMPION): None}
    if policy.mode == "shadow":
        return {
            (policy.champion, Variant.CHAMPION): None,
            (policy.challenger, Variant.SHADOW): None,
        }
    groups: dict[tuple[int, Variant], list[int]] = {}
    for i, key in enumerate(keys):
        r = route(policy, key)
        groups.setdefault((r.version, r.variant), []).append(i)
    rows = len(keys)
    return {
        job: None if len(members) == rows else np.asarray(members, dtype=np.intp)
        for job, members in groups.items()
    }
