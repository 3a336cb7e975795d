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

``--against REV`` also times ``steward/explain/trees.py`` as it was at the git revision REV,
in the same run on the same rows (before/after). The ``sampling_*`` figures: sampling_shap
over an ONNX MLP (scaler + MLPClassifier, 30 features, skl2onnx's default export with its
ZipMap) under the default explain policy, rows per second of process CPU time (onnxruntime
runs in its own threads) and the mean model evaluations per row.
Last line: ``RESULT {json}``. Run: `OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.explain`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bench.scoring import _median_ms, _setup

REPEAT = 5
ROWS = 200


def _cpu(fn: Any, repeat: int) -> tuple[float, float]:
    """Median wall and thread-CPU seconds of ``fn`` (bench.scoring's timer, in seconds)."""
    wall_ms, cpu_ms = _median_ms(fn, repeat)
    return wall_ms / 1000, cpu_ms / 1000


def measure(against: str | None = None) -> dict[str, Any]:
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
    before: dict[str, Any] = {}
    if against is not None:
        old = _trees_at(against)
        kept = ("feature", "threshold", "op", "yes", "no", "missing_yes", "value", "roots")
        old_trees = old.TreeEnsemble(
            **{k: getattr(trees, k) for k in kept},
            base=trees.base,
            n_features=trees.n_features,
            dtype=trees.dtype,
        )
        old_prepared = old.prepare(old_trees, background)
        _, old_cpu = _cpu(lambda: old.tree_shap(old_trees, rows, old_prepared), REPEAT)
        same = old.tree_shap(old_trees, rows, old_prepared).values
        before = {
            "before_rev": against,
            "before_rows_per_cpu_s": ROWS / old_cpu,
            "before_ratio_cpu": shap_cpu / old_cpu,
            "before_max_abs_difference": float(
                np.abs(same - tree_shap(trees, rows, prepared).values).max()
            ),
        }
    one_row = _one_row_overhead(graph, x)
    sampled = _sampling(x, y)
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
        **before,
        **one_row,
        **sampled,
        "load_average": _load(),
    }


def _trees_at(rev: str) -> Any:
    """``steward/explain/trees.py`` as it was at ``rev``, imported as a module of its own."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{rev}:layers/steward/steward/explain/trees.py"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "trees_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("trees_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["trees_before"] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def _sampling(x: np.ndarray, y: np.ndarray, rows: int = 20) -> dict[str, float]:
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from steward.domain.models import Signature, Task
    from steward.explain.explainer import Explainer
    from steward.runtimes.onnx import OnnxRuntime

    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=800, random_state=0)
    ).fit(x, y)
    graph = to_onnx(model, x[:1].astype(np.float32)).SerializeToString()
    names = [f"f{i}" for i in range(x.shape[1])]
    signature = Signature.model_validate({"inputs": [{"name": n, "type": "double"} for n in names]})
    runtime = OnnxRuntime(graph, signature, Task.CLASSIFICATION)
    explainer = Explainer(runtime, {n: x[:100, i] for i, n in enumerate(names)})
    asked = {n: x[-rows:, i] for i, n in enumerate(names)}
    explainer.explain({k: v[:1] for k, v in asked.items()})  # warm
    cpu, wall = time.process_time(), time.perf_counter()
    explanation = explainer.explain(asked)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert explanation.evaluations is not None and explanation.errors is not None
    return {
        "sampling_rows_per_cpu_s": rows / cpu,
        "sampling_rows_per_wall_s": rows / wall,
        "sampling_evaluations_per_row": float(np.mean(explanation.evaluations)),
        "sampling_max_standard_error": max(max(e.values()) for e in explanation.errors),
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also time trees.py at this revision")
    result = measure(parser.parse_args().against)
    for key, value in result.items():
        print(f"{key:36} {value:.4g}" if isinstance(value, float) else f"{key:36} {value}")
    print("RESULT " + json.dumps(result))
