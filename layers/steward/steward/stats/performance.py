"""Model performance on labelled predictions: one pure numpy function per metric, the metric
set for a task, and the verdict against the policy and the version's registered metrics.

Classes are compared as given (the reader normalizes labels and predictions to one
representation). Binary metrics (precision, recall, F1 for the positive class; ROC AUC and
log loss from the positive-class score) apply when at most two classes occur. With more
(multiclass): precision, recall and F1 are macro averages (``f1_macro`` and ``f1_weighted``,
weighted by each class's true support, are named too), recall per class is reported apart, and
with the per-class probabilities the log loss is the multiclass cross-entropy and ROC AUC is
one-vs-rest, macro-averaged over the classes that have both positive and negative rows (what
scikit-learn's ``roc_auc_score(multi_class="ovr")`` computes when every class occurs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

EXACT_INTEGERS = 2.0**53  # floats below this spell integers as integers ("1", not "1.0")
HIGHER_IS_BETTER = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "f1_macro",
    "f1_weighted",
    "roc_auc",
)
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
    actual, predicted = labels == positive, predictions == positive
    tp = float(np.count_nonzero(actual & predicted))
    fp = float(np.count_nonzero(~actual & predicted))
    fn = float(np.count_nonzero(actual & ~predicted))
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)


def per_class(labels: np.ndarray, predictions: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and true support of every class that occurs in the labels or the
    predictions (``classes``, sorted), from one confusion matrix."""
    classes, codes = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    k, n = len(classes), len(labels)
    confusion = np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # zero_division=0, as scikit-learn
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(predicted + support > 0, 2 * tp / (predicted + support), 0.0)
    return {
        "classes": classes,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
    }


def weighted_f1(found: dict[str, np.ndarray]) -> float:
    """F1 per class weighted by its true support (:func:`per_class`'s output)."""
    total = found["support"].sum()
    return float((found["f1"] * found["support"]).sum() / total) if total else 0.0


def _columns(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each label's column among ``classes`` (-1 for a label the model has no column for)."""
    order = np.argsort(classes)
    at = np.searchsorted(classes[order], labels)
    at = np.minimum(at, len(classes) - 1)
    found = classes[order][at] == labels
    return np.where(found, order[at], -1)


def multiclass_log_loss(
    labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> float:
    """Mean cross-entropy of the true class's probability (columns named by ``classes``),
    clipped to [eps, 1 - eps] as scikit-learn does; a label outside ``classes`` counts as
    probability 0."""
    eps = np.finfo(np.float64).eps
    column = _columns(labels, classes)
    p = np.clip(probabilities.astype(np.float64), eps, 1 - eps)
    true = np.where(column >= 0, p[np.arange(len(labels)), np.maximum(column, 0)], eps)
    return float(-np.mean(np.log(true))) if len(labels) else 0.0


def roc_auc_ovr(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> float | None:
    """One-vs-rest ROC AUC averaged over the classes with both positive and negative rows
    (macro); None when no class has both."""
    aucs = [roc_auc(labels == c, probabilities[:, j]) for j, c in enumerate(classes.tolist())]
    present = [a for a in aucs if a is not None]
    return float(np.mean(present)) if present else None


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
    probabilities: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The metric set for classes: binary when at most two occur, ``positive`` is known and
    the model has at most two (``classes``: the columns of ``probabilities``, the per-class
    probabilities of a multiclass model), else :func:`multiclass`."""
    occurring = np.unique(np.concatenate([labels, predictions]))
    if len(occurring) > 2 or positive is None or len(classes or ()) > 2:
        return multiclass(labels, predictions, probabilities, classes)
    metrics: dict[str, float] = {"accuracy": accuracy(labels, predictions)}
    p, r, f = precision_recall_f1(labels, predictions, positive)
    metrics.update(precision=p, recall=r, f1=f)
    if scores is not None and len(scores) and np.isfinite(scores).all():
        actual = labels == positive
        auc = roc_auc(actual, scores)
        if auc is not None:
            metrics["roc_auc"] = auc
        if scores.min() >= 0.0 and scores.max() <= 1.0:  # probabilities, not points
            metrics["log_loss"] = log_loss(actual, scores)
    return {"average": "binary", "metrics": metrics}


def multiclass(
    labels: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy; macro precision, recall and F1 (also named ``f1_macro``); ``f1_weighted``;
    recall and support per class; given the probability matrix (rows, ``classes``), the log
    loss and the one-vs-rest macro ROC AUC."""
    metrics: dict[str, float] = {"accuracy": accuracy(labels, predictions)}
    if not len(labels):
        metrics.update(precision=0.0, recall=0.0, f1=0.0, f1_macro=0.0, f1_weighted=0.0)
        return {"average": "macro", "metrics": metrics}
    found = per_class(labels, predictions)
    for name in ("precision", "recall", "f1"):
        metrics[name] = float(found[name].mean())
    metrics["f1_macro"] = metrics["f1"]
    metrics["f1_weighted"] = weighted_f1(found)
    if (
        probabilities is not None
        and classes is not None
        and probabilities.shape == (len(labels), len(classes))
        and np.isfinite(probabilities).all()
    ):
        names = np.array([str(c) for c in classes])
        y = labels.astype(np.str_)
        metrics["log_loss"] = multiclass_log_loss(y, probabilities, names)
        auc = roc_auc_ovr(y, probabilities, names)
        if auc is not None:
            metrics["roc_auc"] = auc
    spelled = [str(c) for c in found["classes"].tolist()]
    return {
        "average": "macro",
        "metrics": metrics,
        "per_class": {
            "recall": dict(zip(spelled, found["recall"].tolist(), strict=True)),
            "support": dict(zip(spelled, found["support"].tolist(), strict=True)),
        },
    }


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
    regression_task: bool,
    labels: list[Any],
    values: np.ndarray,
    scores: np.ndarray | None,
    probabilities: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, float]:
    """The metrics of a version on its labelled holdout sample (scored at validation): the
    baseline that drift reports compare live performance with, and what gates judge."""
    if regression_task:
        return dict(regression(np.asarray(labels, np.float64), values)["metrics"])
    y = np.array([class_key(v) for v in labels], dtype=np.str_)
    yhat = np.array([class_key(v) for v in values.tolist()], dtype=np.str_)
    positive = positive_class(_by_class(yhat, scores), set(y.tolist()))
    found = classification(y, yhat, scores, positive, probabilities, classes)
    return dict(found["metrics"])


def _by_class(yhat: np.ndarray, scores: np.ndarray | None) -> dict[str, list[float]]:
    by_class: dict[str, list[float]] = {}
    for cls in set(yhat.tolist()):
        chosen = yhat == cls
        n = float(np.count_nonzero(chosen))
        total = float(scores[chosen].sum()) if scores is not None else 0.0
        by_class[cls] = [n, n if scores is not None else 0.0, total]
    return by_class


def calibration(labels: list[Any], values: np.ndarray, scores: np.ndarray) -> dict[str, Any] | None:
    """A binary classifier's score calibration on its labelled holdout
    (:func:`steward.stats.cbpe.calibration_record`), the positive class chosen as the drift
    report chooses it; None for more than two classes."""
    from steward.stats import cbpe

    y = np.array([class_key(v) for v in labels], dtype=np.str_)
    yhat = np.array([class_key(v) for v in values.tolist()], dtype=np.str_)
    positive = positive_class(_by_class(yhat, scores), set(y.tolist()))
    if positive is None:
        return None
    return cbpe.calibration_record(np.asarray(scores, np.float64), y == positive, positive)


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
