"""Scoring overhead: the scoring handler in-process (API Gateway event in, response out)
minus the bare runtime call on the same rows, for onnx, sklearn, a scorecard and a
three-class onnx model (answers and log rows with every class's probability), at 1 and
1,000 rows; and the cold import of the scoring handler in a fresh process.

The log hand-off serializes each batch into its SQS message bodies exactly as in AWS and
stops short of the network call (I/O, measured in AWS, not handler overhead).
Targets (PRODUCT.md): < 1 ms for one row, < 5 ms for 1,000, cold import
< 600 ms with no pandas or scipy. Last line: ``RESULT {json}``.
Run: `.venv/bin/python -m bench.scoring`.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from steward.adapters.aws.sqs import SqsLogSink
from steward.adapters.memory import (
    MemoryArtifactStore,
    MemoryAuditLog,
    MemoryLogSink,
    MemoryModelStore,
    MemoryWorkflowEngine,
)
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from steward.scoring.inputs import PredictRequest, to_columns
from steward.scoring.service import Scorer
from tests.factories import api_event

ROOT = Path(__file__).resolve().parents[1]
USERS = UserDirectory()
NAMES = ["tenure", "charges", "usage"]


def _artifacts() -> dict[str, tuple[str, bytes]]:
    import skops.io as sio
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)).astype(np.float32)
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    onnx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}).SerializeToString()
    card = {
        "base_points": 600,
        "features": {
            n: {
                "bins": [
                    {"max": -1, "points": -20},
                    {"min": -1, "max": 1, "points": 5},
                    {"min": 1, "points": 30},
                ]
            }
            for n in NAMES
        },
        "cutoff": 600,
    }
    # Three classes: each answer and log row carries {class: probability}.
    three = LogisticRegression().fit(x, np.digitize(x[:, 0], [-0.5, 0.5]))
    onnx3 = to_onnx(three, x[:1], options={id(three): {"zipmap": False}}).SerializeToString()
    return {
        "onnx": ("classification", onnx),
        "sklearn": ("classification", sio.dumps(model)),
        "scorecard": ("decision", json.dumps(card).encode()),
        "onnx-3class": ("classification", onnx3),
    }


def _setup(
    flavor: str,
    task: str,
    artifact: bytes,
    rows: list[dict[str, float]],
    names: list[str] = NAMES,
) -> Scorer:
    registry = Registry(
        MemoryModelStore(), MemoryArtifactStore(), MemoryAuditLog(), MemoryWorkflowEngine()
    )
    registry.create_model(ModelSpec(name="bench", task=task), USERS.identify("alice"))  # type: ignore[arg-type]
    import base64

    request = RegisterVersion.model_validate(
        {
            "flavor": flavor.split("-")[0],
            "artifact_b64": base64.b64encode(artifact).decode(),
            "signature": {"inputs": [{"name": n, "type": "double"} for n in names]},
            "reference_data": {"instances": rows[:200]},
        }
    )
    registry.register_version("bench", request, USERS.identify("alice"))
    registry.validate("bench", 1)
    registry.decide("bench", 1, Decision(decision="approve", comment="b"), USERS.identify("bob"))
    registry.set_alias("bench", "production", 1, USERS.identify("alice"))
    return Scorer(registry.store, registry.artifacts, SerializingSink())


class SerializingSink(MemoryLogSink):
    """Builds the SQS message bodies (the request-path cost of the hand-off), then keeps
    only the last batch so that memory stays flat over thousands of calls."""

    def send(self, kind: str, model: str, batch: dict[str, Any]) -> None:
        SqsLogSink._bodies(kind, model, batch)
        self.batches[:] = [(kind, model, batch)]


def _median_ms(fn: Any, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this thread, in ms. On a shared machine the
    wall time includes waiting for a core; the thread's CPU time does not (onnxruntime's own
    worker threads are left out of both sides of the subtraction alike)."""
    for _ in range(5):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def _event(body: str) -> dict[str, Any]:
    return api_event("POST", "/models/bench/predict", body, resource="/models/{name}/predict")


