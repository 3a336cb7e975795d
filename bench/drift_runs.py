"""What splitting a drift window costs: the plan (a footer read per file), the map children's
partial results (size serialized), and plan -> map -> reduce against one pass over the same
files, in one process on in-memory ports (no S3 or Step Functions latency: those are the
deployment's). Same data as ``bench.drift`` (20 numeric + 5 categorical features).

Run: `.venv/bin/python -m bench.drift_runs [--files 8] [--rows-per-file 250000]`.
Last line: ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from datetime import timedelta

import pyarrow.parquet as pq

from bench.drift import CATEGORICAL, NUMERIC, T0, _table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows-per-file", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np

    from steward.adapters.memory import (
        MemoryArtifactStore,
        MemoryAuditLog,
        MemoryEventBus,
        MemoryLogFiles,
        MemoryModelStore,
        MemoryReportStore,
        MemoryRunStore,
        MemoryWorkflowEngine,
    )
    from steward.domain.identity import UserDirectory
    from steward.domain.models import ModelSpec, ModelVersion, Signature, TrafficPolicy
    from steward.domain.partitions import prefix
    from steward.domain.profile import build_profile
    from steward.drift import partials
    from steward.drift.plan import with_rows
    from steward.drift.runs import DriftJobs
    from steward.drift.service import DriftService
    from steward.registry.service import Registry

    logs = MemoryLogFiles()
    for i in range(args.files):
        sink = io.BytesIO()
        pq.write_table(_table(args.rows_per_file, 100 + i), sink, row_group_size=131_072)
        logs.files[f"{prefix('predictions', 'bench', T0)}{i:03d}.parquet"] = sink.getvalue()
    reference = _table(200_000, 1).to_pydict()
    columns = {k: np.asarray(reference[k], dtype=np.float64) for k in NUMERIC}
    columns |= {k: np.asarray(reference[k], dtype=object) for k in CATEGORICAL}
    profile = build_profile(columns, np.asarray(reference["score"]))

    store = MemoryModelStore()
    registry = Registry(store, MemoryArtifactStore(), MemoryAuditLog(), MemoryWorkflowEngine())
    registry.create_model(
        ModelSpec.model_validate({"name": "bench", "task": "regression"}),
        UserDirectory().identify("alice"),
    )
    inputs = [{"name": n} for n in NUMERIC] + [{"name": c, "type": "string"} for c in CATEGORICAL]
    version = ModelVersion.model_validate(
        {
            "name": "bench",
            "version": 1,
            "status": "APPROVED",
            "flavor": "linear",
            "task": "regression",
            "sha256": "0" * 64,
            "artifact": {"uri": "s3://bench/none", "sha256": "0" * 64, "size": 0},
            "created_by": "alice",
            "created_at": T0,
            "updated_at": T0,
            "signature": Signature.model_validate({"inputs": inputs}),
            "profile": profile.model_dump(mode="json"),
        }
    )
    store.add_version(version)
    model = store.get_model("bench")
    store.save_model(model.model_copy(update={"traffic": TrafficPolicy(champion=1)}), model.rev)

    service = DriftService(
        store,
        logs,
        MemoryReportStore(),
        MemoryEventBus(),
        batch_rows=args.rows_per_file * 2,
    )
    jobs = DriftJobs(service, MemoryRunStore())
    start, end = T0.isoformat(), (T0 + timedelta(hours=1)).isoformat()

    def timed(fn: object) -> float:
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        return time.perf_counter() - started

    def split() -> None:
        plan = jobs.plan("bench", start, end)
        results = [jobs.map("bench", plan["run"], i["batch"], 0) for i in plan["items"]]
        jobs.reduce("bench", plan["run"], results)

    pairs = [  # interleaved, so that a noisy moment hits both
        (timed(lambda: jobs.evaluate("bench", start, end)), timed(split))
        for _ in range(args.repeats)
    ]
    one_pass = statistics.median(a for a, _ in pairs)
    distributed = statistics.median(b for _, b in pairs)
    sizes = logs.sizes("predictions/")
    footer = statistics.median(timed(lambda: with_rows(sizes, logs.tail)) for _ in range(3))
    run = service.plan("bench", T0, T0 + timedelta(hours=1))
    child = partials.dumps(service.evaluate_keys(run, run.batches[0]))
    rows = args.files * args.rows_per_file
    result = {
        "rows": rows,
        "files": args.files,
        "children": len(run.batches),
        "one_pass_s": round(one_pass, 3),
        "plan_map_reduce_s": round(distributed, 3),
        "ratio": round(statistics.median(b / a for a, b in pairs), 3),
        "footer_ms_per_file": round(footer * 1000 / args.files, 3),
        "partial_kb": round(len(child) / 1024, 1),
    }
    print(f"{rows:,} rows in {args.files} files, {len(run.batches)} children")
    print(f"one pass {one_pass:.2f} s, plan+map+reduce {distributed:.2f} s (x{result['ratio']})")
    print(f"footer {result['footer_ms_per_file']} ms/file; partial {result['partial_kb']} KB gz")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
