"""Label-free performance (CBPE): Steward's estimate against the realized metrics and against
NannyML's CBPE on the same data, and their speed.

Data (seeded): five standard normal features and a fixed P(y | x) (a logistic of a non-linear
function: no concept drift anywhere); a scikit-learn gradient boosting classifier trained on
20,000 rows gives the score, ``prediction`` is ``score >= 0.5``. The reference (the version's
holdout) is ``--reference`` rows from the training distribution; the analysis rows are
``--chunks`` chunks of ``--chunk-rows`` rows under a covariate shift that grows chunk by chunk
(x0's mean up to +1, x1's mean down and its spread up), labels drawn from the same P(y | x),
so the realized ROC AUC, accuracy and F1 move while the concept does not. ``--sharpen k``
multiplies the score's logit by k: an over-confident model that calibration must correct.

Steward: the calibration validation fits (:func:`steward.stats.cbpe.calibration_record`) on
the reference, then per chunk the counts the drift pass makes (:func:`cbpe.count`) and the
estimate (:func:`cbpe.estimate`). NannyML 0.13.1: ``CBPE(problem_type="classification_binary",
metrics=["roc_auc", "accuracy", "f1"], chunk_size=...)``, ``fit(reference)`` then
``estimate(analysis)``, in a fresh process of its own virtualenv (``.venv-peers/nannyml``,
``make peer-envs``) through ``bench/peer_envs/cbpe_runner.py``. Times are CPU seconds,
single-threaded, imports and Parquet reads excluded on both sides; Steward's are the median
of ``--repeats`` passes, NannyML's of ``--repeats`` processes.

Reported per chunk: realized and estimated ROC AUC (both tools), |estimated - realized|, and
whether the realized value lies in each tool's band (Steward: 95 %; NannyML: ±3 sampling
errors). Targets (issue #18): |estimated - realized| ROC AUC <= 0.02 on >= 90 % of chunks,
|Steward - NannyML| <= 0.01, Steward >= 10x NannyML's speed. Last line: ``RESULT {json}``.
Run: `.venv/bin/python -m bench.cbpe [--chunks 40] [--chunk-rows 5000] [--reference 20000]
[--repeats 3] [--seed 1] [--sharpen 1]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "bench" / "peer_envs" / "cbpe_runner.py"
METRICS = ("roc_auc", "accuracy", "f1")
TARGET_ERROR, TARGET_SHARE, TARGET_AGREEMENT, TARGET_SPEEDUP = 0.02, 0.9, 0.01, 10.0
SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NML_DISABLE_USAGE_LOGGING": "1",
    "PYTHONWARNINGS": "ignore",
}


def true_probability(x: np.ndarray) -> np.ndarray:
    """P(y = 1 | x): the same for every row, reference or shifted (no concept drift)."""
    logit = 1.5 * x[:, 0] - 1.0 * x[:, 1] + 0.8 * x[:, 2] * x[:, 3] + 0.7 * np.sin(2 * x[:, 4])
    probability: np.ndarray = 1 / (1 + np.exp(-(logit - 0.5)))
    return probability


def _features(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    x = rng.normal(size=(n, 5))
    x[:, 0] += shift
    x[:, 1] = x[:, 1] * (1 + 0.5 * shift) - 0.5 * shift
    return x


def generate(
    seed: int, reference: int, chunks: int, chunk_rows: int, sharpen: float = 1.0
) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    train = _features(rng, 20_000)
    model = HistGradientBoostingClassifier(max_iter=150, max_leaf_nodes=15, random_state=seed)
    model.fit(train, rng.random(len(train)) < true_probability(train))

    def scored(x: np.ndarray) -> dict[str, np.ndarray]:
        score = model.predict_proba(x)[:, 1]
        if sharpen != 1.0:  # an over-confident score (same ranking, same predictions)
            logit = np.log(score) - np.log1p(-score)
            score = 1 / (1 + np.exp(-sharpen * logit))
        label = rng.random(len(x)) < true_probability(x)
        return {"score": score, "prediction": (score >= 0.5).astype(np.int64), "label": label}

    ref = scored(_features(rng, reference))
    parts = [
        scored(_features(rng, chunk_rows, shift=c / max(chunks - 1, 1))) for c in range(chunks)
    ]
    analysis = {k: np.concatenate([p[k] for p in parts]) for k in ref}
    return {"reference": ref, "analysis": analysis}


def realized(score: np.ndarray, said: np.ndarray, label: np.ndarray) -> dict[str, float | None]:
    from steward.stats.performance import accuracy, precision_recall_f1, roc_auc

    return {
        "roc_auc": roc_auc(label, score),
        "accuracy": accuracy(label, said),
        "f1": precision_recall_f1(label, said, True)[2],
    }


def steward(data: dict[str, Any], chunk_rows: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Calibrate on the reference, then count and estimate chunk by chunk."""
    from steward.domain.binning import Binner
    from steward.stats import cbpe

    ref, analysis = data["reference"], data["analysis"]
    cpu = time.process_time()
    record = cbpe.calibration_record(ref["score"], ref["label"], "1")
    fit_cpu = time.process_time() - cpu
    assert record is not None
    cpu = time.process_time()
    steps = cbpe.steps_of(record)  # as the drift pass reads it from the version
    binner = Binner(steps.edges)
    found = []
    for start in range(0, len(analysis["score"]), chunk_rows):
        chunk = slice(start, start + chunk_rows)
        said = analysis["prediction"][chunk] == 1
        counted, missing = cbpe.count(steps, analysis["score"][chunk], said, binner)
        found.append(cbpe.estimate(cbpe.Blocks(counted.tolist(), missing), steps))
    estimate_cpu = time.process_time() - cpu
    return {"calibration": record, "chunks": found}, {"fit": fit_cpu, "estimate": estimate_cpu}


