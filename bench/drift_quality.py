"""What a drift verdict is worth: false alarms and detections against sample size, Steward
beside Evidently and NannyML on the same replicates.

Replicates (``bench/peer_envs/replicates.py``): six features (four numeric, two
categorical), a fresh reference of ``reference_rows(n)`` rows and a fresh window of ``n`` rows
per replicate, undrifted (``none``) or with one drift in the window: a mean shift of 0.1, 0.25
or 0.5 standard deviation, the variance times 1.5, 10 % of a new category, 20 % missing.
For each tool, window size and case: the family-wise false-alarm rate (undrifted replicates
with any feature flagged) and the detection rate (drifted replicates with the drifted feature
flagged); ``errors``: the false-alarm rate plus the mean miss rate over the six drifts.

Steward judges each replicate as a deployment would: the reference profile (quantile bins,
category counts), the window counted on its bins, :func:`steward.drift.evaluate.report` with
the default monitoring policy. The peers run in their pinned virtualenvs (``make
peer-envs``) through ``bench/peer_envs/quality.py``, with their defaults; both sides generate
the replicates from the same seeds and the bench checks their checksums agree. Replicates
per window size: ``--replicates`` (fewer at large n to stay within minutes; the table says
how many). Last line: ``RESULT {json}``. Run: `.venv/bin/python -m bench.drift_quality
[--sizes 100,1000,...] [--replicates 60,60,20,4,1] [--tools evidently,nannyml] [--cache DIR]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.peer_envs import replicates as rep

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "bench" / "peer_envs" / "quality.py"
TOOLS = ("evidently", "nannyml")
SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
REPLICATES = (60, 60, 20, 4, 1)
T0 = datetime(2026, 11, 27, tzinfo=UTC)


def _summary(values: np.ndarray) -> Any:
    from steward.domain.profile import CategoricalSummary

    names, counts = np.unique(values, return_counts=True)
    return CategoricalSummary(
        counts={str(k): int(v) for k, v in zip(names, counts, strict=True)},
        count=int(counts.sum()),
    )


def steward_report(
    reference: dict[str, np.ndarray], window: dict[str, np.ndarray], policy: Any = None
) -> Any:
    """Steward's report on one replicate: profiles as a deployment builds them (quantile
    edges of the reference, the window counted on them), then the report."""
    from steward.domain.models import MonitoringPolicy, Signature
    from steward.domain.profile import Profile, quantile_edges, summarize_numeric
    from steward.drift.evaluate import Partial
    from steward.drift.report import report

    ref_features: dict[str, Any] = {}
    cur_features: dict[str, Any] = {}
    for name in rep.NUMERIC:
        edges = quantile_edges(reference[name])
        ref_features[name] = summarize_numeric(reference[name], edges)
        cur_features[name] = summarize_numeric(window[name], edges)
    for name in rep.CATEGORICAL:
        ref_features[name] = _summary(reference[name])
        cur_features[name] = _summary(window[name])
    rows = len(window[rep.NUMERIC[0]])
    inputs = [{"name": n} for n in rep.NUMERIC]
    inputs += [{"name": n, "type": "string"} for n in rep.CATEGORICAL]
    return report(
        Partial(profile=Profile(rows=rows, features=cur_features), files=1),
        Profile(rows=len(reference[rep.NUMERIC[0]]), features=ref_features),
        Signature.model_validate({"inputs": inputs}),
        policy or MonitoringPolicy(),
        report_id="quality",
        model="bench",
        version=1,
        window=(T0, T0),
        created_at=T0.isoformat(),
    )


def steward_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for job in jobs:
        reference, window = rep.replicate(job["n"], job["case"], job["replicate"])
        started = time.process_time()
        result = steward_report(reference, window)
        out.append(
            {
                **job,
                "flagged": result.drifted_features,
                "verdict": result.verdict,
                "checksum": rep.checksum(reference, window),
                "cpu_seconds": time.process_time() - started,
            }
        )
    return out


def peer_jobs(python: Path, tool: str, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(python), str(RUNNER), json.dumps({"tool": tool, "jobs": jobs})],
        capture_output=True,
        text=True,
        env=os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        cwd=RUNNER.parent,
        check=False,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]
        raise RuntimeError(f"{tool}: {tail[0]}")
    results: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def rates(results: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per window size: the false-alarm rate, each drift's detection rate, ``errors``."""
    table: dict[int, dict[str, Any]] = {}
    for n in sorted({r["n"] for r in results}):
        row: dict[str, Any] = {}
        for case in rep.CASES:
            runs = [r for r in results if r["n"] == n and r["case"] == case]
            if not runs:
                continue
            if case == "none":
                row["false_alarm"] = float(np.mean([bool(r["flagged"]) for r in runs]))
            else:
                row[case] = float(np.mean([rep.TARGET[case] in r["flagged"] for r in runs]))
            row.setdefault("replicates", len(runs))
        drifts = [row[c] for c in rep.CASES[1:] if c in row]
        if "false_alarm" in row and drifts:
            row["errors"] = row["false_alarm"] + float(np.mean([1 - d for d in drifts]))
        table[n] = row
    return table


