"""scikit-learn's tree models as a :class:`~steward.explain.trees.TreeEnsemble`.

Decision trees and random forests (classifier: the class fractions, averaged; regressor:
the mean), gradient boosting (the raw margin: the init's prior plus the learning rate times
each stage's trees) and histogram gradient boosting (baseline plus the predictors' values,
numeric splits only). Anything else (a pipeline, categorical splits, another link) is not a
tree model here, and :func:`from_sklearn` answers None.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steward.explain.trees import Tree, TreeEnsemble, ensemble

# The margin each model's trees add up to: a probability (averaged class fractions), log-odds
# (binary boosting), per-class logits (multiclass boosting) or the predicted value.
PROBABILITY, LOGISTIC, SOFTMAX, IDENTITY = "probability", "logistic", "softmax", "identity"


def _cart(estimator: Any, scale: float = 1.0) -> Tree:
    t = estimator.tree_
    value = t.value[:, 0, :] if t.n_outputs == 1 else t.value[:, :, 0]
    missing = getattr(t, "missing_go_to_left", None)
    return Tree(
        feature=t.feature,
        threshold=t.threshold,
        yes=t.children_left,
        no=t.children_right,
        missing_yes=np.zeros(t.node_count, bool) if missing is None else missing.astype(bool),
        value=np.asarray(value, dtype=np.float64) * scale,
    )


def from_sklearn(model: Any) -> tuple[TreeEnsemble, str] | None:
    """The ensemble and its link, or None for a model this does not read."""
    name = type(model).__name__
    n = int(getattr(model, "n_features_in_", 0))
    if not n:
        return None
    if name in ("DecisionTreeClassifier", "DecisionTreeRegressor"):
        if model.tree_.n_outputs != 1:
            return None
        link = PROBABILITY if name.endswith("Classifier") else IDENTITY
        k = model.tree_.value.shape[2]
        return ensemble([_cart(model)], np.zeros(k), n, np.float32), link
    if name in (
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
    ):
        if getattr(model, "n_outputs_", 1) != 1:
            return None
        trees = [_cart(e, 1.0 / len(model.estimators_)) for e in model.estimators_]
        link = PROBABILITY if name.endswith("Classifier") else IDENTITY
        return ensemble(trees, np.zeros(trees[0].value.shape[1]), n, np.float32), link
    if name in ("GradientBoostingClassifier", "GradientBoostingRegressor"):
        return _boosting(model, n)
    if name in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
        return _hist(model, n)
    return None


def _boosting(model: Any, n: int) -> tuple[TreeEnsemble, str] | None:
    stages = model.estimators_  # (n_stages, K) regressors
    k = stages.shape[1]
    if type(model).__name__.endswith("Regressor"):
        if model.loss not in ("squared_error", "absolute_error", "huber", "quantile"):
            return None
        link = IDENTITY
    else:
        link = LOGISTIC if k == 1 else SOFTMAX
    base = np.asarray(model._raw_predict_init(np.zeros((1, n))), dtype=np.float64)[0]
    trees = []
    for stage in stages:
        for j, estimator in enumerate(stage):
            tree = _cart(estimator, model.learning_rate)
            column = np.zeros((len(tree.value), k))
            column[:, j] = tree.value[:, 0]
            tree.value = column
            trees.append(tree)
    return ensemble(trees, base, n, np.float32), link


def _hist(model: Any, n: int) -> tuple[TreeEnsemble, str] | None:
    classifier = type(model).__name__.endswith("Classifier")
    if not classifier and model.loss not in ("squared_error", "absolute_error", "quantile"):
        return None
    predictors = model._predictors  # (iterations, K) TreePredictor
    k = len(predictors[0]) if predictors else 1
    link = (LOGISTIC if k == 1 else SOFTMAX) if classifier else IDENTITY
    trees = []
    for iteration in predictors:
        for j, predictor in enumerate(iteration):
            nodes = predictor.nodes
            if (nodes["is_categorical"] != 0).any():
                return None
            leaf = nodes["is_leaf"] != 0
            value = np.zeros((len(nodes), k))
            value[:, j] = nodes["value"]
            trees.append(
                Tree(
                    feature=np.where(leaf, -1, nodes["feature_idx"].astype(np.int64)),
                    threshold=nodes["num_threshold"].astype(np.float64),
                    yes=nodes["left"].astype(np.int64),
                    no=nodes["right"].astype(np.int64),
                    missing_yes=nodes["missing_go_to_left"].astype(bool),
                    value=value,
                )
            )
    base = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
    return ensemble(trees, base, n, np.float64), link
