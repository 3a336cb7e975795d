"""Inventory at scale on the local platform: list and filter latencies at N models.

Starts the local platform (moto DynamoDB behind the same handlers), creates ``--models``
models in-process through the registry (the API's own service: audit events, index entries
in the model's transaction) from ``--workers`` threads, each with varied owners, risk tiers,
tasks and tags; every tenth model gets a version record (written to the store: no artifact
upload or validation), every fifth a production alias and every third a drift verdict, saved
through ``save_model`` so their index entries move. Then it times ``GET /models`` over HTTP
(``--requests`` calls per query, first page of 50) unfiltered and with each filter, and
reports p50/p95 and the process's peak RSS (platform included: one process).

Targets (issue #20): p95 of a filtered page < 300 ms at 10,000 models; memory < 2 GB.
Run: `.venv/bin/python -m bench.inventory [--models 10000] [--requests 40]`.
Last line: ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steward import wiring
from steward.client import Client
from steward.domain.identity import Identity, Role
from steward.domain.models import (
    Artifact,
    Flavor,
    ModelSpec,
    ModelVersion,
    RiskTier,
    Signature,
    Status,
    Task,
)
from steward.local.platform import LocalPlatform

OWNERS = [f"owner{i:02d}" for i in range(40)]
TEAMS = ["credit", "fraud", "crm", "pricing", "ops", "risk", "hr", "supply"]
TIERS = [RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH]
TASKS = [Task.CLASSIFICATION, Task.REGRESSION, Task.DECISION]
WORDS = ["churn", "default", "fraud", "uplift", "demand", "attrition", "credit", "price"]
ADMIN = Identity(user="admin", roles=frozenset(Role))
NOW = datetime(2026, 12, 1, tzinfo=UTC)

QUERIES: dict[str, str] = {
    "none": "",
    "owner": "owner=owner07",
    "risk_tier": "risk_tier=high",
    "task": "task=regression",
    "status": "status=APPROVED",
    "drift": "drift=detected",
    "tag": "tag=team:fraud",
    "tag+tag": "tag=team:fraud&tag=region:eu",
    "owner+risk": "owner=owner07&risk_tier=high",
    "q": "q=attrition",
    "q+tag": "q=attrition&tag=team:crm",
}


def _create(i: int) -> None:
    registry = wiring.registry()
    name = f"m{i:05d}-{WORDS[i % len(WORDS)]}"
    spec = ModelSpec(
        name=name,
        description=f"{WORDS[(i * 3) % len(WORDS)]} model for line {i % 97}",
        owner=OWNERS[i % len(OWNERS)],
        task=TASKS[i % 3],
        risk_tier=TIERS[(i // 3) % 3],
        tags={"team": TEAMS[i % len(TEAMS)], "region": ["eu", "us", "apac"][i % 3], "n": str(i)},
    )
    registry.create_model(spec, ADMIN)
    store = registry.store
    changes: dict[str, Any] = {}
    if i % 10 == 0:
        store.add_version(
            ModelVersion(
                name=name,
                version=1,
                status=Status.APPROVED,
                flavor=Flavor.LOGISTIC,
                task=spec.task,
                sha256="a" * 64,
                artifact=Artifact(uri=f"s3://b/models/{name}/1/m.json", sha256="a" * 64, size=1),
                signature=Signature.model_validate({"inputs": [{"name": "x"}]}),
                created_by="admin",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    if i % 5 == 0:
        changes["aliases"] = {"production": 1}
    if i % 3 == 0:
        changes["latest_drift"] = {"report_id": f"r{i}", "drift_detected": i % 2 == 0}
    if changes:
        model = store.get_model(name)
        store.save_model(model.model_copy(update=changes), model.rev)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="steward-inventory-"))
    with LocalPlatform(port=0, data_dir=data) as platform:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(_create, range(args.models)))
        created_s = time.perf_counter() - t0
        print(f"created {args.models} models in {created_s:.1f} s", flush=True)
        api = Client(url=platform.url).as_user("viewer")
        rows: dict[str, dict[str, float]] = {}
        for label, query in QUERIES.items():
            path = "/models?limit=50" + (f"&{query}" if query else "")
            times, sizes = [], []
            for _ in range(args.requests):
                start = time.perf_counter()
                page = api.get(path)
                times.append((time.perf_counter() - start) * 1000)
                sizes.append(len(page["items"]))
            rows[label] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(_percentile(times, 0.95), 1),
                "items": sizes[0],
            }
            print(
                f"{label:>11}: p50 {rows[label]['p50_ms']:7.1f} ms  "
                f"p95 {rows[label]['p95_ms']:7.1f} ms  ({sizes[0]} items)",
                flush=True,
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    filtered = [r["p95_ms"] for k, r in rows.items() if k != "none"]
    result = {
        "models": args.models,
        "create_s": round(created_s, 1),
        "queries": rows,
        "worst_filtered_p95_ms": max(filtered),
        "peak_rss_mb": round(peak_mb),
    }
    print(f"peak RSS {peak_mb:.0f} MB; worst filtered p95 {max(filtered):.1f} ms")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