def measure(repeat: int = 200) -> dict[str, dict[str, float]]:
    from steward.api.app import build_app
    from steward.api.routes import scoring as routes

    rng = np.random.default_rng(1)
    rows = [dict(zip(NAMES, map(float, r), strict=True)) for r in rng.normal(size=(1000, 3))]
    app = build_app(("scoring",))
    results: dict[str, dict[str, float]] = {}
    for flavor, (task, artifact) in _artifacts().items():
        scorer = _setup(flavor, task, artifact, rows)
        routes.scorer = lambda s=scorer: s  # type: ignore[assignment,misc]
        runtime = scorer.runtime(scorer.version("bench", 1))
        # As the scoring handler does after its imports (functions/scoring/handler.py): the
        # bench's own heap (scikit-learn, skl2onnx, onnx: never in the scoring function) is
        # kept out of the request's garbage collections.
        gc.freeze()
        out: dict[str, float] = {}
        for n in (1, 1000):
            body = json.dumps({"instances": rows[:n]})
            columns = to_columns(PredictRequest(instances=rows[:n]), runtime.signature)
            bare, bare_cpu = _median_ms(lambda c=columns, r=runtime: r.predict(c), repeat)
            handler, handler_cpu = _median_ms(lambda b=body: app.resolve(_event(b), None), repeat)
            response = app.resolve(_event(body), None)
            assert response["statusCode"] == 200, response
            out[f"runtime_ms_{n}"] = round(bare, 3)
            out[f"handler_ms_{n}"] = round(handler, 3)
            out[f"overhead_ms_{n}"] = round(handler - bare, 3)
            out[f"overhead_cpu_ms_{n}"] = round(handler_cpu - bare_cpu, 3)
        results[flavor] = out
    return results


def cold_import_ms(runs: int = 5) -> tuple[float, float, list[str]]:
    """Median wall and CPU ms of ``import handler`` in fresh processes, and the heavy modules
    it imported (none expected)."""
    probe = (
        "import sys, time; t, c = time.perf_counter(), time.process_time(); import handler; "
        "ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000; "
        "heavy = ('pandas', 'scipy', 'sklearn', 'aws_xray_sdk'); "
        "print(ms, cpu, ','.join(m for m in heavy if m in sys.modules))"
    )
    times, cpus, heavy = [], [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT / "functions" / "scoring",
            capture_output=True,
            text=True,
            check=True,
            env={
                "PYTHONPATH": str(ROOT / "layers" / "steward"),
                "PATH": "/usr/bin:/bin",
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as in the function's environment
            },
        ).stdout.split()
        times.append(float(out[0]))
        cpus.append(float(out[1]))
        heavy = out[2].split(",") if len(out) > 2 else []
    return statistics.median(times), statistics.median(cpus), heavy


def main() -> None:
    results = measure()
    cold, cold_cpu, heavy = cold_import_ms()
    print(
        f"{'flavor':<12} {'rows':>5} {'runtime ms':>11} {'handler ms':>11} {'overhead ms':>12}"
        f" {'overhead cpu ms':>16}"
    )
    for flavor, r in results.items():
        for n in (1, 1000):
            print(
                f"{flavor:<12} {n:>5} {r[f'runtime_ms_{n}']:>11.3f} {r[f'handler_ms_{n}']:>11.3f}"
                f" {r[f'overhead_ms_{n}']:>12.3f} {r[f'overhead_cpu_ms_{n}']:>16.3f}"
            )
        r["cold_import_ms"] = round(cold, 1)
        r["cold_import_cpu_ms"] = round(cold_cpu, 1)
    print(
        f"cold import of functions/scoring/handler.py: {cold:.0f} ms median of 5 "
        f"(CPU {cold_cpu:.0f} ms); "
        f"heavy modules imported: {heavy or 'none'}"
    )
    print("RESULT " + json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
