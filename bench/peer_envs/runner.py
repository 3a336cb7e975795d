"""One peer's drift evaluation, run by that peer's own virtualenv (``.venv-peers/<tool>``).

Standalone on purpose: it imports neither ``steward`` nor ``bench`` (the peer venvs hold only
the peer, pandas and pyarrow). Usage, from ``bench/peers.py``::

    .venv-peers/<tool>/bin/python bench/peer_envs/runner.py '<spec json>'

The spec names the tool, the reference Parquet file, the window's Parquet files and the
numeric and categorical columns. Phases are timed apart (CPU and wall): reading the reference
and the window into pandas, fitting (NannyML), computing the drift result down to a plain
dict. Imports come before any timer, as in a warm function. Last stdout line: JSON.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Before numpy, scipy or pandas load their native thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML's usage logging

# A drift threshold for the distance statistics where a peer's default needs several reference
# chunks (NannyML's standard-deviation thresholds): the same 0.1 as Evidently's and Steward's.
DISTANCE_THRESHOLD = 0.1


def _cpu() -> float:
    """This process and any children it waited for (a peer may fork workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Timer:
    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}

    def __call__(self, name: str, work: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), _cpu()
        out = work()
        self.phases[name] = {
            "cpu_seconds": _cpu() - cpu,
            "wall_seconds": time.perf_counter() - wall,
        }
        return out


def _read(paths: list[str], columns: list[str]) -> Any:
    import pandas as pd

    frames = [pd.read_parquet(p, columns=columns) for p in paths]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def evidently(spec: dict[str, Any], timer: Timer) -> tuple[list[str], dict[str, Any]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numeric, categorical = spec["numeric"], spec["categorical"]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    columns = [*numeric, *categorical]
    reference = timer("read_reference", lambda: _read([spec["reference"]], columns))
    current = timer("read_current", lambda: _read(spec["current"], columns))

    def run() -> dict[str, Any]:
        ref = Dataset.from_pandas(reference, data_definition=definition)
        cur = Dataset.from_pandas(current, data_definition=definition)
        snapshot = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
        out: dict[str, Any] = snapshot.dict()
        return out

    result = timer("compute", run)
    flagged = sorted(
        test["name"].removeprefix("Value Drift for column ")
        for test in result["tests"]
        if test["name"].startswith("Value Drift for column ") and test["status"] == "FAIL"
    )
    methods = sorted(
        {
            str(m["config"].get("method"))
            for m in result["metrics"]
            if m["config"].get("type", "").endswith("ValueDrift")
        }
    )
    return flagged, {"rows": len(current), "methods": methods}


def nannyml(spec: dict[str, Any], timer: Timer) -> tuple[list[str], dict[str, Any]]:
    import nannyml as nml
    from nannyml.thresholds import ConstantThreshold

    numeric, categorical = spec["numeric"], spec["categorical"]
    columns = [*numeric, *categorical]
    reference = timer("read_reference", lambda: _read([spec["reference"]], columns))
    current = timer("read_current", lambda: _read(spec["current"], columns))
    continuous, discrete = ["jensen_shannon", "kolmogorov_smirnov"], ["jensen_shannon", "chi2"]
    threshold = ConstantThreshold(upper=DISTANCE_THRESHOLD)
    calculator = nml.UnivariateDriftCalculator(
        column_names=columns,
        treat_as_numerical=numeric,
        treat_as_categorical=categorical,
        continuous_methods=continuous,
        categorical_methods=discrete,
        chunk_number=1,  # one chunk for the whole window (and for the reference)
        thresholds={"jensen_shannon": threshold, "kolmogorov_smirnov": threshold},
    )
    timer("fit", lambda: calculator.fit(reference))
    frame = timer(
        "compute", lambda: calculator.calculate(current).filter(period="analysis").to_df()
    )
    alerts: dict[str, list[str]] = {}
    for column in columns:
        for method in continuous if column in numeric else discrete:
            if bool(frame[(column, method, "alert")].any()):
                alerts.setdefault(method, []).append(column)
    flagged = sorted({c for cs in alerts.values() for c in cs})
    return flagged, {
        "rows": len(current),
        "methods": {"continuous": continuous, "categorical": discrete},
        "chunks": len(frame),
        "flagged_by_method": {m: sorted(cs) for m, cs in sorted(alerts.items())},
    }


TOOLS = {"evidently": evidently, "nannyml": nannyml}


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(spec: dict[str, Any]) -> dict[str, Any]:
    import importlib.metadata

    started = _cpu()
    import pandas  # noqa: F401
    import pyarrow

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)
    __import__(spec["tool"])
    imports = _cpu() - started
    timer = Timer()
    flagged, details = TOOLS[spec["tool"]](spec, timer)
    phases = timer.phases
    total = {k: sum(p[k] for p in phases.values()) for k in ("cpu_seconds", "wall_seconds")}
    compute = {k: sum(phases[p][k] for p in ("fit", "compute") if p in phases) for k in total}
    return {
        "tool": spec["tool"],
        "version": importlib.metadata.version(spec["tool"]),
        "pandas": importlib.metadata.version("pandas"),
        **total,
        "compute_cpu_seconds": compute["cpu_seconds"],
        "compute_wall_seconds": compute["wall_seconds"],
        "import_cpu_seconds": imports,
        "phases": phases,
        "peak_rss_mb": _peak_rss_mb(),
        "flagged": flagged,
        **details,
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
