"""One value per loaded model version, built once per warm function.

A version's artifact never changes under its (name, version, sha256), so what is built from
it (the loaded runtime, the explainer) is kept for the life of the function. The build runs
under a lock, once per key, even when threads ask at the same time; a hit takes no lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from steward.domain.models import ModelVersion

T = TypeVar("T")
Key = tuple[str, int, str]


class PerVersion(Generic[T]):
    """``get(version, build)``: the value cached for the version, or ``build()``'s, kept."""

    def __init__(self) -> None:
        self._values: dict[Key, T] = {}
        self._lock = threading.Lock()

    def get(self, version: ModelVersion, build: Callable[[], T]) -> T:
        key = (version.name, version.version, version.sha256)
        value = self._values.get(key)
        if value is None:
            with self._lock:
                value = self._values.get(key)
                if value is None:
                    value = build()
                    self._values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)
