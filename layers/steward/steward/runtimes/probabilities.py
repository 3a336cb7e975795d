"""Class probabilities as classifiers return them, made into a :class:`Prediction`.

Rounding. A probability is often a sum computed in the graph's float type: a random forest
averages its trees' leaf values, a booster sums margins before its softmax. The worst-case
rounding error of a sum of ``n`` terms is ``(n - 1) u`` times their total (Higham, *Accuracy
and Stability of Numerical Algorithms*, §4.2; ``u = eps / 2``), so a 30-tree forest in float32
may say 1.0000004 (3.5 ulps above 1, reproduced with iris and wine). :func:`settle` accepts
values up to :data:`ROUNDING_TERMS` ``* eps`` of the output's float type outside ``[0, 1]``
and rows that far from summing to 1 (the bound for a sum of 2,048 terms: 1.2e-4 for float32,
2.3e-13 for float64), clips them into ``[0, 1]`` and divides each row by its sum, so that the
answer's ``probabilities`` sum to 1. Anything further off is not a rounding error: it is left
as it is, and validation refuses the model (:func:`steward.runtimes.loader.check_output`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from steward.runtimes.base import Prediction
from steward.stats.performance import class_key

ROUNDING_TERMS = 1024  # * eps: the (n - 1) u bound for sums of up to 2,048 terms


def tolerance(dtype: Any) -> float:
    """How far rounding in ``dtype`` may carry a probability (or a row's sum) past its bound."""
    kind = np.dtype(dtype)
    return float(ROUNDING_TERMS * np.finfo(kind if kind.kind == "f" else np.float64).eps)


def settle(raw: np.ndarray, dtype: Any) -> np.ndarray:
    """A (rows, classes) float64 matrix: rounding overshoot clipped and rows renormalized to
    sum to 1, when every value and row sum is within :func:`tolerance`; otherwise unchanged."""
    p = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
    tol = tolerance(dtype)
    if not p.size or not np.isfinite(p).all() or p.min() < -tol or p.max() > 1 + tol:
        return p
    if p.shape[1] > 1 and not np.all(np.abs(p.sum(axis=1) - 1.0) <= tol):
        return p  # not a rounding error: left for the check to refuse, untouched
    p = np.clip(p, 0.0, 1.0)
    if p.shape[1] > 1:
        p /= p.sum(axis=1)[:, None]  # p_j <= sum, so each quotient stays <= 1
    return p


def classified(
    probabilities: np.ndarray, classes: Sequence[Any] | None, labels: np.ndarray | None = None
) -> Prediction:
    """A classifier's answer from its settled probability matrix. ``classes`` name the
    columns (their own type: the labels returned); without them the columns are the classes
    0..k-1. ``labels``: the model's own decision when it gives one (a graph's label output),
    else the most probable class. ``scores``: the positive (last) class's probability for
    one or two columns, the top probability for more."""
    k = probabilities.shape[1]
    names = list(classes) if classes is not None and len(classes) == k else None
    if labels is None:
        if k == 1 or (k == 2 and names is None):
            index = (probabilities[:, -1] >= 0.5).astype(np.int64)
        else:
            index = probabilities.argmax(axis=1)  # ties: the first class, as scikit-learn
        labels = np.asarray(names)[index] if names is not None and k > 1 else index
    scores = probabilities[:, -1] if k <= 2 else probabilities.max(axis=1)
    keys = [class_key(c) for c in names] if names is not None else [str(j) for j in range(k)]
    return Prediction(
        values=labels,
        scores=scores,
        probabilities=probabilities if k > 1 else None,
        classes=keys if k > 1 else None,
    )
