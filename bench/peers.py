"""Drift evaluation side by side: Steward against Evidently and NannyML on the same logs.

The logs are ``bench.drift``'s (``generate``: ``--rows`` undrifted rows, a 1M-row drifted
window), and the peers get the raw rows behind Steward's reference profile: the 1M-row
reference table regenerated exactly as ``bench.drift`` builds it, written once as Parquet.
Each peer runs in a fresh process of its own virtualenv (``make bench-peers`` builds
``.venv-peers/<tool>`` from ``bench/peer_envs/<tool>-requirements.txt``) through
``bench/peer_envs/runner.py``, which imports neither ``steward`` nor ``bench``; Steward runs
in a fresh process too (``bench.drift``'s ``evaluate`` child), interleaved with the peers in
every repeat. Everything is single-threaded (BLAS/OpenMP threads 1, pyarrow CPU count 1) and
rates are per core: rows over CPU seconds of the first pass in a fresh process (Steward's warm
rate alongside), imports excluded everywhere, Steward's reference profile loaded before its
timer as the peers' libraries are.

A peer's time is what a user pays: reading the reference and the window into pandas, then the
drift computation down to a result (``compute``; NannyML's ``fit`` included). Also reported:
``compute`` alone, and ``current_only`` (read the window + compute, not the reference read
nor NannyML's fit: as if the reference frame or the fitted calculator were kept in memory).
``speedup`` is Steward's per-core rate over the peer's (end to end); ``speedup_compute`` and
``speedup_current_only`` compare against those narrower peer times.

One more run per peer on the drifted window records its verdicts; the undrifted verdicts come
from the timed runs. Expected: ``c0 n00 n01 n02`` on the drifted window (n02's drift is
missing values), nothing on the undrifted one. Last line: ``RESULT {json}``. Run:
`.venv/bin/python -m bench.peers [--rows N] [--data DIR] [--tools evidently,nannyml]
[--repeats 1]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from bench import drift

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "bench" / "peer_envs" / "runner.py"
TOOLS = ("evidently", "nannyml")
REFERENCE_ROWS = 1_000_000
# Steward's rate is its first pass in a fresh process, as each peer's; the later passes give
# the warm rate `bench.drift` reports, for reference.
STEWARD_PASSES = 3
SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "DO_NOT_TRACK": "1",  # Evidently's telemetry
    "NML_DISABLE_USAGE_LOGGING": "1",  # NannyML's usage logging
    "PYTHONWARNINGS": "ignore",
}


def reference_parquet(root: Path) -> Path:
    """The rows behind ``reference.json``: ``bench.drift.generate`` profiles this very table."""
    path = root / "peers" / "reference.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        table = drift._table(REFERENCE_ROWS, 1, drift.T0 - drift.HOUR)
        pq.write_table(table, path.with_suffix(".tmp"), row_group_size=drift.ROW_GROUP)
        path.with_suffix(".tmp").rename(path)
    return path


def spec(tool: str, reference: Path, window: Path) -> dict[str, Any]:
    return {
        "tool": tool,
        "reference": str(reference),
        "current": [str(p) for p in drift._files(window)],
        "numeric": [*drift.NUMERIC, "score"],
        "categorical": drift.CATEGORICAL,
    }


def run_peer(python: Path, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One fresh process of the peer's venv; a failure or a timeout is a result, not a crash."""
    started = time.perf_counter()
    try:
        out = subprocess.run(
            [str(python), str(RUNNER), json.dumps(job)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=os.environ | SINGLE_THREAD,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]
        return {"error": tail[0], "seconds_to_failure": time.perf_counter() - started}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def _phase(run: dict[str, Any], *names: str) -> float:
    return float(sum(run["phases"][n]["cpu_seconds"] for n in names if n in run["phases"]))


def summarize_peer(
    runs: list[dict[str, Any]], drifted: dict[str, Any], steward_rate: float, rows: int
) -> dict[str, Any]:
    """Medians over a peer's timed runs, its verdicts and its speedups (Steward over peer)."""
    failed = [r["error"] for r in runs if "error" in r]
    if failed:
        return {"error": failed[0]}
    assert all(r["rows"] == rows for r in runs), "every run must see every row"
    for r in runs:
        r["current_only_cpu_seconds"] = _phase(r, "read_current", "compute")
        r["read_cpu_seconds"] = _phase(r, "read_reference", "read_current")
    cpu = _median(runs, "cpu_seconds")
    compute = _median(runs, "compute_cpu_seconds")
    current_only = _median(runs, "current_only_cpu_seconds")
    undrifted = sorted({c for r in runs for c in r["flagged"]})
    drifted_flagged = drifted.get("flagged")
    return {
        "version": runs[0]["version"],
        "pandas": runs[0]["pandas"],
        "runs": len(runs),
        "seconds": round(_median(runs, "wall_seconds"), 3),
        "cpu_seconds": round(cpu, 3),
        "rows_per_s": round(rows / cpu),
        "read_cpu_seconds": round(_median(runs, "read_cpu_seconds"), 3),
        "compute_cpu_seconds": round(compute, 3),
        "compute_rows_per_s": round(rows / compute),
        "current_only_cpu_seconds": round(current_only, 3),
        "import_cpu_seconds": round(_median(runs, "import_cpu_seconds"), 3),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "speedup": round(steward_rate / (rows / cpu), 1),
        "speedup_compute": round(steward_rate / (rows / compute), 1),
        "speedup_current_only": round(steward_rate / (rows / current_only), 1),
        "undrifted_flagged": undrifted,
        "drifted_flagged": drifted_flagged if drifted_flagged is not None else drifted,
        "drifted_flagged_by_method": drifted.get("flagged_by_method"),
        "undrifted_flagged_by_method": runs[0].get("flagged_by_method"),
        "methods": runs[0]["methods"],
        "verdicts_ok": undrifted == [] and drifted_flagged == drift.EXPECTED_DRIFT,
        "drifted_missed": sorted(set(drift.EXPECTED_DRIFT) - set(drifted_flagged or [])),
        "false_positives": sorted(
            set(undrifted) | (set(drifted_flagged or []) - set(drift.EXPECTED_DRIFT))
        ),
    }


def _line(tool: str, s: dict[str, Any]) -> str:
    if "error" in s:
        return f"  {tool}: FAILED ({s['error']})"
    return (
        f"  {tool} {s['version']}: {s['rows_per_s']:,} rows/s per core ({s['cpu_seconds']} s CPU, "
        f"compute {s['compute_cpu_seconds']} s), peak RSS {s['peak_rss_mb']} MB; Steward "
        f"{s['speedup']}x (compute only {s['speedup_compute']}x, window only "
        f"{s['speedup_current_only']}x); flags drifted {s['drifted_flagged']}, "
        f"undrifted {s['undrifted_flagged']}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="keep the generated logs here, reuse them")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--venvs", type=Path, default=ROOT / ".venv-peers")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per peer process")
    args = parser.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; known: {list(TOOLS)}")
    pythons = {t: args.venvs / t / "bin" / "python" for t in tools}
    missing = [t for t, p in pythons.items() if not p.exists()]
    if missing:
        parser.error(f"no virtualenv for {missing} under {args.venvs}: run `make bench-peers`")
    os.environ.update(SINGLE_THREAD)  # inherited by Steward's child too
    with ExitStack() as stack:
        root = args.data or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        started = time.perf_counter()
        drift.generate(args.rows, root)
        reference = reference_parquet(root)
        print(f"logs ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        stewards: list[dict[str, Any]] = []
        peers: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for repeat in range(args.repeats):
            stewards.append(drift._child("evaluate", root, STEWARD_PASSES))
            for tool in tools:
                job = spec(tool, reference, root / "undrifted")
                peers[tool].append(run_peer(pythons[tool], job, args.timeout))
                print(f"repeat {repeat + 1}: {tool} {peers[tool][-1]}", file=sys.stderr)
        drifted = {
            t: run_peer(pythons[t], spec(t, reference, root / "drifted"), args.timeout)
            for t in tools
        }
        checks = drift._child("verdicts", root)
    assert all(r["rows"] == args.rows for r in stewards), "Steward must see every row"
    steward_cpu = _median(stewards, "cold_cpu_seconds")  # one pass, like each peer's
    steward_rate = args.rows / steward_cpu
    summaries = {t: summarize_peer(peers[t], drifted[t], steward_rate, args.rows) for t in tools}
    result = {
        "rows": args.rows,
        "reference_rows": REFERENCE_ROWS,
        "repeats": args.repeats,
        "steward_rows_per_s": round(steward_rate),
        "steward": {
            "cpu_seconds": round(steward_cpu, 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in stewards), 1),
            "warm_rows_per_s": round(args.rows / _median(stewards, "cpu_seconds")),
            "warm_seconds": round(_median(stewards, "wall_seconds"), 3),
            "undrifted_flagged": checks["undrifted_flagged"],
            "drifted_flagged": checks["drifted_flagged"],
        },
        "tools": summaries,
        "speedup": {t: s.get("speedup") for t, s in summaries.items()},
    }
    print(
        f"drift over {args.rows:,} rows x 26 columns (reference {REFERENCE_ROWS:,} rows), per "
        f"core: Steward {result['steward_rows_per_s']:,} rows/s ({steward_cpu:.3f} s CPU, peak "
        f"RSS {result['steward']['peak_rss_mb']} MB; flags drifted {checks['drifted_flagged']}, "
        f"undrifted {checks['undrifted_flagged']})"
    )
    for tool, summary in summaries.items():
        print(_line(tool, summary))
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
