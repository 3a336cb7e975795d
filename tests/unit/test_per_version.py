"""The per-version cache behind the scorer's runtimes and explainers: one build per
(name, version, sha256), even when threads ask at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from steward.domain.models import ModelVersion
from steward.scoring.per_version import PerVersion


def _version(number: int, sha256: str = "a" * 64) -> ModelVersion:
    return ModelVersion.model_construct(name="m", version=number, sha256=sha256)


def test_one_build_per_version_under_concurrent_gets() -> None:
    cache: PerVersion[object] = PerVersion()
    builds: list[int] = []
    start = threading.Barrier(8)

    def build() -> object:
        builds.append(1)
        time.sleep(0.01)  # a slow load: the other threads arrive while it runs
        return object()

    def get(_: int) -> object:
        start.wait()
        return cache.get(_version(1), build)

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(get, range(8)))
    assert len(builds) == 1 and all(v is values[0] for v in values)


def test_another_version_or_artifact_is_built_apart() -> None:
    cache: PerVersion[str] = PerVersion()
    assert cache.get(_version(1), lambda: "v1") == "v1"
    assert cache.get(_version(1), lambda: "again") == "v1"
    assert cache.get(_version(2), lambda: "v2") == "v2"
    assert cache.get(_version(1, "b" * 64), lambda: "v1b") == "v1b"
    assert len(cache) == 3
