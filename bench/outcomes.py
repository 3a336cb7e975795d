"""Performance and fairness of a window: the join of predictions with feedback labels against
the pyarrow scan of the same columns, and its peak memory as labels grow.

Generates prediction files (request id, ts, version, prediction, score, two protected
attributes; 1M-row files, 128K-row groups) and feedback for a share of them; then, in fresh
processes, (1) the scan-only rate (pyarrow reading the same columns of the same files) and
(2) ``steward.drift.outcomes`` reading, joining and assessing, with peak RSS. Last line:
``RESULT {json}``. Run: `.venv/bin/python -m bench.outcomes [--rows N] [--labelled 0.3]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from steward.domain import log_schema as schema

T0 = datetime(2026, 11, 27, tzinfo=UTC)
FILE_ROWS = 1_000_000
# What the outcomes read of a prediction file: the log's columns and two protected attributes.
LOG = (schema.REQUEST_ID, schema.TS, schema.VERSION, schema.PREDICTION, schema.SCORE)
COLUMNS = [*LOG, "sex", "region"]


def generate(rows: int, labelled: float, root: Path) -> None:
    (root / "predictions").mkdir(parents=True, exist_ok=True)
    (root / "feedback").mkdir(parents=True, exist_ok=True)
    written, part = 0, 0
    while written < rows:
        n = min(FILE_ROWS, rows - written)
        rng = np.random.default_rng(part)
        score = rng.random(n)
        ids = pa.array([f"{part:04d}{i:028x}-{i % 100}" for i in range(n)])
        predictions = pa.table(
            {
                schema.REQUEST_ID: ids,
                schema.TS: pa.array(
                    np.full(n, int(T0.timestamp() * 1e6) + 1), pa.timestamp("us", tz="UTC")
                ),
                schema.VERSION: pa.array(np.ones(n, np.int32)),
                schema.PREDICTION: (score >= 0.5).astype(np.float64),
                schema.SCORE: score,
                "sex": pa.array(rng.choice(["f", "m"], n)).dictionary_encode(),
                "region": pa.array(rng.choice(["n", "s", "e", "w"], n)).dictionary_encode(),
            }
        )
        pq.write_table(
            predictions, root / "predictions" / f"p{part}.parquet", row_group_size=131_072
        )
        chosen = np.flatnonzero(rng.random(n) < labelled)
        truth = (rng.random(len(chosen)) < score[chosen]).astype(np.float64)
        feedback = pa.table({schema.REQUEST_ID: ids.take(pa.array(chosen)), schema.LABEL: truth})
        pq.write_table(feedback, root / "feedback" / f"f{part}.parquet")
        written += n
        part += 1


def _files(root: Path, kind: str) -> list[Path]:
    return sorted((root / kind).glob("*.parquet"))


def scan(root: Path) -> dict[str, float]:
    started = time.perf_counter()
    rows = 0
    for path in _files(root, "feedback"):
        pq.read_table(path, columns=[schema.REQUEST_ID, schema.LABEL])
    for path in _files(root, "predictions"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536, columns=COLUMNS):
            rows += batch.num_rows
    return {"rows": rows, "seconds": time.perf_counter() - started}


def steward(root: Path) -> dict[str, float]:
    from steward.domain.models import MonitoringPolicy, Task
    from steward.drift import outcomes

    policy = MonitoringPolicy(protected_attributes=["sex", "region"])
    window = (T0, T0 + timedelta(hours=1))
    started = time.perf_counter()
    labels = outcomes.read_labels(
        ((p.name, p.read_bytes()) for p in _files(root, "feedback")), Task.CLASSIFICATION, []
    )
    found = outcomes.read_predictions(
        ((p.name, p.read_bytes()) for p in _files(root, "predictions")),
        window,
        1,
        Task.CLASSIFICATION,
        policy.protected_attributes,
        labels,
    )
    perf, fair = outcomes.assess(found, Task.CLASSIFICATION, policy, {}, labels.num_rows)
    seconds = time.perf_counter() - started
    assert fair["attributes"]["sex"]["groups"]
    return {"rows": found.rows, "labelled": perf["rows_labelled"], "seconds": seconds}


def _child(mode: str, root: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.outcomes", "--child", mode, "--root", str(root)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["scan", "steward"])
    parser.add_argument("--root", type=Path)
    args = parser.parse_args()
    if args.child:
        result = (scan if args.child == "scan" else steward)(args.root)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(args.rows, args.labelled, root)
        runs = [(_child("scan", root), _child("steward", root)) for _ in range(args.repeats)]
    ratios = [s["rows"] / t["seconds"] / (s["rows"] / s["seconds"]) for s, t in runs]
    scan_rate = statistics.median(s["rows"] / s["seconds"] for s, _ in runs)
    steward_rate = statistics.median(t["rows"] / t["seconds"] for _, t in runs)
    for s, t in runs:
        print(
            f"scan {s['rows'] / s['seconds'] / 1e6:.2f} M rows/s ({s['peak_rss_mb']:.0f} MB)  "
            f"steward {t['rows'] / t['seconds'] / 1e6:.2f} M rows/s ({t['peak_rss_mb']:.0f} MB), "
            f"{t['labelled']:.0f} labelled"
        )
    result = {
        "rows": args.rows,
        "labelled": runs[0][1]["labelled"],
        "seconds": statistics.median(t["seconds"] for _, t in runs),
        "scan_rows_per_s": scan_rate,
        "steward_rows_per_s": steward_rate,
        "ratio": statistics.median(ratios),
        "peak_rss_mb": statistics.median(t["peak_rss_mb"] for _, t in runs),
        "scan_peak_rss_mb": statistics.median(s["peak_rss_mb"] for s, _ in runs),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
