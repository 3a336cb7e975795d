"""Model performance on labelled predictions: one pure numpy function per metric, the metric
set for a task, and the verdict against the policy and the version's registered metrics.

Classes are compared as given (the reader normalizes labels and predictions to one
representation). Binary metrics (precision, recall, F1 for the positive class; ROC AUC and
log loss from the positive-class score) apply when at most two classes occur; with more,
precision/recall/F1 are macro averages and there is no AUC or log loss: the prediction logs
keep one score per row (the top probability), not the per-class probabilities they need.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EXACT_INTEGERS = 2.0**53  # floats below this spell integers as integers ("1", not "1.0")
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc")
LOWER_IS_BETTER = ("log_loss", "rmse", "mae")
# Registered metric names that mean one of ours.
ALIASES = {"auc": "roc_auc", "logloss": "log_loss", "f1_score": "f1", "acc": "accuracy"}
DEFAULTS = {
    # the largest relative degradation against the version's registered metric
    "performance_drop": 0.1,
    # fewer labelled rows than this: no verdict, the metrics are shown but too noisy to judge
    "min_labelled_rows": 100,
}


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(labels == predictions)) if len(labels) else 0.0


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # scikit-learn's zero_division default


def precision_recall_f1(
    labels: np.ndarray, predictions: np.ndarray, positive: Any
) -> tuple[float, float, float]:
    """For the positive class (binary)."""
    actual, said = labels == positive, predictions == positive
    tp = float(np.count_nonzero(actual & said))
    fp = float(np.count_nonzero(~actual & said))
    fn = float(np.count_nonzero(actual & ~said))
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)


def macro_precision_recall_f1(
    labels: np.ndarray, predictions: np.ndarray
) -> tuple[float, float, float]:
    """Unweighted means over every class that occurs in the labels or the predictions."""
    classes = np.unique(np.concatenate([labels, predictions]))
    scores = np.array([precision_recall_f1(labels, predictions, c) for c in classes])
    if not len(scores):
        return 0.0, 0.0, 0.0
    p, r, f = scores.mean(axis=0)
    return float(p), float(r), float(f)


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Mann-Whitney U over average ranks (ties count a half); None with a single class."""
    positive = positive.astype(bool)
    n_pos = int(np.count_nonzero(positive))
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    average_rank = upper - (counts - 1) / 2.0  # 1-based ranks, ties averaged
    rank_sum = float(average_rank[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def log_loss(positive: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary cross-entropy; probabilities clipped to [eps, 1 - eps] as scikit-learn does."""
    eps = np.finfo(np.float64).eps
    p = np.clip(probabilities.astype(np.float64), eps, 1 - eps)
    y = positive.astype(bool)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def rmse(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.sqrt(np.mean((labels - predictions) ** 2))) if len(labels) else 0.0


def mae(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(np.abs(labels - predictions))) if len(labels) else 0.0


def classification(
    labels: np.ndarray,
    predictions: np.ndarray,
    scores: np.ndarray | None = None,
    positive: Any = None,
) -> dict[str, Any]:
    """The metric set for classes (binary when at most two occur and ``positive`` is known)."""
    classes = np.unique(np.concatenate([labels, predictions]))
    metrics: dict[str, float] = {"accuracy": accuracy(labels, predictions)}
    if len(classes) <= 2 and positive is not None:
        p, r, f = precision_recall_f1(labels, predictions, positive)
        metrics.update(precision=p, recall=r, f1=f)
        if scores is not None and len(scores) and np.isfinite(scores).all():
            actual = labels == positive
            auc = roc_auc(actual, scores)
            if auc is not None:
                metrics["roc_auc"] = auc
            if scores.min() >= 0.0 and scores.max() <= 1.0:  # probabilities, not points
                metrics["log_loss"] = log_loss(actual, scores)
        average = "binary"
    else:
        p, r, f = macro_precision_recall_f1(labels, predictions)
        metrics.update(precision=p, recall=r, f1=f)
        average = "macro"
    return {"average": average, "metrics": metrics}


def regression(labels: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    y, yhat = labels.astype(np.float64), predictions.astype(np.float64)
    return {"metrics": {"rmse": rmse(y, yhat), "mae": mae(y, yhat)}}


def _check(metric: str, value: float, bound: float, kind: str) -> dict[str, Any]:
    breach = value < bound if kind == "min" else value > bound
    return {"metric": metric, "value": value, "kind": kind, "threshold": bound, "breach": breach}


def checks(
    metrics: dict[str, float], registered: dict[str, float], thresholds: dict[str, float]
) -> list[dict[str, Any]]:
    """Absolute bounds from the policy (``thresholds[metric]``: a floor for accuracy,
    precision, recall, F1 and ROC AUC, a ceiling for log loss, RMSE and MAE) and the relative
    degradation against the version's registered metric (``thresholds["performance_drop"]``)."""
    drop = thresholds.get("performance_drop", DEFAULTS["performance_drop"])
    known = {ALIASES.get(k.lower(), k.lower()): v for k, v in registered.items()}
    found: list[dict[str, Any]] = []
    for metric, value in sorted(metrics.items()):
        higher = metric in HIGHER_IS_BETTER
        if metric in thresholds:
            found.append(_check(metric, value, thresholds[metric], "min" if higher else "max"))
        base = known.get(metric)
        if base is not None and base != 0:
            change = (base - value) / abs(base) if higher else (value - base) / abs(base)
            check = _check(metric, change, drop, "max")
            found.append({**check, "kind": "drop", "registered": base})
    return found


def verdict(rows_labelled: int, found: list[dict[str, Any]], thresholds: dict[str, float]) -> str:
    if rows_labelled == 0:
        return "no_labels"
    if rows_labelled < thresholds.get("min_labelled_rows", DEFAULTS["min_labelled_rows"]):
        return "insufficient_labels"
    return "degraded" if any(c["breach"] for c in found) else "ok"


def class_key(value: Any) -> str:
    """One spelling per class, as the log reader normalizes them: 1, 1.0 and True are "1"."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    is_float = isinstance(value, float | np.floating)
    if is_float and float(value).is_integer() and abs(value) < EXACT_INTEGERS:
        return str(int(value))
    return str(value)


def holdout(
    regression_task: bool, labels: list[Any], values: np.ndarray, scores: np.ndarray | None
) -> dict[str, float]:
    """The metrics of a version on its labelled holdout sample (scored at validation): the
    baseline that drift reports compare live performance with."""
    if regression_task:
        return dict(regression(np.asarray(labels, np.float64), values)["metrics"])
    y = np.array([class_key(v) for v in labels], dtype=np.str_)
    yhat = np.array([class_key(v) for v in values.tolist()], dtype=np.str_)
    by_class: dict[str, list[float]] = {}
    for cls in set(yhat.tolist()):
        chosen = yhat == cls
        n = float(np.count_nonzero(chosen))
        total = float(scores[chosen].sum()) if scores is not None else 0.0
        by_class[cls] = [n, n if scores is not None else 0.0, total]
    positive = positive_class(by_class, set(y.tolist()))
    return dict(classification(y, yhat, scores, positive)["metrics"])


def positive_class(by_class: dict[str, list[float]], label_classes: set[str]) -> str | None:
    """The class the score is the probability of: the predicted class with the higher mean
    score (runtimes log the positive-class probability for binary models); ``by_class``:
    predicted class -> [rows, rows with a score, sum of scores]. None when more than two
    classes occur (multiclass)."""
    classes = set(by_class) | label_classes
    if len(classes) > 2:
        return None
    means = {c: v[2] / v[1] for c, v in by_class.items() if v[1]}
    if len(means) == 2:
        return max(means, key=lambda c: means[c])
    if len(means) == 1:
        ((only, mean),) = means.items()
        others = classes - {only}
        return only if mean >= 0.5 or not others else others.pop()
    if classes and classes <= {"0", "1"}:
        return "1"
    return max(classes) if classes else None  # scikit-learn's convention: the last class
