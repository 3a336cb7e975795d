"""Inventory at scale on the local platform: list and filter latencies at N models.

Starts the local platform (moto DynamoDB behind the same handlers) and seeds ``--models``
models through :meth:`DynamoModelStore.bulk_load`: the same items that creating each model,
registering its versions and saving its production alias and latest drift verdict leave in
the registry table (``tests/integration/test_bulk_inventory.py`` checks that item by item),
written with ``BatchWriteItem``. The models vary as an inventory does (:func:`synthetic`):
~150 owners of uneven size, risk tiers, tasks, 1-6 versions, production for about half,
drift verdicts for most of those, 0-5 tags from a vocabulary, names and descriptions from a
few dozen words. Seeding writes no audit event and no drift schedule (listing reads neither).

Then, over HTTP (``--requests`` calls each, pages of ``--limit``): ``GET /models``
unfiltered and with each filter, the pages of a filtered listing read to the end with
``next_token``, and the same listings in-process with the time spent in DynamoDB (the
emulator) apart from Steward's own. Peak RSS is the process's (the platform included: one
process).

Targets (issue #20): p95 of a filtered page < 300 ms at 10,000 models; memory < 2 GB.
Run: `.venv/bin/python -m bench.inventory [--models 10000] [--requests 30]`.
Last line: ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import boto3

from steward.adapters.aws.dynamodb import DynamoModelStore
from steward.client import Client
from steward.domain.inventory import ModelFilter
from steward.domain.models import (
    PRODUCTION,
    Artifact,
    Flavor,
    Lineage,
    Model,
    ModelVersion,
    RiskTier,
    Signature,
    Status,
    Task,
)

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
OWNERS = [f"owner{i:03d}" for i in range(150)]
OWNER_WEIGHTS = [1 / (k + 1) for k in range(len(OWNERS))]  # a few teams own most models
TIERS = ([RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH], [50, 35, 15])
TASKS = ([Task.CLASSIFICATION, Task.REGRESSION, Task.DECISION], [60, 30, 10])
FLAVORS = {
    Task.CLASSIFICATION: [Flavor.ONNX, Flavor.SKLEARN, Flavor.LOGISTIC, Flavor.SCORECARD],
    Task.REGRESSION: [Flavor.ONNX, Flavor.SKLEARN, Flavor.LINEAR],
    Task.DECISION: [Flavor.RULES],
}
SUBJECTS = [
    "churn", "default", "fraud", "uplift", "demand", "attrition", "credit", "price",
    "claims", "arrears", "propensity", "lifetime", "returns", "stockout", "delay", "spam",
]  # fmt: skip
QUALIFIERS = ["retail", "sme", "card", "mortgage", "online", "branch", "weekly", "daily"]
TAG_VALUES: dict[str, list[str]] = {
    "team": ["credit", "fraud", "crm", "pricing", "ops", "risk", "hr", "supply", "ml", "data"],
    "region": ["eu", "us", "apac", "latam"],
    "domain": ["lending", "payments", "marketing", "insurance", "logistics", "people"],
    "pii": ["yes", "no"],
    "framework": ["sklearn", "xgboost", "lightgbm", "onnx", "rules"],
    "tier": ["gold", "silver", "bronze"],
    "cost-center": [f"cc-{n}" for n in range(100, 140)],
    "regulation": ["sr11-7", "eu-ai-act", "gdpr", "none"],
}
TAG_COUNTS = ([0, 1, 2, 3, 4, 5], [10, 20, 25, 20, 15, 10])
VERSION_COUNTS = ([1, 2, 3, 4, 5, 6], [30, 25, 20, 12, 8, 5])


def synthetic(i: int) -> tuple[Model, list[ModelVersion]]:
    """Model ``i`` of a synthetic inventory and its versions, as the registry would hold
    them after creating it, registering the versions, and (for about half) releasing the
    newest approved version to production and saving its latest drift verdict once: then
    ``rev`` is 1. Deterministic in ``i``."""
    rng = random.Random(i)
    subject, qualifier = rng.choice(SUBJECTS), rng.choice(QUALIFIERS)
    name = f"{subject}-{qualifier}-{i:05d}"
    task = rng.choices(*TASKS)[0]
    created = EPOCH + timedelta(minutes=37 * i)
    keys = rng.sample(sorted(TAG_VALUES), rng.choices(*TAG_COUNTS)[0])
    model = Model(
        name=name,
        description=f"{subject} {rng.choice(['score', 'forecast', 'rules', 'classifier'])} "
        f"for {qualifier} {rng.choice(SUBJECTS)} cases",
        owner=rng.choices(OWNERS, OWNER_WEIGHTS)[0],
        use_case=f"{qualifier} {subject}",
        task=task,
        risk_tier=rng.choices(*TIERS)[0],
        tags={k: rng.choice(TAG_VALUES[k]) for k in sorted(keys)},
        created_by=f"ds{rng.randrange(40):02d}",
        created_at=created,
        updated_at=created,
    )
    count = rng.choices(*VERSION_COUNTS)[0]
    statuses = _version_statuses(rng, count)
    flavor = rng.choice(FLAVORS[task])
    versions = [
        ModelVersion(
            name=name,
            version=n,
            status=status,
            flavor=flavor,
            task=task,
            sha256=f"{i:032x}{n:032x}",
            artifact=Artifact(
                uri=f"s3://steward-artifacts/models/{name}/{n}/model.onnx",
                sha256=f"{i:032x}{n:032x}",
                size=rng.randrange(10_000, 5_000_000),
            ),
            signature=Signature.model_validate(
                {"inputs": [{"name": f"f{k}"} for k in range(rng.randrange(3, 30))]}
            ),
            metrics={"roc_auc": round(rng.uniform(0.6, 0.95), 4)}
            if task is Task.CLASSIFICATION
            else {},
            lineage=Lineage(parent_version=n - 1 if n > 1 else None),
            created_by=model.created_by,
            created_at=created + timedelta(days=7 * n),
            updated_at=created + timedelta(days=7 * n + 1),
        )
        for n, status in enumerate(statuses, start=1)
    ]
    model.latest_version = count
    approved = [v.version for v in versions if v.status is Status.APPROVED]
    if approved and rng.random() < 0.7:
        production = approved[-1]
        latest_drift = None
        if rng.random() < 0.8:
            latest_drift = {
                "report_id": f"r{i:05d}",
                "model": name,
                "version": production,
                "window": {"start": "2026-11-30T00:00:00+00:00", "hours": 24},
                "rows": rng.randrange(0, 200_000),
                "drift_detected": rng.random() < 0.2,
                "drift_share": round(rng.random() * 0.6, 3),
                "drifted_features": [],
                "created_at": "2026-12-01T00:05:00+00:00",
            }
        model = model.model_copy(
            update={
                "aliases": {PRODUCTION: production},
                "production_history": approved,
                "latest_drift": latest_drift,
                "updated_at": created + timedelta(days=7 * count + 2),
                "rev": 1,
            }
        )
    return model, versions


def _version_statuses(rng: random.Random, count: int) -> list[Status]:
    """Older versions archived or approved, the newest anywhere in its life."""
    older = [
        rng.choice([Status.ARCHIVED, Status.ARCHIVED, Status.APPROVED]) for _ in range(1, count)
    ]
    newest = rng.choices(
        [Status.APPROVED, Status.PENDING_APPROVAL, Status.REJECTED, Status.REGISTERED],
        [60, 20, 10, 10],
    )[0]
    return [*older, newest]


def seed(count: int, processes: int = 2, first: int = 0) -> int:
    """Models ``first`` .. ``first + count - 1`` of :func:`synthetic`, bulk-loaded into the
    registry table named by ``STEWARD_REGISTRY_TABLE`` from ``processes`` processes, each
    reaching the emulator at ``STEWARD_EMULATOR_URL`` (building and sending items is the
    client's CPU; the emulator's is the platform's); returns the items written."""
    bounds = [(s, min(s + 500, first + count)) for s in range(first, first + count, 500)]
    if processes <= 1:
        return sum(_seed_range(a, b) for a, b in bounds)
    with ProcessPoolExecutor(
        processes, mp_context=get_context("spawn"), initializer=_reach_the_emulator
    ) as pool:
        return sum(pool.map(_seed_range, *zip(*bounds, strict=True)))


def _reach_the_emulator() -> None:
    """In a seeding process: the platform's emulator is another process's, over its port."""
    os.environ["AWS_ENDPOINT_URL"] = os.environ["STEWARD_EMULATOR_URL"]


def _seed_range(start: int, stop: int) -> int:
    return registry_store().bulk_load(synthetic(i) for i in range(start, stop))


def registry_store() -> DynamoModelStore:
    """The registry table's store, as the platform's functions build it (from the
    environment the local platform exported)."""
    return DynamoModelStore(boto3.client("dynamodb"), os.environ["STEWARD_REGISTRY_TABLE"])


def _filters(models: int) -> dict[str, str]:
    """The listings measured: each filter alone, then combinations; values chosen to be
    neither the largest nor an empty partition."""
    del models
    return {
        "none": "",
        "owner": "owner=owner007",
        "risk_tier": "risk_tier=high",
        "task": "task=regression",
        "status": "status=APPROVED",
        "drift": "drift=detected",
        "tag": "tag=team:fraud",
        "q": "q=attrition",
        "owner+risk": "owner=owner003&risk_tier=high",
        "tag+tag": "tag=team:fraud&tag=region:eu",
        "combined": "tag=region:eu&risk_tier=high&status=APPROVED&q=churn",
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stats(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 0.95), 1),
    }


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


