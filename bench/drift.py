"""Drift evaluation throughput and memory against the pyarrow scan-only floor.

Generates deterministic logs (20 numeric + 5 categorical features and a score; files of up to
1M rows, row groups of 128K): an undrifted window of ``--rows`` rows, a drifted window of 1M
rows (mean shift, variance change, missing values, new category) and a 1M-row reference.
Then, each in a fresh single-threaded process so that time and peak RSS are per mode, and
scan and evaluation alternating so both see the same load: (1) the scan-only floor, pyarrow
reading the same feature columns of the same files row group by row group; (2) Steward's
evaluation of the undrifted window, files opened as the S3 adapter hands them over (seekable
binary files), report included. Rates are per core: rows over the CPU seconds of the
pass (this machine is shared: wall figures are reported alongside); each process makes
``--passes`` passes and the rates come from the median of all but the first, the steady
state of a warm function (``cold_ratio``: the first pass of a fresh process). One more process
evaluates both windows for the verdicts.

Attribution drift (issue #17): with ``--attributions MODEL`` a third mode runs the same
evaluation with the attribution sample as a second reader of the same pass (as a drift map
child does: about ``--attribution-rows`` rows picked, explained with the model's explainer
and 100-row background, summed, and NDCG against the model's profile), interleaved with the
other two; ``attribution_ratio`` is its CPU over the plain evaluation's (target: < 1.2).
With ``--cbpe`` another mode evaluates as a calibrated binary classifier's drift run does, the
scores also counted for CBPE's estimate in the same pass (``cbpe_cost``: its CPU over the
plain evaluation's, per repeat in ``cbpe_costs``).
MODEL: ``gbc`` (100 trees of depth 6 over the 20 numeric features, ONNX, explained without
onnxruntime as in the drift function) or ``logistic`` (Steward's JSON flavor).

Targets (issue #5): >= 0.6 x the scan-only rate per core; peak memory flat in rows (50M rows
under 2 GB). Last line: ``RESULT {json}``. Run: `.venv/bin/python -m bench.drift [--rows N]
[--repeats 3] [--long] [--data DIR] [--attributions gbc|logistic] [--attribution-rows 500]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = [f"n{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
COLUMNS = [*NUMERIC, *CATEGORICAL, "score"]
T0 = datetime(2026, 11, 27, tzinfo=UTC)
HOUR = timedelta(hours=1)
FILE_ROWS = 1_000_000
ROW_GROUP = 131_072
DRIFTED_ROWS = 1_000_000
UNDRIFTED = (T0, T0 + 2 * HOUR)
DRIFTED = (T0 + HOUR, T0 + 2 * HOUR)  # its own files: the windows never share one
EXPECTED_DRIFT = ["c0", "n00", "n01", "n02"]  # mean shift, variance, missing, new category
# of the generated data: 2 = reference profile with edges on the counting grid, 3 = with a
# predicted class (what CBPE counts beside the score)
FORMAT = 3


def _table(n: int, seed: int, start: datetime = T0, drift: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        values = rng.normal(i % 5, 1 + i % 3, n)
        if drift and name == "n00":
            values += 0.5  # half a standard deviation
        if drift and name == "n01":
            values = (values - 1) * 1.8 + 1
        if drift and name == "n02":
            values[rng.random(n) < 0.2] = np.nan
        columns[name] = values
    for name in CATEGORICAL:
        choice = rng.choice(np.array(["a", "b", "c", "d", "e"]), n)
        if drift and name == "c0":
            choice[rng.random(n) < 0.3] = "new"
        columns[name] = pa.array(choice).dictionary_encode()
    step = int(HOUR / timedelta(microseconds=1)) // max(n, 1)
    ts = int(start.timestamp() * 1_000_000) + np.arange(n, dtype=np.int64) * step
    columns["ts"] = pa.array(ts, pa.timestamp("us", tz="UTC"))
    columns["version"] = pa.array(np.ones(n, np.int32))
    columns["score"] = rng.random(n)
    columns["prediction"] = (columns["score"] >= 0.5).astype(np.float64)
    return pa.table(columns)


def _write(root: Path, rows: int, seed: int, start: datetime, drift: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    written = 0
    while written < rows:
        n = min(FILE_ROWS, rows - written)
        # Files start staggered over the first hour, each spanning an hour of timestamps:
        # the undrifted window (two hours) holds them all.
        offset = HOUR * written / rows
        table = _table(n, seed, start + offset, drift)
        pq.write_table(table, root / f"part-{seed}.parquet", row_group_size=ROW_GROUP)
        written += n
        seed += 1


def generate(rows: int, root: Path) -> None:
    marker = root / "generated.json"
    if marker.exists() and json.loads(marker.read_text()) == {"rows": rows, "format": FORMAT}:
        return
    shutil.rmtree(root, ignore_errors=True)
    _write(root / "undrifted", rows, 100, T0, drift=False)
    _write(root / "drifted", DRIFTED_ROWS, 10_000, T0 + HOUR, drift=True)
    from steward.domain.profile import build_profile

    table = _table(1_000_000, 1, T0 - HOUR)
    columns = {k: table.column(k).to_numpy() for k in NUMERIC}
    columns |= {k: table.column(k).to_numpy(zero_copy_only=False) for k in CATEGORICAL}
    profile = build_profile(columns, table.column("score").to_numpy())
    (root / "reference.json").write_text(profile.model_dump_json())
    marker.write_text(json.dumps({"rows": rows, "format": FORMAT}))


def _signature() -> Any:
    from steward.domain.models import Signature

    inputs = [{"name": n} for n in NUMERIC] + [{"name": c, "type": "string"} for c in CATEGORICAL]
    return Signature.model_validate({"inputs": inputs})


def _files(root: Path) -> list[Path]:
    return sorted(root.glob("*.parquet"))


def scan(root: Path) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        rows = 0
        for path in _files(root / "undrifted"):
            parquet = pq.ParquetFile(path)
            for index in range(parquet.num_row_groups):
                table = parquet.read_row_group(index, columns=COLUMNS, use_threads=False)
                rows += table.num_rows
        return {"rows": rows}

    return run


def _calibration() -> dict[str, Any]:
    """A calibration as validation fits it, on a 20,000-row holdout of the bench's scores."""
    from steward.stats.cbpe import calibration_record

    rng = np.random.default_rng(5)
    scores = rng.random(20_000)
    record = calibration_record(scores, rng.random(20_000) < scores**2, "1")
    assert record is not None
    return record


