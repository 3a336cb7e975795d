"""A version's quality on labelled rows, by its task (the metrics drift reports use)."""

from __future__ import annotations

from typing import Any

from steward.domain.frames import columns_from_records
from steward.domain.models import Flavor, Signature, Task
from steward.runtimes.loader import load_runtime
from steward.stats.performance import holdout


def quality(
    flavor: Flavor,
    artifact: bytes,
    signature: Signature,
    task: Task,
    rows: list[dict[str, Any]],
    labels: list[Any],
) -> dict[str, float]:
    runtime = load_runtime(flavor, artifact, signature, task)
    prediction = runtime.predict(columns_from_records(rows, signature))
    return holdout(
        task is Task.REGRESSION,
        labels,
        prediction.values,
        prediction.scores,
        prediction.probabilities,
        prediction.classes,
    )
