"""Bounds checks on the node arrays of scikit-learn's trees, after skops has loaded them and
before anything predicts with them.

skops checks the *types* a file names, not their content: ``sklearn.tree._tree.Tree`` and
``...predictor.TreePredictor`` hold raw child and feature indices that scikit-learn's Cython
follows without bounds checks, so a crafted file of trusted types could make ``predict``
read out of bounds or loop forever (skops leaves both types untrusted for that reason).
Steward trusts them because it checks, for every tree, what that Cython relies on:

- every split node's children lie after it and inside the array (so every walk from the
  root ends, at a leaf, within ``node_count`` steps), a leaf's children are both -1;
- every split's feature is a column the model's input has;
- the value array has one row per node, and the recorded depth bounds the real one (the
  decision path is allocated from it);
- a histogram-GBM categorical split names a categorical feature and an existing bitset,
  and the categorical preprocessor (when there is one) maps the input's columns one to one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from steward.domain.errors import ValidationFailed


def _fail(path: str, what: str) -> ValidationFailed:
    return ValidationFailed(f"the skops file's tree at {path} is malformed: {what}")


def _splits_point_forward(
    path: str,
    left: np.ndarray,
    right: np.ndarray,
    split: np.ndarray,
    feature: np.ndarray,
    n_features: int,
) -> None:
    n = len(left)
    index = np.arange(n)
    for side, child in (("left", left), ("right", right)):
        bad = split & ((child <= index) | (child >= n))
        if bad.any():
            node = int(np.flatnonzero(bad)[0])
            raise _fail(
                path, f"node {node}'s {side} child {int(child[node])} is not in ({node}, {n})"
            )
    bad = split & ((feature < 0) | (feature >= n_features))
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        raise _fail(path, f"node {node} splits on feature {int(feature[node])} of {n_features}")


def _depth(left: np.ndarray, right: np.ndarray, split: np.ndarray, limit: int) -> int:
    """The deepest level reached from the root, giving up past ``limit``."""
    frontier, depth = np.array([0]), 0
    while True:
        inner = frontier[split[frontier]]
        if len(inner) == 0 or depth > limit:
            return depth
        frontier, depth = np.concatenate([left[inner], right[inner]]), depth + 1


def check_tree(tree: Any, path: str, n_features: int) -> None:
    """A ``sklearn.tree._tree.Tree``."""
    state = tree.__getstate__()
    nodes, values = state["nodes"], state["values"]
    n = int(state["node_count"])
    if n < 1 or len(nodes) != n:
        raise _fail(path, f"node_count {n} but {len(nodes)} nodes")
    if values.shape != (n, tree.n_outputs, tree.max_n_classes):
        raise _fail(path, f"values of shape {values.shape} for {n} nodes")
    left, right = nodes["left_child"], nodes["right_child"]
    split = left != -1
    if (right[~split] != -1).any():
        raise _fail(path, "a leaf with a right child")
    _splits_point_forward(
        path, left, right, split, nodes["feature"], min(tree.n_features, n_features)
    )
    max_depth = int(state["max_depth"])
    if _depth(left, right, split, max_depth) > max_depth:
        raise _fail(path, f"deeper than its recorded max_depth {max_depth}")


def check_predictor(predictor: Any, path: str, owner: Any, limit: int) -> None:
    """A histogram-GBM ``TreePredictor`` of the estimator ``owner``."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or len(nodes) < 1:
        raise _fail(path, "nodes are not a non-empty predictor record array")
    flags = owner._bin_mapper.is_categorical  # None when no feature is categorical
    is_categorical = np.zeros(limit, bool) if flags is None else np.asarray(flags, dtype=bool)
    n_features = min(limit, len(is_categorical))
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    split = nodes["is_leaf"] == 0
    feature = nodes["feature_idx"]
    _splits_point_forward(path, left, right, split, feature, n_features)
    categorical = split & (nodes["is_categorical"] != 0)
    if categorical.any():
        bitsets = [predictor.raw_left_cat_bitsets, predictor.binned_left_cat_bitsets]
        if any(b.ndim != 2 or b.shape[1] != 8 or b.dtype != np.uint32 for b in bitsets):
            raise _fail(path, "categorical bitsets are not (n, 8) uint32 arrays")
        available = min(len(b) for b in bitsets)
        if (nodes["bitset_idx"][categorical] >= available).any():
            raise _fail(path, f"a categorical split names a bitset beyond the {available} stored")
        if not is_categorical[feature[categorical]].all():
            raise _fail(path, "a categorical split on a feature that is not categorical")