def _evaluator(root: Path, cbpe: bool = False) -> Callable[[str, datetime, datetime], Any]:
    """Imports and the reference profile loaded up front, as in a warm function. ``cbpe``:
    a calibrated binary classifier's pass, its scores counted for CBPE in the same stream
    and the estimate made (the version's calibration read up front too)."""
    import pyarrow.compute  # noqa: F401  (imported lazily by the evaluation)

    from steward.domain.models import MonitoringPolicy
    from steward.domain.profile import Profile
    from steward.drift import estimate
    from steward.drift.evaluate import Accumulator, partial_of
    from steward.drift.malloc import tune_malloc
    from steward.drift.report import report
    from steward.logs.reader import stream

    tune_malloc()  # once per process, as the drift function's handler does at cold start
    reference = Profile.model_validate_json((root / "reference.json").read_text())
    signature = _signature()
    calibration = _calibration() if cbpe else None

    def run(window: str, start: datetime, end: datetime) -> Any:
        with ExitStack() as files:
            opened = ((p.name, files.enter_context(p.open("rb"))) for p in _files(root / window))
            if calibration is None:
                partial = partial_of(opened, reference, signature, (start, end), 1)
            else:
                accumulator = Accumulator(reference, signature)
                counter = estimate.ScoreCounter(calibration)
                stream(opened, (start, end), 1, [accumulator, counter])
                partial = accumulator.result()
                found = estimate.assess(counter.result(), calibration, {}, None, None)
                assert found and partial.profile and found["rows"] == partial.profile.rows
        return report(
            partial,
            reference,
            signature,
            MonitoringPolicy(),
            report_id=window,
            model="bench",
            version=1,
            window=(start, end),
            created_at=datetime.now(UTC).isoformat(),
        )

    return run


