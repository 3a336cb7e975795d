"""Load any flavor into a :class:`Runtime`, and validate an artifact against its contract."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from steward.domain.errors import ValidationFailed
from steward.domain.frames import Columns, n_rows
from steward.domain.models import Flavor, Signature, Task
from steward.runtimes.base import Prediction, Runtime
from steward.runtimes.probabilities import tolerance
from steward.runtimes.safety import refuse_pickle

DECISION_FLAVORS = frozenset({Flavor.LINEAR, Flavor.LOGISTIC, Flavor.SCORECARD, Flavor.RULES})
MAX_CLASSES = 1000
# Flavors whose libraries are too heavy for a zip function (scikit-learn and skops): in AWS
# they are served by the scoring image function, to which the zip function forwards.
IMAGE_FLAVORS = frozenset({Flavor.SKLEARN})


def load_runtime(flavor: Flavor, data: bytes, signature: Signature, task: Task) -> Runtime:
    refuse_pickle(data)
    if flavor in DECISION_FLAVORS:
        from steward.runtimes.decision import load_decision

        return load_decision(flavor.value, data, signature, task)
    if flavor is Flavor.ONNX:
        from steward.runtimes.onnx import OnnxRuntime

        return OnnxRuntime(data, signature, task)
    if flavor is Flavor.SKLEARN:
        from steward.runtimes.sklearn import SklearnRuntime

        return SklearnRuntime(data, signature, task)
    raise ValidationFailed(f"unsupported flavor {flavor}")


@dataclass
class ValidationResult:
    runtime: Runtime
    prediction: Prediction | None
    checks: dict[str, str] = field(default_factory=dict)


def check_output(prediction: Prediction, task: Task, rows: int) -> str:
    """Does the output match the declared task? Returns a description, raises otherwise."""
    if len(prediction) != rows:
        raise ValidationFailed(f"the model returned {len(prediction)} outputs for {rows} rows")
    values = prediction.values
    if task is Task.REGRESSION:
        if values.dtype.kind not in "fiu" or not np.all(np.isfinite(values.astype(np.float64))):
            raise ValidationFailed("a regression model must return finite numbers")
        return "finite numeric outputs"
    if task is Task.CLASSIFICATION:
        if prediction.scores is not None:
            scores = prediction.scores.astype(np.float64)
            if not np.all((scores >= 0) & (scores <= 1)):
                raise ValidationFailed("classification scores must be probabilities in [0, 1]")
        if prediction.probabilities is not None:
            check_probabilities(prediction.probabilities)
        distinct = len({str(v) for v in values.tolist()})
        if distinct > MAX_CLASSES:
            raise ValidationFailed(f"{distinct} distinct classes: is this a regression model?")
        return f"{distinct} class(es) in the reference rows"
    return "decision outcomes for every row"


def check_probabilities(probabilities: np.ndarray) -> None:
    """Every class probability in [0, 1] and each row summing to 1 (runtimes absorb float
    rounding first: :func:`steward.runtimes.probabilities.settle`)."""
    if not np.all((probabilities >= 0) & (probabilities <= 1)):
        raise ValidationFailed("class probabilities must lie in [0, 1]")
    worst = float(np.abs(probabilities.sum(axis=1) - 1.0).max(initial=0.0))
    if worst > tolerance(np.float64):
        raise ValidationFailed(
            f"class probabilities must sum to 1 for every row (off by up to {worst:.3g})"
        )


def validate_artifact(
    flavor: Flavor, data: bytes, signature: Signature, task: Task, reference: Columns | None
) -> ValidationResult:
    """The artifact loads, scores the reference rows, and its output matches the task."""
    runtime = load_runtime(flavor, data, signature, task)
    checks = {"loads": f"{flavor.value} runtime loaded"}
    if reference is None or n_rows(reference) == 0:
        checks["scores_reference"] = "skipped: no reference rows"
        return ValidationResult(runtime, None, checks)
    try:
        prediction = runtime.predict(reference)
    except ValidationFailed:
        raise
    except Exception:  # a runtime's own failure on valid input: the artifact is at fault
        raise ValidationFailed("the model failed to score the reference rows") from None
    checks["scores_reference"] = f"scored {n_rows(reference)} reference rows"
    checks["output_matches_task"] = check_output(prediction, task, n_rows(reference))
    return ValidationResult(runtime, prediction, checks)