def _keeps_width(transformer: Any) -> bool:
    """What scikit-learn puts in the preprocessor: an ordinal encoder for the categorical
    columns, ``check_array`` (through a partial) for the others."""
    from functools import partial

    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from sklearn.utils.validation import check_array

    if isinstance(transformer, OrdinalEncoder):
        return True
    func = getattr(transformer, "func", None)
    return isinstance(transformer, FunctionTransformer) and (
        func is None or (isinstance(func, partial) and func.func is check_array)
    )


def _check_preprocessor(estimator: Any, path: str) -> None:
    """A histogram GBM's categorical preprocessor must keep the input's columns one to one:
    predictor feature indices are checked against ``n_features_in_``."""
    preprocessor = getattr(estimator, "_preprocessor", None)
    if preprocessor is None:
        return
    n = int(estimator.n_features_in_)
    columns: list[int] = []
    for _, transformer, selected in preprocessor.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if not (transformer == "passthrough" or _keeps_width(transformer)):
            raise _fail(path, "its categorical preprocessor holds an unexpected transformer")
        try:
            columns.extend(np.arange(n)[selected].tolist())
        except (IndexError, TypeError, ValueError):
            raise _fail(path, "its categorical preprocessor selects columns out of range") from None
    if sorted(columns) != list(range(n)):
        raise _fail(path, "its categorical preprocessor does not keep every column once")


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        yield from ((f"[{k!r}]", v) for k, v in obj.items())
    elif isinstance(obj, list | tuple):
        yield from ((f"[{i}]", v) for i, v in enumerate(obj))
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        yield from ((f"[{i}]", v) for i, v in enumerate(obj.ravel()))
    elif type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        yield from ((f".{k}", v) for k, v in vars(obj).items())


def _widening() -> tuple[type, ...]:
    """Composites whose inner estimators may see more columns than the composite's input."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import StackingClassifier, StackingRegressor
    from sklearn.multioutput import ClassifierChain, RegressorChain
    from sklearn.pipeline import FeatureUnion, Pipeline

    return (
        Pipeline,
        FeatureUnion,
        ColumnTransformer,
        StackingClassifier,
        StackingRegressor,
        ClassifierChain,
        RegressorChain,
    )


def check_trees(model: Any) -> int:
    """Check every tree the loaded model holds; the number checked.

    A tree's features are bounded by the nearest fitted estimator's ``n_features_in_`` and,
    inside ensembles (which may hand their validated input to the trees unchecked), by every
    enclosing estimator's, up to a composite that may widen the input (a pipeline, a union,
    stacking, chains)."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    widening = _widening()
    checked, seen = 0, set()
    stack: list[tuple[Any, str, Any, int | None]] = [(model, "model", None, None)]
    while stack:
        obj, path, owner, limit = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tree | TreePredictor):
            if owner is None or limit is None:
                raise _fail(path, "it belongs to no fitted estimator")
            if isinstance(obj, Tree):
                check_tree(obj, path, limit)
            elif hasattr(owner, "_bin_mapper"):
                check_predictor(obj, path, owner, limit)
            else:
                raise _fail(path, "a histogram-GBM predictor outside a histogram GBM")
            checked += 1
            continue
        if hasattr(obj, "n_features_in_") and type(obj).__module__.startswith("sklearn."):
            own = int(obj.n_features_in_)
            limit = own if limit is None or isinstance(owner, widening) else min(limit, own)
            owner = obj
            if hasattr(obj, "_bin_mapper"):
                _check_preprocessor(obj, path)
        stack.extend((child, path + step, owner, limit) for step, child in _children(obj))
    return checked
