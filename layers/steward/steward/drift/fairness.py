"""Group fairness of a binary decision, per protected attribute: the selection rate of each
group (share predicted positive, over every scored row of the window), the disparate impact
ratio (lowest over highest selection rate; the four-fifths rule flags it under 0.8), and,
where labels exist, each group's true-positive rate and its gap to the best group's."""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULTS = {"disparate_impact": 0.8, "tpr_difference": 0.1}
MISSING = "(missing)"


def selection_rates(counts: dict[str, dict[str, int]], positive: str) -> dict[str, float]:
    """``counts``: group -> predicted class -> rows."""
    rates = {}
    for group, by_class in counts.items():
        total = sum(by_class.values())
        if total:
            rates[group] = by_class.get(positive, 0) / total
    return rates


def disparate_impact(rates: dict[str, float]) -> float | None:
    """min / max selection rate; 1.0 when no group is ever selected (all treated alike)."""
    if len(rates) < 2:
        return None
    top = max(rates.values())
    return min(rates.values()) / top if top else 1.0


def true_positive_rates(
    groups: np.ndarray, labels: np.ndarray, predictions: np.ndarray, positive: str
) -> dict[str, float]:
    """Per group, among its rows labelled positive, the share predicted positive."""
    actual = labels == positive
    predicted = predictions == positive
    rates = {}
    for group in np.unique(groups[actual]) if actual.any() else []:
        members = actual & (groups == group)
        rates[str(group)] = float(np.count_nonzero(predicted & members) / np.count_nonzero(members))
    return rates


def assess(
    counts: dict[str, dict[str, dict[str, int]]],
    labelled: dict[str, np.ndarray] | None,
    labels: np.ndarray | None,
    predictions: np.ndarray | None,
    positive: str,
    thresholds: dict[str, float],
) -> dict[str, Any]:
    """``counts``: attribute -> group -> predicted class -> rows (all scored rows);
    ``labelled``: attribute -> group of each labelled row, aligned with ``labels`` and
    ``predictions``."""
    di_bound = thresholds.get("disparate_impact", DEFAULTS["disparate_impact"])
    tpr_bound = thresholds.get("tpr_difference", DEFAULTS["tpr_difference"])
    attributes: dict[str, Any] = {}
    flagged: list[str] = []
    for attribute, by_group in sorted(counts.items()):
        rates = selection_rates(by_group, positive)
        tprs: dict[str, float] = {}
        if labelled is not None and labels is not None and predictions is not None:
            tprs = true_positive_rates(labelled[attribute], labels, predictions, positive)
        best = max(tprs.values()) if tprs else None
        groups = {
            group: {
                "rows": sum(by_group[group].values()),
                "selection_rate": rate,
                "tpr": tprs.get(group),
                "tpr_difference": best - tprs[group]
                if best is not None and group in tprs
                else None,
            }
            for group, rate in sorted(rates.items())
        }
        ratio = disparate_impact(rates)
        spread = max(tprs.values()) - min(tprs.values()) if len(tprs) >= 2 else None
        flag = (ratio is not None and ratio < di_bound) or (
            spread is not None and spread > tpr_bound
        )
        attributes[attribute] = {
            "groups": groups,
            "disparate_impact": ratio,
            "tpr_difference": spread,
            "flagged": flag,
        }
        if flag:
            flagged.append(attribute)
    return {
        "positive_class": positive,
        "thresholds": {"disparate_impact": di_bound, "tpr_difference": tpr_bound},
        "attributes": attributes,
        "flagged": flagged,
    }
