"""NannyML's CBPE on ``bench/cbpe.py``'s data, run by NannyML's own virtualenv.

Standalone on purpose: it imports neither ``steward`` nor ``bench``. Usage::

    .venv-peers/nannyml/bin/python bench/peer_envs/cbpe_runner.py '<spec json>'

The spec names the reference and analysis Parquet files (columns ``score``, ``prediction``,
``label``) and the chunk size. Phases are timed apart (CPU and wall): reading, ``fit`` on the
reference, ``estimate`` on the analysis rows down to plain lists. Imports come before any
timer, as in a warm function. Last stdout line: JSON with the per-chunk estimates.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

METRICS = ("roc_auc", "accuracy", "f1")


def main() -> None:
    import warnings

    import nannyml as nml
    import pandas as pd

    warnings.filterwarnings("ignore")
    spec: dict[str, Any] = json.loads(sys.argv[1])
    phases: dict[str, dict[str, float]] = {}

    def timed(name: str, work: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        out = work()
        phases[name] = {
            "cpu_seconds": time.process_time() - cpu,
            "wall_seconds": time.perf_counter() - wall,
        }
        return out

    reference = timed("read_reference", lambda: pd.read_parquet(spec["reference"]))
    analysis = timed("read_analysis", lambda: pd.read_parquet(spec["analysis"]))
    estimator = nml.CBPE(
        problem_type="classification_binary",
        y_pred_proba="score",
        y_pred="prediction",
        y_true="label",
        metrics=list(METRICS),
        chunk_size=int(spec["chunk_rows"]),
    )
    timed("fit", lambda: estimator.fit(reference))

    def estimate() -> dict[str, list[float]]:
        frame = estimator.estimate(analysis.drop(columns=["label"])).filter(period="analysis")
        table = frame.to_df()
        out: dict[str, list[float]] = {}
        for metric in METRICS:
            out[metric] = table[(metric, "value")].astype(float).tolist()
            out[f"{metric}_lower"] = table[(metric, "lower_confidence_boundary")].tolist()
            out[f"{metric}_upper"] = table[(metric, "upper_confidence_boundary")].tolist()
            out[f"{metric}_sampling_error"] = table[(metric, "sampling_error")].tolist()
        return out

    estimates = timed("estimate", estimate)
    print(
        json.dumps(
            {
                "version": nml.__version__,
                "calibrated": bool(estimator.needs_calibration),
                "phases": phases,
                "estimates": estimates,
            }
        )
    )


if __name__ == "__main__":
    main()
