"""Decision models as JSON: linear, logistic, scorecard (binned points) and rule sets.

They are data, not code: validated by pydantic on load, evaluated with numpy, and every
outcome carries its explanation (the rule that fired, or the points per feature).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from steward.domain.errors import ValidationFailed
from steward.domain.frames import Columns, n_rows
from steward.domain.models import Signature, Task
from steward.runtimes.base import Prediction, Runtime


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinearSpec(_Spec):
    intercept: float = 0.0
    coefficients: dict[str, float] = Field(min_length=1)


class LogisticSpec(LinearSpec):
    threshold: float = Field(default=0.5, gt=0, lt=1)
    classes: tuple[Any, Any] = (0, 1)


class ScoreBin(_Spec):
    min: float | None = None  # inclusive
    max: float | None = None  # exclusive
    points: float


class ScoreFeature(_Spec):
    bins: list[ScoreBin] = Field(default_factory=list)
    categories: dict[str, float] = Field(default_factory=dict)
    missing_points: float = 0.0
    default_points: float = 0.0

    @model_validator(mode="after")
    def _one_kind(self) -> ScoreFeature:
        if bool(self.bins) == bool(self.categories):
            raise ValueError("a scorecard feature has either bins or categories")
        return self


class ScorecardSpec(_Spec):
    base_points: float = 0.0
    features: dict[str, ScoreFeature] = Field(min_length=1)
    cutoff: float | None = None
    outcomes: tuple[str, str] = ("decline", "approve")  # (below cutoff, at or above)


S = TypeVar("S", bound=_Spec)

Op = Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in", "is_null", "not_null"]


class Condition(_Spec):
    feature: str
    op: Op
    value: Any = None


class Rule(_Spec):
    id: str = Field(min_length=1)
    when: list[Condition] = Field(min_length=1)
    outcome: Any


class RulesSpec(_Spec):
    rules: list[Rule] = Field(min_length=1)
    default: Any


def _parse(spec_type: type[S], data: bytes) -> S:
    try:
        return spec_type.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not JSON"
        raise ValidationFailed(
            f"invalid {spec_type.__name__[:-4].lower()} model: {detail}"
        ) from None


def _check_features(names: list[str], signature: Signature) -> None:
    unknown = sorted(set(names) - {f.name for f in signature.inputs})
    if unknown:
        raise ValidationFailed(f"the model uses features not in the signature: {unknown}")


class LinearRuntime(Runtime):
    flavor = "linear"

    def __init__(self, spec: LinearSpec, signature: Signature, task: Task) -> None:
        super().__init__(signature, task)
        _check_features(list(spec.coefficients), signature)
        self.spec = spec
        self._names = list(spec.coefficients)
        self._weights = np.array([spec.coefficients[n] for n in self._names])

    def margin(self, columns: Columns) -> np.ndarray:
        x = np.column_stack([columns[n].astype(np.float64) for n in self._names])
        margin: np.ndarray = x @ self._weights + self.spec.intercept
        return margin

    def predict(self, columns: Columns) -> Prediction:
        return Prediction(values=self.margin(columns))


class LogisticRuntime(LinearRuntime):
    flavor = "logistic"
    spec: LogisticSpec

    def predict(self, columns: Columns) -> Prediction:
        z = np.clip(self.margin(columns), -500, 500)
        p = 1.0 / (1.0 + np.exp(-z))
        neg, pos = self.spec.classes
        labels = np.where(p >= self.spec.threshold, pos, neg)
        return Prediction(values=labels, scores=p)


class ScorecardRuntime(Runtime):
    flavor = "scorecard"

    def __init__(self, spec: ScorecardSpec, signature: Signature, task: Task) -> None:
        super().__init__(signature, task)
        _check_features(list(spec.features), signature)
        self.spec = spec

    def _points(self, feature: ScoreFeature, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape[0], feature.default_points, dtype=np.float64)
        if feature.categories:
            for i, value in enumerate(values):
                if value is None:
                    out[i] = feature.missing_points
                else:
                    out[i] = feature.categories.get(str(value), feature.default_points)
            return out
        numeric = values.astype(np.float64)
        missing = np.isnan(numeric)
        for b in feature.bins:
            lo = -math.inf if b.min is None else b.min
            hi = math.inf if b.max is None else b.max
            out[(numeric >= lo) & (numeric < hi) & ~missing] = b.points
        out[missing] = feature.missing_points
        return out

    def predict(self, columns: Columns) -> Prediction:
        rows = n_rows(columns)
        per_feature = {n: self._points(f, columns[n]) for n, f in self.spec.features.items()}
        total = np.full(rows, self.spec.base_points) + sum(per_feature.values())
        reasons = [{n: float(p[i]) for n, p in per_feature.items()} for i in range(rows)]
        if self.spec.cutoff is None:
            return Prediction(values=total, scores=total, explanations=reasons)
        below, above = self.spec.outcomes
        outcome = np.where(total >= self.spec.cutoff, above, below).astype(object)
        return Prediction(values=outcome, scores=total, explanations=reasons)


def _holds(cond: Condition, values: np.ndarray) -> np.ndarray:
    if cond.op in ("is_null", "not_null"):
        if values.dtype == object:
            null = np.array([v is None for v in values], dtype=bool)
        else:
            null = np.isnan(values.astype(np.float64))
        return null if cond.op == "is_null" else ~null
    if cond.op in ("in", "not_in"):
        options = set(cond.value if isinstance(cond.value, list) else [cond.value])
        hit = np.array([v in options for v in values.tolist()], dtype=bool)
        return hit if cond.op == "in" else ~hit
    if values.dtype == object:
        comparable = np.array([v == cond.value for v in values], dtype=bool)
        if cond.op == "==":
            return comparable
        if cond.op == "!=":
            return ~comparable
        raise ValidationFailed(f"{cond.op} needs a numeric feature: {cond.feature}")
    x = values.astype(np.float64)
    with np.errstate(invalid="ignore"):
        result: np.ndarray = {
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
            "==": np.equal,
            "!=": np.not_equal,
        }[cond.op](x, float(cond.value))
    return result


class RulesRuntime(Runtime):
    flavor = "rules"

    def __init__(self, spec: RulesSpec, signature: Signature, task: Task) -> None:
        super().__init__(signature, task)
        _check_features([c.feature for r in spec.rules for c in r.when], signature)
        self.spec = spec

    def predict(self, columns: Columns) -> Prediction:
        rows = n_rows(columns)
        outcome = np.empty(rows, dtype=object)
        fired = np.empty(rows, dtype=object)
        pending = np.ones(rows, dtype=bool)
        for rule in self.spec.rules:
            hit = pending.copy()
            for cond in rule.when:
                hit &= _holds(cond, columns[cond.feature])
            outcome[hit] = rule.outcome
            fired[hit] = rule.id
            pending &= ~hit
        outcome[pending] = self.spec.default
        fired[pending] = "default"
        return Prediction(values=outcome, explanations=[{"rule": r} for r in fired])


def load_decision(flavor: str, data: bytes, signature: Signature, task: Task) -> Runtime:
    if flavor == "linear":
        return LinearRuntime(_parse(LinearSpec, data), signature, task)
    if flavor == "logistic":
        return LogisticRuntime(_parse(LogisticSpec, data), signature, task)
    if flavor == "scorecard":
        return ScorecardRuntime(_parse(ScorecardSpec, data), signature, task)
    if flavor == "rules":
        return RulesRuntime(_parse(RulesSpec, data), signature, task)
    raise ValidationFailed(f"unknown decision flavor {flavor}")
