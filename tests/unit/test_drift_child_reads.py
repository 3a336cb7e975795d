"""A drift map child reads its batch once: each prediction file is opened once, for the drift
counts and the join with the labels together."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import IO

from steward.adapters.memory import MemoryLogFiles
from steward.drift.service import DriftService
from tests.unit.test_drift_runs import _fill, _protect
from tests.unit.test_drift_service import T0, service  # noqa: F401  (fixture)


def test_a_child_opens_each_prediction_file_once(service: DriftService) -> None:  # noqa: F811
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 3, 500, scored=True)
    _protect(service, "plan")
    opened: Counter[str] = Counter()
    plain = logs.open

    @contextmanager
    def counted(key: str) -> Iterator[IO[bytes]]:
        opened[key] += 1
        with plain(key) as file:
            yield file

    logs.open = counted  # type: ignore[method-assign]
    run = service.plan("churn", T0, T0 + timedelta(hours=2))
    child = service.evaluate_keys(run, run.keys)
    assert child.partial.files == 3 and child.outcomes.rows == 1500
    assert child.outcomes.labelled and child.outcomes.groups["plan"]
    assert {k: n for k, n in opened.items() if k.startswith("predictions/")} == dict.fromkeys(
        run.keys, 1
    )