def markdown(tables: dict[str, dict[int, dict[str, Any]]]) -> str:
    """One row per case, one column per window size; cells ``Steward · Evidently ·
    NannyML`` (the tools present, in that order)."""
    tools = list(tables)
    sizes = sorted({n for t in tables.values() for n in t})
    head = "| case | " + " | ".join(f"n = {n:,}" for n in sizes) + " |"
    lines = [head, "|---" * (len(sizes) + 1) + "|"]
    labels = {"none": "false alarm (no drift)", "errors": "false alarm + mean miss"}
    for key in ["none", *rep.CASES[1:], "errors"]:
        field = "false_alarm" if key == "none" else key
        cells = []
        for n in sizes:
            values = [tables[t].get(n, {}).get(field) for t in tools]
            cells.append(" · ".join("-" if v is None else f"{v:.2f}" for v in values))
        lines.append(f"| {labels.get(key, 'detected: ' + key)} | " + " | ".join(cells) + " |")
    counts = " · ".join(f"{n:,}: {tables[tools[0]].get(n, {}).get('replicates', 0)}" for n in sizes)
    lines.append(f"\nReplicates per case: {counts}. Cells: {' · '.join(tools)}.")
    return "\n".join(lines)


def jobs_for(
    sizes: list[int], counts: list[int], cases: tuple[str, ...] = rep.CASES
) -> list[dict[str, Any]]:
    """Replicate-major: any prefix of a size's jobs covers every case equally."""
    return [
        {"n": n, "case": case, "replicate": i}
        for n, k in zip(sizes, counts, strict=True)
        for i in range(k)
        for case in cases
    ]


def _cached(cache: Path | None, key: str, run: Callable[[], list[dict[str, Any]]]) -> Any:
    """``run()``, or its result kept in ``cache`` from an earlier run with the same key."""
    path = cache / f"{key}.json" if cache else None
    if path and path.exists():
        return json.loads(path.read_text())
    result = run()
    if path:
        path.write_text(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--replicates", default=",".join(map(str, REPLICATES)))
    parser.add_argument("--tools", default=",".join(TOOLS), help="peers; empty: Steward only")
    parser.add_argument("--venvs", type=Path, default=ROOT / ".venv-peers")
    parser.add_argument("--cache", type=Path, help="keep each (tool, size) result here, reuse it")
    parser.add_argument("--workers", type=int, default=2, help="peer processes at a time")
    parser.add_argument("--cases", default=",".join(rep.CASES), help="e.g. none: false alarms")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    counts = [int(x) for x in args.replicates.split(",")]
    if len(counts) != len(sizes):
        parser.error("--replicates needs one count per size")
    tools = [t for t in args.tools.split(",") if t]
    pythons = {t: args.venvs / t / "bin" / "python" for t in tools}
    missing = [t for t, p in pythons.items() if not p.exists()]
    if missing:
        parser.error(f"no virtualenv for {missing} under {args.venvs}: run `make peer-envs`")
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    cases = tuple(c for c in args.cases.split(",") if c)
    if set(cases) - set(rep.CASES):
        parser.error(f"unknown cases; known: {list(rep.CASES)}")
    chunks = {n: jobs_for([n], [k], cases) for n, k in zip(sizes, counts, strict=True)}
    results: dict[str, list[dict[str, Any]]] = {"steward": []}
    for n, jobs in chunks.items():
        key = f"steward-{n}-{len(jobs)}-{'-'.join(cases) if cases != rep.CASES else 'all'}"
        results["steward"] += _cached(args.cache, key, lambda jobs=jobs: steward_jobs(jobs))
    print(f"steward: {len(results['steward'])} replicates judged", file=sys.stderr)
    with ThreadPoolExecutor(args.workers) as pool:  # each peer process is single-threaded
        futures = {
            (tool, n): pool.submit(
                _cached,
                args.cache,
                f"{tool}-{n}-{len(jobs)}-{'-'.join(cases) if cases != rep.CASES else 'all'}",
                lambda tool=tool, jobs=jobs: peer_jobs(pythons[tool], tool, jobs),
            )
            for n, jobs in sorted(chunks.items(), key=lambda item: -item[0])  # long ones first
            for tool in tools
        }
        steward = {(r["n"], r["case"], r["replicate"]): r for r in results["steward"]}
        for tool in tools:
            results[tool] = []
            for n in sizes:
                try:
                    results[tool] += futures[(tool, n)].result()
                except RuntimeError as exc:  # a peer that fails at one size is a "-"
                    print(f"{tool} at n = {n}: {exc}", file=sys.stderr)
            mismatched = [
                (r["n"], r["case"], r["replicate"])
                for r in results[tool]
                if steward[(r["n"], r["case"], r["replicate"])]["checksum"] != r["checksum"]
            ]
            assert not mismatched, f"{tool} judged other rows: {mismatched[:3]}"
            print(f"{tool}: {len(results[tool])} replicates judged", file=sys.stderr)
    tables = {tool: rates(r) for tool, r in results.items()}
    cpu = {
        tool: {
            n: float(np.median([r["cpu_seconds"] for r in rs if r["n"] == n]))
            for n in sizes
            if any(r["n"] == n for r in rs)
        }
        for tool, rs in results.items()
    }
    print(markdown(tables))
    print("RESULT " + json.dumps({"tables": tables, "cpu_seconds_median": cpu}, sort_keys=True))


if __name__ == "__main__":
    main()
