"""Two demo models trained here on a dataset scikit-learn ships (breast cancer Wisconsin):
a gradient-boosted classifier exported to ONNX, and a points scorecard fitted the classic
way (quartile bins, logistic regression on the bin indicators, points scaled to 20 per
doubling of the odds). Needs the dev extras (scikit-learn, skl2onnx); nothing downloads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURES = ["mean radius", "mean texture", "worst concave points", "worst area"]
NAMES = ["radius", "texture", "concave_points", "area"]
PDO = 20.0  # points to double the odds
BASE = 600.0


@dataclass
class DemoModel:
    artifact: bytes
    signature: dict[str, Any]
    reference: list[dict[str, float]]
    holdout: list[dict[str, float]]
    labels: list[Any]
    metrics: dict[str, float]


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    columns = [list(data.feature_names).index(f) for f in FEATURES]
    x = data.data[:, columns].astype(np.float64)
    y = (data.target == 0).astype(int)  # 1 = malignant: the case to catch
    split = train_test_split(x, y, test_size=0.3, random_state=7, stratify=y)
    return split[0], split[1], split[2], split[3]


def _rows(x: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(NAMES, map(float, row), strict=True)) for row in x]


def _signature(outputs: list[dict[str, str]]) -> dict[str, Any]:
    return {"inputs": [{"name": n, "type": "double", "min": 0} for n in NAMES], "outputs": outputs}


def labelled_rows() -> tuple[list[dict[str, float]], list[int]]:
    """Every row of the dataset (the training rows, then the holdout), with its label
    (1 = malignant), in :func:`onnx_classifier`'s signature."""
    x_train, x_test, y_train, y_test = _data()
    labels = [int(v) for v in (*y_train, *y_test)]
    return _rows(x_train) + _rows(x_test), labels


def onnx_classifier() -> DemoModel:
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    x_train, x_test, y_train, y_test = _data()
    model = GradientBoostingClassifier(n_estimators=60, max_depth=2, random_state=7)
    model.fit(x_train, y_train)
    onx = to_onnx(model, x_train[:1].astype(np.float32), options={"zipmap": False})
    auc = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    return DemoModel(
        artifact=onx.SerializeToString(),
        signature=_signature([{"name": "probability", "type": "double"}]),
        reference=_rows(x_train),
        holdout=_rows(x_test),
        labels=[int(v) for v in y_test],
        metrics={"auc": round(auc, 4)},
    )


def scorecard() -> DemoModel:
    import json

    from sklearn.linear_model import LogisticRegression

    x_train, x_test, y_train, y_test = _data()
    edges = [np.quantile(x_train[:, j], [0.25, 0.5, 0.75]) for j in range(len(NAMES))]
    bins = np.column_stack(
        [np.searchsorted(edges[j], x_train[:, j], side="right") for j in range(len(NAMES))]
    )
    indicators = np.zeros((len(bins), 4 * len(NAMES)))
    for j in range(len(NAMES)):
        indicators[np.arange(len(bins)), 4 * j + bins[:, j]] = 1
    fit = LogisticRegression(C=1.0, max_iter=2000).fit(indicators, 1 - y_train)  # odds of clear
    factor = PDO / math.log(2)
    features = {}
    for j, name in enumerate(NAMES):
        bounds = [None, *map(float, edges[j]), None]
        features[name] = {
            "bins": [
                {
                    "min": bounds[k],
                    "max": bounds[k + 1],
                    "points": round(factor * float(fit.coef_[0][4 * j + k]), 1),
                }
                for k in range(4)
            ]
        }
    base = round(BASE + factor * float(fit.intercept_[0]), 1)
    spec = {
        "base_points": base,
        "features": features,
        "cutoff": BASE,
        "outcomes": ["review", "clear"],
    }
    return DemoModel(
        artifact=json.dumps(spec).encode(),
        signature=_signature([{"name": "decision", "type": "string"}]),
        reference=_rows(x_train),
        holdout=_rows(x_test),
        labels=["review" if v else "clear" for v in y_test],
        metrics={},
    )
