"""Choose a method for a loaded runtime and explain records with it.

Every numeric method answers ``base + Σ attributions = output`` per record, in the model's
``output_space``: ``log_odds`` (logistic or softmax link; binary: the positive class,
multiclass: the predicted class), ``probability`` (a forest's averaged class fractions: no
link), ``value`` (regression, linear models) or ``points`` (scorecards). The background
for ``linear``, ``tree_shap`` and ``sampling_shap`` is the first ``min(100, n)`` rows of the
version's reference sample, in order.

``sampling_shap`` explains every other ONNX graph (and scikit-learn model) through its
outputs alone: a classifier's probabilities as log-odds (``log p - log(1 - p)``, of the
positive class, or of each record's predicted class, with ``p`` clipped to
``[PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR]``: float32 graphs return exact 0s and 1s), a
regressor's value; see :mod:`.sampling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from steward.domain.errors import RuntimeUnavailable, ValidationFailed
from steward.domain.frames import Columns, n_rows
from steward.domain.models import Task
from steward.explain.sampling import Budget, sampling_shap
from steward.explain.trees import Background, TreeEnsemble, TreeShap, prepare, tree_shap
from steward.runtimes.base import Runtime
from steward.runtimes.decision import (
    LinearRuntime,
    LogisticRuntime,
    RulesRuntime,
    ScorecardRuntime,
    ScoreFeature,
)

BACKGROUND_ROWS = 100
PROBABILITY_FLOOR = 1e-7
_SPACES = {"logistic": "log_odds", "softmax": "log_odds", "probability": "probability"}


@dataclass
class Explanation:
    """Per record: ``attributions`` {feature: φ} and ``output``; ``base`` one per record
    (they differ only when multiclass records explain different classes, named in
    ``classes``); ``rules``: the rule that fired (rule sets, whose output is not a number);
    ``errors``: per record {feature: standard error} and ``evaluations``, the model
    evaluations spent (sampled methods only)."""

    method: str
    output_space: str
    base: list[float | None]
    attributions: list[dict[str, float]]
    outputs: list[Any]
    classes: list[str] | None = None
    rules: list[dict[str, Any]] | None = None
    errors: list[dict[str, float]] | None = None
    evaluations: list[int] | None = None


@dataclass
class Attributed:
    """The attributions alone, one row per record: ``values`` (records, features), the
    columns named by ``names`` in the order :class:`Explanation`'s dicts have them, and the
    class each multiclass record explains. What a caller that only sums them (attribution
    drift, attribution profiles) needs, without a dict per record."""

    method: str
    output_space: str
    names: list[str]
    values: np.ndarray
    classes: list[str] | None = None


@dataclass
class _Picked:
    """TreeSHAP's values of the explained output of each record (see ``Explainer._picked``)."""

    values: np.ndarray  # (rows, features)
    pick: np.ndarray  # (rows,) the explained output of each record
    result: TreeShap
    classes: list[str] | None
    output_space: str


def background(reference: Columns) -> Columns:
    rows = min(BACKGROUND_ROWS, n_rows(reference))
    return {name: values[:rows] for name, values in reference.items()}


