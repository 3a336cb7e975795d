"""Drift evaluation throughput and memory against the pyarrow scan-only floor.

Generates deterministic logs (20 numeric + 5 categorical features; files of up to 1M rows,
row groups of 128K), a 1M-row reference, then in fresh processes: (1) the scan-only rate,
pyarrow reading the same feature columns of the same files; (2) Steward's evaluation rate and
peak RSS. Targets (issue): >= 0.6 x the scan-only rate per core; peak memory flat in rows.
Last line: ``RESULT {json}``. Run: `.venv/bin/python -m bench.drift [--rows N]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = [f"n{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
T0 = datetime(2026, 11, 27, tzinfo=UTC)
FILE_ROWS = 1_000_000


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns = {name: rng.normal(i % 5, 1 + i % 3, n) for i, name in enumerate(NUMERIC)}
    for name in CATEGORICAL:
        columns[name] = pa.array(rng.choice(["a", "b", "c", "d", "e"], n)).dictionary_encode()
    columns["ts"] = pa.array(
        np.full(n, int(T0.timestamp() * 1e6) + 1), pa.timestamp("us", tz="UTC")
    )
    columns["version"] = pa.array(np.ones(n, np.int32))
    columns["score"] = rng.random(n)
    return pa.table(columns)


def generate(rows: int, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    written = 0
    seed = 100
    while written < rows:
        n = min(FILE_ROWS, rows - written)
        pq.write_table(_table(n, seed), root / f"part-{seed}.parquet", row_group_size=131_072)
        written += n
        seed += 1
    reference = _table(1_000_000, 1).to_pydict()
    from steward.domain.profile import build_profile

    columns = {k: np.asarray(reference[k], dtype=np.float64) for k in NUMERIC}
    columns |= {k: np.asarray(reference[k], dtype=object) for k in CATEGORICAL}
    profile = build_profile(columns, np.asarray(reference["score"]))
    (root / "reference.json").write_text(profile.model_dump_json())


def _signature() -> object:
    from steward.domain.models import Signature

    inputs = [{"name": n} for n in NUMERIC] + [{"name": c, "type": "string"} for c in CATEGORICAL]
    return Signature.model_validate({"inputs": inputs})


def scan(root: Path) -> dict[str, float]:
    started = time.perf_counter()
    rows = 0
    for path in sorted(root.glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(columns=[*NUMERIC, *CATEGORICAL, "score"]):
            rows += batch.num_rows
    return {"rows": rows, "seconds": time.perf_counter() - started}


def evaluate(root: Path) -> dict[str, float]:
    from steward.domain.profile import Profile
    from steward.drift.evaluate import partial_of

    reference = Profile.model_validate_json((root / "reference.json").read_text())
    started = time.perf_counter()
    files = ((p.name, p.read_bytes()) for p in sorted(root.glob("*.parquet")))
    window = (T0, T0 + timedelta(hours=1))
    partial = partial_of(files, reference, _signature(), window, 1)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    assert partial.profile is not None
    return {"rows": partial.profile.rows, "seconds": seconds}


def _peak_rss_mb() -> float:
    """VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(mode: str, root: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.drift", "--child", mode, str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, root = args.child
        result = scan(Path(root)) if mode == "scan" else evaluate(Path(root))
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="steward-drift-bench-") as tmp:
        root = Path(tmp)
        generate(args.rows, root)
        scans = [_child("scan", root) for _ in range(3)]
        evals = [_child("evaluate", root) for _ in range(3)]
    scan_s = float(np.median([s["seconds"] for s in scans]))
    eval_s = float(np.median([e["seconds"] for e in evals]))
    result = {
        "rows": args.rows,
        "seconds": round(eval_s, 3),
        "scan_rows_per_s": round(args.rows / scan_s),
        "steward_rows_per_s": round(args.rows / eval_s),
        "ratio": round(scan_s / eval_s, 3),
        "peak_rss_mb": round(max(e["peak_rss_mb"] for e in evals), 1),
        "scan_peak_rss_mb": round(max(s["peak_rss_mb"] for s in scans), 1),
    }
    print(
        f"drift over {args.rows:,} rows x 25 features: scan {result['scan_rows_per_s']:,} rows/s, "
        f"Steward {result['steward_rows_per_s']:,} rows/s (ratio {result['ratio']}), "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