def evaluate(root: Path) -> Callable[[], dict[str, Any]]:
    run = _evaluator(root)
    return lambda: {"rows": run("undrifted", *UNDRIFTED).rows}


def evaluate_cbpe(root: Path) -> Callable[[], dict[str, Any]]:
    run = _evaluator(root, cbpe=True)
    return lambda: {"rows": run("undrifted", *UNDRIFTED).rows}


def _attribution_model(root: Path, kind: str) -> tuple[Any, Any]:
    """The model (trained once on 20,000 reference-like rows, kept next to the logs) as the
    drift function loads it, and its signature (the 20 numeric features)."""
    from steward.domain.models import Flavor, Signature, Task
    from steward.drift.attributions import runtime_for

    signature = Signature.model_validate({"inputs": [{"name": n} for n in NUMERIC]})
    path = root / f"model-{kind}.bin"
    if not path.exists():
        table = _table(20_000, 2, T0 - HOUR)
        x = np.column_stack([table.column(n).to_numpy() for n in NUMERIC])
        noise = np.random.default_rng(3).normal(0, 1, len(x))
        y = (x[:, 0] - 0.5 * x[:, 5] + 0.25 * x[:, 10] + noise > 0.4).astype(int)
        if kind == "gbc":
            from skl2onnx import to_onnx
            from sklearn.ensemble import GradientBoostingClassifier

            model = GradientBoostingClassifier(n_estimators=100, max_depth=6, random_state=0)
            model.fit(x, y)
            data = to_onnx(model, x[:1].astype(np.float32)).SerializeToString()
        else:
            from sklearn.linear_model import LogisticRegression

            fitted = LogisticRegression(max_iter=1000).fit(x, y)
            spec = {
                "intercept": float(fitted.intercept_[0]),
                "coefficients": dict(zip(NUMERIC, fitted.coef_[0].tolist(), strict=True)),
            }
            data = json.dumps(spec).encode()
        path.write_bytes(data)
    flavor = Flavor.ONNX if kind == "gbc" else Flavor.LOGISTIC
    return runtime_for(flavor, path.read_bytes(), signature, Task.CLASSIFICATION), signature


def attributions(root: Path) -> Callable[[], dict[str, Any]]:
    """The evaluation of ``evaluate`` with the attribution sample in the same pass, the
    explainer warm (built once per version in a warm function), the reference profile
    stored (computed at registration)."""
    import os

    from steward.domain.models import MonitoringPolicy
    from steward.domain.profile import Profile
    from steward.drift.attributions import CHILD_CAP, Sampler, assess, sample_rate
    from steward.drift.evaluate import Accumulator
    from steward.drift.malloc import tune_malloc
    from steward.drift.report import report
    from steward.explain.explainer import Explainer
    from steward.explain.profile import attribution_profile
    from steward.logs.reader import stream

    tune_malloc()
    kind = os.environ["BENCH_ATTRIBUTIONS"]
    sample = int(os.environ.get("BENCH_ATTRIBUTION_ROWS", "500"))
    policy = MonitoringPolicy(attribution_sample_rows=sample)
    reference = Profile.model_validate_json((root / "reference.json").read_text())
    signature = _signature()
    runtime, model_signature = _attribution_model(root, kind)
    table = _table(1_000, 1, T0 - HOUR)  # the reference table's first rows: the background
    background = {n: table.column(n).to_numpy() for n in NUMERIC}
    explainer = Explainer(runtime, background)
    profile = attribution_profile(runtime, background)
    explainer.explain({n: v[:1] for n, v in background.items()})  # warm: background prepared
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in _files(root / "undrifted"))

    def run() -> dict[str, Any]:
        start, end = UNDRIFTED
        accumulator = Accumulator(reference, signature)
        sampler = Sampler(model_signature, explainer, sample_rate(sample, rows), CHILD_CAP * sample)
        with ExitStack() as files:
            opened = (
                (p.name, files.enter_context(p.open("rb"))) for p in _files(root / "undrifted")
            )
            stream(opened, (start, end), 1, [accumulator, sampler])
        result = report(
            accumulator.result(),
            reference,
            signature,
            policy,
            report_id="undrifted",
            model="bench",
            version=1,
            window=(start, end),
            created_at=datetime.now(UTC).isoformat(),
        )
        found, _ = assess(sampler.result(), profile, policy, 1)
        assert found is not None
        return {"rows": result.rows, "explained": found["rows"], "ndcg": found["ndcg"]}

    return run