class DbTimer:
    """A DynamoDB client whose calls add their wall time to ``spent_ms`` (the emulator's
    share of a listing done in-process)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.spent_ms = 0.0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def timed(**kwargs: Any) -> Any:
            took, result = _timed(lambda: method(**kwargs))
            self.spent_ms += took
            self.calls += 1
            return result

        return timed


def _query(text: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for part in filter(None, text.split("&")):
        key, value = part.split("=", 1)
        if key == "tag":
            fields["tag"] = (*fields.get("tag", ()), value)
        else:
            fields[key] = value
    return fields


def measure(url: str, requests: int, limit: int) -> dict[str, Any]:
    api = Client(url=url).as_user("viewer")
    store = registry_store()
    timer = DbTimer(store._db)
    timed_store = DynamoModelStore(timer, store._table)
    rows: dict[str, dict[str, Any]] = {}
    for label, query in _filters(0).items():
        path = f"/models?limit={limit}" + (f"&{query}" if query else "")
        api.get(path)  # warm-up, not timed
        http = [_timed(lambda p=path: api.get(p)) for _ in range(requests)]
        where = ModelFilter.model_validate(_query(query))
        local, db = [], []
        for _ in range(max(5, requests // 3)):
            timer.spent_ms = 0.0
            took, _page = _timed(lambda w=where: timed_store.list_models(limit, None, w))
            local.append(took)
            db.append(timer.spent_ms)
        # every page of this listing, to the end
        pages, token, total, items = 0, None, 0.0, 0
        timer.calls = 0
        while True:
            took, page = _timed(
                lambda t=token, p=path: api.get(p + (f"&next_token={t}" if t else ""))
            )
            pages, total, items = pages + 1, total + took, items + len(page["items"])
            token = page.get("next_token")
            if not token or (query == "" and pages >= 20):  # unfiltered: 20 pages
                break
        rows[label] = {
            **_stats([t for t, _ in http]),
            "items": len(http[0][1]["items"]),
            "in_process_p50_ms": round(statistics.median(local), 1),
            "dynamodb_p50_ms": round(statistics.median(db), 1),
            "steward_p50_ms": round(
                statistics.median(a - b for a, b in zip(local, db, strict=True)), 1
            ),
            "all_pages": pages,
            "all_items": items,
            "all_pages_ms": round(total),
        }
        r = rows[label]
        print(
            f"{label:>11}: p50 {r['p50_ms']:7.1f}  p95 {r['p95_ms']:7.1f} ms  "
            f"({r['items']} items; in-process {r['in_process_p50_ms']:.1f} ms of which "
            f"DynamoDB {r['dynamodb_p50_ms']:.1f}); all {items} in {pages} pages, {total:.0f} ms",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    from steward.local.emulator import scale_patches
    from steward.local.platform import LocalPlatform

    scale_patches()  # partition-only moto queries: the emulator at 10,000 models

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--limit", type=int, default=50, help="models a page")
    parser.add_argument("--processes", type=int, default=2, help="seeding processes")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="seed, print 'SERVING <url>', and serve until standard input closes (no bench)",
    )
    args = parser.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="steward-inventory-"))
    with LocalPlatform(port=0, data_dir=data) as platform:
        Client(url=platform.url).as_user("viewer").get("/models?limit=1")  # the API loaded
        took, written = _timed(lambda: seed(args.models, args.processes))
        print(
            f"seeded {args.models} models ({written} items) in {took / 1000:.1f} s",
            flush=True,
        )
        if args.serve:  # tests/e2e/test_console_inventory_bulk.py drives the console
            print(f"SERVING {platform.url}", flush=True)
            sys.stdin.read()
            return
        rows = measure(platform.url, args.requests, args.limit)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    filtered = [r["p95_ms"] for k, r in rows.items() if k != "none"]
    result = {
        "models": args.models,
        "items": written,
        "seed_s": round(took / 1000, 1),
        "limit": args.limit,
        "queries": rows,
        "worst_filtered_p95_ms": max(filtered),
        "peak_rss_mb": round(peak_mb),
    }
    print(f"peak RSS {peak_mb:.0f} MB; worst filtered p95 {max(filtered):.1f} ms")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
