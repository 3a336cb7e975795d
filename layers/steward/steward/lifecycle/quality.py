"""A version's quality on labelled rows, by its task."""

from __future__ import annotations

from typing import Any

from steward.domain import metrics
from steward.domain.frames import columns_from_records
from steward.domain.models import Flavor, Signature, Task
from steward.runtimes.loader import load_runtime


def _numbers(labels: list[Any]) -> list[float] | None:
    try:
        return [float(v) for v in labels]
    except (TypeError, ValueError):
        return None


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
    numbers = _numbers(labels)
    if task is Task.REGRESSION and numbers is not None:
        return metrics.regression(numbers, prediction.values)
    if task is Task.CLASSIFICATION and numbers is not None:
        scores = prediction.scores if prediction.scores is not None else prediction.values
        return metrics.classification(numbers, scores)
    return metrics.decision(labels, prediction.values.tolist())