class Explainer:
    """Built once per loaded version (the tree paths and the background are reused)."""

    def __init__(self, runtime: Runtime, reference: Columns | None) -> None:
        self.runtime = runtime
        self.names = [f.name for f in runtime.signature.inputs]
        self.background = background(reference) if reference is not None else None
        self.trees: tuple[TreeEnsemble, str] | None = None
        self._prepared: Background | None = None
        if isinstance(runtime, RulesRuntime):
            self.method = "rule"
        elif isinstance(runtime, ScorecardRuntime):
            self.method = "points"
        elif isinstance(runtime, LinearRuntime):
            self.method = "linear"
        else:
            self.trees = _tree_ensemble(runtime)
            if self.trees is not None:
                self.method = "tree_shap"
            elif runtime.task in (Task.CLASSIFICATION, Task.REGRESSION):
                self.method = "sampling_shap"
            else:
                raise ValidationFailed(
                    f"no explainer for this {runtime.flavor} {runtime.task.value} model"
                )
        if self.method in ("linear", "tree_shap", "sampling_shap") and (
            self.background is None or n_rows(self.background) == 0
        ):
            raise ValidationFailed(
                "this version has no reference sample: register one to explain the model"
            )

    def explain(self, columns: Columns, budget: Budget | None = None) -> Explanation:
        """``budget``: how far ``sampling_shap`` may go per record (default :class:`Budget`);
        the exact methods ignore it."""
        if self.method == "rule":
            return self._rules(columns)
        if self.method == "points":
            return self._points(columns)
        if self.method == "linear":
            return self._linear(columns)
        if self.method == "sampling_shap":
            return self._sampled(columns, budget or Budget())
        return self._tree(columns)

    def attribute(self, columns: Columns, budget: Budget | None = None) -> Attributed:
        """The attributions :meth:`explain` gives, as one matrix: the same values, without
        building a dict per record (``tree_shap`` and ``linear`` build none at all)."""
        if self.method == "tree_shap":
            picked = self._picked(columns)
            return Attributed(
                "tree_shap", picked.output_space, list(self.names), picked.values, picked.classes
            )
        if self.method == "linear":
            coefficients, phi, _ = self._linear_parts(columns)
            # the dicts' keys: every feature (0 without a coefficient), then any coefficient
            # the signature does not name
            names = [*self.names, *(n for n in coefficients if n not in self.names)]
            values = np.zeros((phi.shape[0], len(names)))
            values[:, [names.index(n) for n in coefficients]] = phi
            return Attributed("linear", self._linear_space(), names, values)
        explanation = self.explain(columns, budget)
        records = explanation.attributions
        names = list(records[0]) if records else []
        values = np.array([[a[f] for f in names] for a in records], dtype=np.float64)
        return Attributed(
            explanation.method,
            explanation.output_space,
            names,
            values.reshape(len(records), len(names)),
            explanation.classes,
        )

    def _outputs(self, columns: Columns) -> np.ndarray:
        """The model's output in the explained space: (rows, 1) or (rows, classes)."""
        prediction = self.runtime.predict(columns)
        if self.runtime.task is Task.CLASSIFICATION:
            if prediction.probabilities is None:
                raise ValidationFailed(
                    "sampling_shap explains a classifier through its class probabilities: "
                    "this model outputs none"
                )
            p = prediction.probabilities.astype(np.float64)
            p = np.clip(
                p[:, 1:] if p.shape[1] == 2 else p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR
            )
            out: np.ndarray = np.log(p) - np.log1p(-p)
            return out
        try:
            return prediction.values.astype(np.float64).reshape(-1, 1)
        except (TypeError, ValueError):
            raise ValidationFailed("sampling_shap explains numeric outputs only") from None

    def _sampled(self, columns: Columns, budget: Budget) -> Explanation:
        assert self.background is not None
        try:
            result = sampling_shap(self._outputs, self.names, columns, self.background, budget)
        except RuntimeUnavailable:  # e.g. the drift function, which reads graphs as bytes
            raise ValidationFailed(
                "sampling_shap needs the model's runtime to run it, and it is not installed here"
            ) from None
        classes: list[str] | None = None
        if self.runtime.task is Task.CLASSIFICATION:
            labels = self.runtime.predict({k: v[:1] for k, v in self.background.items()}).classes
            if labels is not None and len(labels) > 2:
                classes = [str(labels[k]) for k in result.pick.tolist()]
        return Explanation(
            method="sampling_shap",
            output_space="log_odds" if self.runtime.task is Task.CLASSIFICATION else "value",
            base=result.base.tolist(),
            attributions=[
                dict(zip(self.names, row, strict=True)) for row in result.values.tolist()
            ],
            outputs=result.output.tolist(),
            classes=classes,
            errors=[dict(zip(self.names, row, strict=True)) for row in result.stderr.tolist()],
            evaluations=result.evaluations.tolist(),
        )

    def _matrix(self, columns: Columns) -> np.ndarray:
        try:
            return self.runtime.feature_matrix(columns, np.float64)
        except (TypeError, ValueError):
            raise ValidationFailed("tree_shap explains numeric features only") from None

    def _picked(self, columns: Columns) -> _Picked:
        """TreeSHAP of every record, for the output it explains: the one output, a binary
        forest's positive class, else (multiclass) each record's predicted class."""
        assert self.trees is not None and self.background is not None
        trees, link = self.trees
        if self._prepared is None:  # once per loaded version: the background's side
            self._prepared = prepare(trees, self._matrix(self.background))
        result = tree_shap(trees, self._matrix(columns), self._prepared)
        rows, _, outputs = result.values.shape
        classes: list[str] | None = None
        if outputs == 1:
            pick = np.zeros(rows, dtype=np.int64)
        elif outputs == 2 and link == "probability":
            pick = np.ones(rows, dtype=np.int64)  # a binary forest: the positive class
        else:
            pick = result.output.argmax(axis=1)
            labels = getattr(self.runtime, "class_names", None) or [str(i) for i in range(outputs)]
            classes = [str(labels[k]) for k in pick.tolist()]
        values = result.values[np.arange(rows), :, pick]  # (rows, features)
        return _Picked(values, pick, result, classes, _SPACES.get(link, "value"))

    def _tree(self, columns: Columns) -> Explanation:
        picked = self._picked(columns)
        result, pick = picked.result, picked.pick
        return Explanation(
            method="tree_shap",
            output_space=picked.output_space,
            base=result.base[pick].tolist(),
            attributions=[
                dict(zip(self.names, row, strict=True)) for row in picked.values.tolist()
            ],
            outputs=result.output[np.arange(len(pick)), pick].tolist(),
            classes=picked.classes,
        )

    def _linear_parts(self, columns: Columns) -> tuple[list[str], np.ndarray, float]:
        """The coefficients' names, their attributions ``(x - mean(background)) * weight``
        (records, coefficients) and the base."""
        assert isinstance(self.runtime, LinearRuntime) and self.background is not None
        spec = self.runtime.spec
        names = list(spec.coefficients)
        weights = np.array([spec.coefficients[n] for n in names])
        x = np.column_stack([columns[n].astype(np.float64) for n in names])
        mean = np.column_stack([self.background[n].astype(np.float64) for n in names]).mean(axis=0)
        return names, (x - mean) * weights, float(mean @ weights + spec.intercept)

    def _linear_space(self) -> str:
        return "log_odds" if isinstance(self.runtime, LogisticRuntime) else "value"

    def _linear(self, columns: Columns) -> Explanation:
        assert isinstance(self.runtime, LinearRuntime)
        names, phi, base = self._linear_parts(columns)
        zero = dict.fromkeys(self.names, 0.0)
        attributions = [{**zero, **dict(zip(names, row, strict=True))} for row in phi.tolist()]
        return Explanation(
            method="linear",
            output_space=self._linear_space(),
            base=[base] * len(attributions),
            attributions=attributions,
            outputs=self.runtime.margin(columns).tolist(),
        )

    def _points(self, columns: Columns) -> Explanation:
        """Each characteristic's points below its maximum (≤ 0): the reasons a lender prints
        are the characteristics that cost the applicant the most points."""
        assert isinstance(self.runtime, ScorecardRuntime)
        spec = self.runtime.spec
        prediction = self.runtime.predict(columns)
        assert prediction.explanations is not None and prediction.scores is not None
        best = {name: _max_points(f) for name, f in spec.features.items()}
        base = spec.base_points + sum(best.values())
        attributions = [
            {name: float(points[name] - best[name]) for name in spec.features}
            for points in prediction.explanations
        ]
        return Explanation(
            method="points",
            output_space="points",
            base=[base] * len(attributions),
            attributions=attributions,
            outputs=prediction.scores.tolist(),
        )

    def _rules(self, columns: Columns) -> Explanation:
        assert isinstance(self.runtime, RulesRuntime)
        prediction = self.runtime.predict(columns)
        assert prediction.explanations is not None
        conditions = {
            r.id: [c.model_dump(mode="json") for c in r.when] for r in self.runtime.spec.rules
        }
        fired = [
            {"rule": e["rule"], "when": conditions.get(e["rule"], [])}
            for e in prediction.explanations
        ]
        return Explanation(
            method="rule",
            output_space="rule",
            base=[None] * len(fired),
            attributions=[{} for _ in fired],
            outputs=prediction.values.tolist(),
            rules=fired,
        )


def _max_points(feature: ScoreFeature) -> float:
    options = [feature.missing_points, feature.default_points]
    options += [b.points for b in feature.bins] + list(feature.categories.values())
    return float(max(options))


def _tree_ensemble(runtime: Runtime) -> tuple[TreeEnsemble, str] | None:
    n = len(runtime.signature.inputs)
    artifact = getattr(runtime, "artifact", None)
    if runtime.flavor == "onnx" and isinstance(artifact, bytes):
        from steward.explain.onnx_trees import from_onnx

        return from_onnx(artifact, n)
    model = getattr(runtime, "model", None)
    if runtime.flavor == "sklearn" and model is not None:
        from steward.explain.sklearn_trees import from_sklearn

        return from_sklearn(model)
    return None