def nannyml(python: Path, root: Path, data: dict[str, Any], chunk_rows: int) -> dict[str, Any]:
    for name in ("reference", "analysis"):
        frame = data[name]
        table = pa.table(
            {
                "score": frame["score"],
                "prediction": frame["prediction"],
                "label": frame["label"].astype(np.int64),
            }
        )
        pq.write_table(table, root / f"{name}.parquet")
    spec = {
        "reference": str(root / "reference.parquet"),
        "analysis": str(root / "analysis.parquet"),
        "chunk_rows": chunk_rows,
    }
    out = subprocess.run(
        [str(python), str(RUNNER), json.dumps(spec)],
        capture_output=True,
        text=True,
        env=os.environ | SINGLE_THREAD,
        cwd=ROOT,
        timeout=3600,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]
        return {"error": tail[0]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _share(values: list[bool]) -> float:
    return float(np.mean(values)) if values else 0.0


def summarize(
    data: dict[str, Any],
    ours: dict[str, Any],
    theirs: dict[str, Any] | None,
    chunk_rows: int,
) -> dict[str, Any]:
    analysis = data["analysis"]
    rows: list[dict[str, Any]] = []
    for i, estimate in enumerate(ours["chunks"]):
        chunk = slice(i * chunk_rows, (i + 1) * chunk_rows)
        actual = realized(
            analysis["score"][chunk], analysis["prediction"][chunk] == 1, analysis["label"][chunk]
        )
        row: dict[str, Any] = {"chunk": i}
        for metric in METRICS:
            band, truth = estimate[metric], actual[metric]
            row[metric] = {
                "realized": truth,
                "steward": band["value"],
                "steward_error": abs(band["value"] - truth),
                "steward_covered": bool(band["lower"] <= truth <= band["upper"]),
            }
            if theirs is not None:
                est = theirs["estimates"]
                value = est[metric][i]
                row[metric] |= {
                    "nannyml": value,
                    "nannyml_error": abs(value - truth),
                    "nannyml_covered": bool(
                        est[f"{metric}_lower"][i] <= truth <= est[f"{metric}_upper"][i]
                    ),
                    "agreement": abs(band["value"] - value),
                }
        rows.append(row)
    summary: dict[str, Any] = {}
    for metric in METRICS:
        errors = [r[metric]["steward_error"] for r in rows]
        entry: dict[str, Any] = {
            "steward_error_median": float(np.median(errors)),
            "steward_error_p90": float(np.quantile(errors, 0.9)),
            "steward_error_max": float(np.max(errors)),
            "steward_within_0.02": _share([e <= TARGET_ERROR for e in errors]),
            "steward_band_coverage": _share([r[metric]["steward_covered"] for r in rows]),
            "realized_range": [
                float(min(r[metric]["realized"] for r in rows)),
                float(max(r[metric]["realized"] for r in rows)),
            ],
        }
        if theirs is not None:
            theirs_errors = [r[metric]["nannyml_error"] for r in rows]
            agreement = [r[metric]["agreement"] for r in rows]
            entry |= {
                "nannyml_error_median": float(np.median(theirs_errors)),
                "nannyml_error_max": float(np.max(theirs_errors)),
                "nannyml_within_0.02": _share([e <= TARGET_ERROR for e in theirs_errors]),
                "nannyml_band_coverage": _share([r[metric]["nannyml_covered"] for r in rows]),
                "agreement_max": float(np.max(agreement)),
                "agreement_within_0.01": _share([a <= TARGET_AGREEMENT for a in agreement]),
            }
        summary[metric] = entry
    return {"per_chunk": rows, "metrics": summary}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--chunk-rows", type=int, default=5_000)
    parser.add_argument("--reference", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sharpen", type=float, default=1.0, help="score logit x this: a miscalibrated model"
    )
    parser.add_argument("--venvs", type=Path, default=ROOT / ".venv-peers")
    parser.add_argument("--no-nannyml", action="store_true", help="Steward alone")
    parser.add_argument("--per-chunk", action="store_true", help="print every chunk")
    args = parser.parse_args(argv)
    os.environ.update(SINGLE_THREAD)
    python = args.venvs / "nannyml" / "bin" / "python"
    if not args.no_nannyml and not python.exists():
        parser.error(f"no NannyML virtualenv at {python}: run `make peer-envs`")
    data = generate(args.seed, args.reference, args.chunks, args.chunk_rows, args.sharpen)
    runs = [steward(data, args.chunk_rows) for _ in range(args.repeats)]
    ours = runs[-1][0]
    times = {k: float(np.median([r[1][k] for r in runs])) for k in ("fit", "estimate")}
    peers: list[dict[str, Any]] = []
    if not args.no_nannyml:
        with tempfile.TemporaryDirectory() as scratch:
            peers = [
                nannyml(python, Path(scratch), data, args.chunk_rows) for _ in range(args.repeats)
            ]
        failed = [p["error"] for p in peers if "error" in p]
        if failed:
            print(f"NannyML failed: {failed[0]}", file=sys.stderr)
            peers = []
    theirs = peers[-1] if peers else None
    found = summarize(data, ours, theirs, args.chunk_rows)
    result: dict[str, Any] = {
        "chunks": args.chunks,
        "chunk_rows": args.chunk_rows,
        "reference_rows": args.reference,
        "seed": args.seed,
        "sharpen": args.sharpen,
        "calibration": ours["calibration"]["method"],
        "calibration_check": ours["calibration"]["check"],
        "calibration_blocks": len(ours["calibration"]["probabilities"]),
        "steward_cpu_seconds": {**times, "total": times["fit"] + times["estimate"]},
        "metrics": found["metrics"],
    }
    if theirs is not None:
        phase = {
            k: float(np.median([p["phases"][k]["cpu_seconds"] for p in peers]))
            for k in ("fit", "estimate")
        }
        total = phase["fit"] + phase["estimate"]
        result["nannyml"] = {
            "version": theirs["version"],
            "calibrated": theirs["calibrated"],
            "cpu_seconds": {**phase, "total": total},
        }
        result["speedup"] = round(total / result["steward_cpu_seconds"]["total"], 1)
        result["speedup_estimate"] = round(phase["estimate"] / times["estimate"], 1)
        result["speedup_fit"] = round(phase["fit"] / times["fit"], 1)
    auc = result["metrics"]["roc_auc"]
    result["targets"] = {
        "error_share_ok": auc["steward_within_0.02"] >= TARGET_SHARE,
        "agreement_ok": auc.get("agreement_max", 1.0) <= TARGET_AGREEMENT,
        "speed_ok": result.get("speedup", 0.0) >= TARGET_SPEEDUP,
    }
    if args.per_chunk:
        for row in found["per_chunk"]:
            cells = [f"{m} {row[m]['realized']:.4f}/{row[m]['steward']:.4f}" for m in METRICS]
            extra = f" nannyml auc {row['roc_auc']['nannyml']:.4f}" if theirs else ""
            print(f"chunk {row['chunk']:3d}: " + ", ".join(cells) + extra)
    line = (
        f"CBPE over {args.chunks} chunks of {args.chunk_rows:,} rows: |estimated - realized| ROC "
        f"AUC median {auc['steward_error_median']:.4f}, max {auc['steward_error_max']:.4f}, "
        f"within 0.02 on {auc['steward_within_0.02']:.0%} of chunks"
    )
    if theirs is not None:
        line += (
            f"; NannyML {theirs['version']} median {auc['nannyml_error_median']:.4f}; "
            f"|Steward - NannyML| max {auc['agreement_max']:.4f}; Steward "
            f"{result['speedup']}x NannyML's speed (estimate {result['speedup_estimate']}x, "
            f"fit {result['speedup_fit']}x)"
        )
    print(line)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