def verdicts(root: Path) -> Callable[[], dict[str, Any]]:
    run = _evaluator(root)

    def both() -> dict[str, Any]:
        undrifted, drifted = run("undrifted", *UNDRIFTED), run("drifted", *DRIFTED)
        return {
            "undrifted_flagged": undrifted.drifted_features,
            "drifted_flagged": drifted.drifted_features,
        }

    return both


def _peak_rss_mb() -> float:
    """VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


MODES: dict[str, Callable[[Path], Callable[[], dict[str, Any]]]] = {
    "scan": scan,
    "evaluate": evaluate,
    "evaluate_cbpe": evaluate_cbpe,
    "verdicts": verdicts,
    "attributions": attributions,
}


def _child(
    mode: str, root: Path, passes: int = 1, env: dict[str, str] | None = None
) -> dict[str, Any]:
    import os

    out = subprocess.run(
        [sys.executable, "-m", "bench.drift", "--child", mode, str(root), "--passes", str(passes)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _run_child(mode: str, root: Path, passes: int) -> None:
    """Time ``passes`` passes in this process: the first pays for a fresh process (page
    faults as the heaps grow), the others are the steady state of a warm function (their
    median is reported: this machine is shared, and one pass can be slowed by a neighbour)."""
    import pyarrow

    pyarrow.set_cpu_count(1)  # per core: no decoding threads in either mode
    run = MODES[mode](root)
    cpus, walls = [], []
    for _ in range(passes):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    warm_cpu, warm_wall = (cpus[1:], walls[1:]) if passes > 1 else (cpus, walls)
    result |= {
        "cpu_seconds": float(np.median(warm_cpu)),
        "wall_seconds": float(np.median(warm_wall)),
        "cold_cpu_seconds": cpus[0],
    }
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--long", action="store_true", help="50M rows (about 11 GB of Parquet)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, help="keep the generated logs here, reuse them")
    parser.add_argument(
        "--passes",
        type=int,
        default=5,
        help="passes per process; rates: median of all but the first",
    )
    parser.add_argument(
        "--attributions",
        choices=("gbc", "logistic"),
        help="also time the evaluation with attribution drift, with this model",
    )
    parser.add_argument("--attribution-rows", type=int, default=500)
    parser.add_argument(
        "--cbpe", action="store_true", help="also time a calibrated classifier's pass (CBPE)"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run_child(args.child[0], Path(args.child[1]), args.passes)
        return
    rows = 50_000_000 if args.long else args.rows
    with ExitStack() as stack:
        root = args.data or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        started = time.perf_counter()
        generate(rows, root)
        print(f"logs ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        scans, evals, explained, cbpes = [], [], [], []
        env = {
            "BENCH_ATTRIBUTIONS": args.attributions or "",
            "BENCH_ATTRIBUTION_ROWS": str(args.attribution_rows),
        }
        for _ in range(args.repeats):
            scans.append(_child("scan", root, args.passes))
            evals.append(_child("evaluate", root, args.passes))
            if args.attributions:
                explained.append(_child("attributions", root, args.passes, env))
            if args.cbpe:
                cbpes.append(_child("evaluate_cbpe", root, args.passes))
        checks = _child("verdicts", root)
    assert all(r["rows"] == rows for r in scans + evals + cbpes), "every mode must see every row"
    scan_cpu, eval_cpu = _median(scans, "cpu_seconds"), _median(evals, "cpu_seconds")
    scan_wall, eval_wall = _median(scans, "wall_seconds"), _median(evals, "wall_seconds")
    result = {
        "rows": rows,
        "repeats": args.repeats,
        "seconds": round(eval_wall, 3),
        "cpu_seconds": round(eval_cpu, 3),
        "scan_rows_per_s": round(rows / scan_cpu),
        "steward_rows_per_s": round(rows / eval_cpu),
        "ratio": round(scan_cpu / eval_cpu, 3),
        "wall_ratio": round(scan_wall / eval_wall, 3),
        "passes": args.passes,
        "cold_ratio": round(
            _median(scans, "cold_cpu_seconds") / _median(evals, "cold_cpu_seconds"), 3
        ),
        "ratios": [
            round(s["cpu_seconds"] / e["cpu_seconds"], 3) for s, e in zip(scans, evals, strict=True)
        ],
        "peak_rss_mb": round(max(e["peak_rss_mb"] for e in evals), 1),
        "scan_peak_rss_mb": round(max(s["peak_rss_mb"] for s in scans), 1),
        "undrifted_flagged": checks["undrifted_flagged"],
        "drifted_flagged": checks["drifted_flagged"],
        "verdicts_ok": checks["undrifted_flagged"] == []
        and checks["drifted_flagged"] == EXPECTED_DRIFT,
    }
    if cbpes:
        cbpe_cpu = _median(cbpes, "cpu_seconds")
        result |= {
            "cbpe_ratio": round(scan_cpu / cbpe_cpu, 3),
            "cbpe_cost": round(cbpe_cpu / eval_cpu, 3),
            "cbpe_costs": [
                round(c["cpu_seconds"] / e["cpu_seconds"], 3)
                for c, e in zip(cbpes, evals, strict=True)
            ],
        }
    if explained:
        with_cpu = _median(explained, "cpu_seconds")
        result |= {
            "attribution_model": args.attributions,
            "attribution_sample": args.attribution_rows,
            "attribution_rows_explained": explained[0]["explained"],
            "attribution_ndcg": round(explained[0]["ndcg"], 4),
            "attribution_cpu_seconds": round(with_cpu, 3),
            "attribution_ratio": round(with_cpu / eval_cpu, 3),
            "attribution_ratios": [
                round(a["cpu_seconds"] / e["cpu_seconds"], 3)
                for a, e in zip(explained, evals, strict=True)
            ],
            "attribution_wall_ratio": round(_median(explained, "wall_seconds") / eval_wall, 3),
        }
    print(
        f"drift over {rows:,} rows x 25 features, per core: scan {result['scan_rows_per_s']:,} "
        f"rows/s, Steward {result['steward_rows_per_s']:,} rows/s (ratio {result['ratio']}, "
        f"wall {result['wall_ratio']}), peak RSS {result['peak_rss_mb']} MB "
        f"(scan {result['scan_peak_rss_mb']} MB); drifted window flags "
        f"{result['drifted_flagged']}, undrifted {result['undrifted_flagged']}"
    )
    if explained:
        print(
            f"with attribution drift ({args.attributions}, {result['attribution_rows_explained']} "
            f"rows explained): {result['attribution_cpu_seconds']} s CPU against "
            f"{result['cpu_seconds']} s, ratio {result['attribution_ratio']} (target < 1.2)"
        )
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
