"""Explanation speed: exact interventional TreeSHAP (numpy, over the ONNX graph) against
shap's TreeExplainer (C++, over the scikit-learn model the graph was converted from) on the
same rows and the same 100-row background, in the same run; and the added latency of
``predict?explain=3`` for one row (the scorer in-process, explainer warm).

Model: GradientBoostingClassifier, 100 trees of depth 6, breast cancer (30 features).
Rates are rows explained per second of this thread's CPU time (one core), medians of
``REPEAT`` runs. Each side's per-background work is done once, outside the timer, as a warm
scoring function does it once per loaded version: shap's ``TreeExplainer(...)``, our
``prepare`` (its time is reported apart, ``ours_prepare_cpu_ms``).
Targets (issue 17): >= 0.3x shap's rate; one-row overhead < 20 ms.
Last line: ``RESULT {json}``. Run: `.venv/bin/python -m bench.explain`.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from bench.scoring import _median_ms, _setup

REPEAT = 5
ROWS = 200


def _cpu(fn: Any, repeat: int) -> tuple[float, float]:
    """Median wall and thread-CPU seconds of ``fn`` (bench.scoring's timer, in seconds)."""
    wall_ms, cpu_ms = _median_ms(fn, repeat)
    return wall_ms / 1000, cpu_ms / 1000


def measure() -> dict[str, Any]:
    import shap
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    from steward.explain.onnx_trees import from_onnx
    from steward.explain.trees import prepare, tree_shap

    x, y = load_breast_cancer(return_X_y=True)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=6, random_state=0).fit(x, y)
    graph = to_onnx(model, x[:1].astype(np.float32)).SerializeToString()
    parsed = from_onnx(graph, x.shape[1])
    assert parsed is not None
    trees, _ = parsed
    rows, background = x[-ROWS:], x[:100]
    _, prepare_cpu = _cpu(lambda: prepare(trees, background), REPEAT)
    prepared = prepare(trees, background)
    ours_wall, ours_cpu = _cpu(lambda: tree_shap(trees, rows, prepared), REPEAT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.TreeExplainer(model, background, feature_perturbation="interventional")
        shap_wall, shap_cpu = _cpu(
            lambda: explainer.shap_values(rows, check_additivity=False), REPEAT
        )
    one_row = _one_row_overhead(graph, x)
    return {
        "model": "GradientBoostingClassifier 100 trees depth 6, breast cancer, ONNX float32",
        "leaves": int(trees.paths.n_leaves),
        "rows": ROWS,
        "background": 100,
        "ours_rows_per_cpu_s": ROWS / ours_cpu,
        "shap_rows_per_cpu_s": ROWS / shap_cpu,
        "ratio_cpu": shap_cpu / ours_cpu,
        "ours_prepare_cpu_ms": prepare_cpu * 1000,
        "ours_rows_per_wall_s": ROWS / ours_wall,
        "shap_rows_per_wall_s": ROWS / shap_wall,
        **one_row,
        "load_average": _load(),
    }


def _load() -> str:
    """The 1, 5 and 15 minute load averages when the run ended (a shared machine's noise)."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _one_row_overhead(graph: bytes, x: np.ndarray) -> dict[str, float]:
    from steward.scoring.inputs import PredictRequest

    names = [f"f{i}" for i in range(x.shape[1])]
    records = [dict(zip(names, map(float, r), strict=True)) for r in x]
    scorer = _setup("onnx", "classification", graph, records, names)
    one = PredictRequest(instances=[records[-1]])
    plain_wall, plain_cpu = _cpu(lambda: scorer.predict("bench", one), 200)
    explained_wall, explained_cpu = _cpu(lambda: scorer.predict("bench", one, explain=3), 200)
    return {
        "one_row_predict_ms": plain_wall * 1000,
        "one_row_predict_explain3_ms": explained_wall * 1000,
        "one_row_explain3_overhead_ms": (explained_wall - plain_wall) * 1000,
        "one_row_explain3_overhead_cpu_ms": (explained_cpu - plain_cpu) * 1000,
    }


if __name__ == "__main__":
    result = measure()
    for key, value in result.items():
        print(f"{key:36} {value:.4g}" if isinstance(value, float) else f"{key:36} {value}")
    print("RESULT " + json.dumps(result))
