"""Partial results across process boundaries (map children -> reduce): gzipped JSON.

Generic over :class:`~steward.drift.evaluate.Partial`'s fields (pydantic validates the
dataclass from its own annotations), so a change to those fields needs no change here; the
round-trip test in ``tests/unit/test_drift_plan.py`` says whether it still holds.
"""

from __future__ import annotations

import gzip
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from steward.drift.evaluate import Partial


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Partial)


def dumps(partial: Partial) -> bytes:
    return gzip.compress(_adapter().dump_json(partial), compresslevel=5, mtime=0)


def loads(data: bytes) -> Partial:
    partial: Partial = _adapter().validate_json(gzip.decompress(data))
    return partial
