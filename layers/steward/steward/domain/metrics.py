"""Model quality on labelled rows (the holdout gates, canary and retrain evidence)."""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-15


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    return ranks


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Mann-Whitney AUC; ``None`` when only one class is present."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = float(_ranks(scores)[labels.astype(bool)].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def classification(labels: Any, scores: Any, threshold: float = 0.5) -> dict[str, float]:
    """Binary metrics from positive-class scores; labels are 0/1 (or booleans)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(scores, dtype=np.float64)
    predicted = p >= threshold
    truth = y >= 0.5
    tp = float(np.sum(predicted & truth))
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    clipped = np.clip(p, EPS, 1 - EPS)
    out = {
        "accuracy": float(np.mean(predicted == truth)),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
    }
    auc = roc_auc(truth.astype(np.float64), p)
    if auc is not None:
        out["auc"] = auc
    return out


def regression(labels: Any, values: Any) -> dict[str, float]:
    error = np.asarray(values, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def decision(labels: Any, outcomes: Any) -> dict[str, float]:
    """Agreement of a decision model's outcomes with the labels."""
    truth = np.asarray([str(v) for v in labels])
    got = np.asarray([str(v) for v in outcomes])
    return {"accuracy": float(np.mean(truth == got))}
