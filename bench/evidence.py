"""Evidence pack export time for a model with 50 versions and 1,000 drift reports.

On the in-memory fakes (the ports the API function reads through, without the network):
a model registered 50 times (each version validated and approved, so each carries its
profile, gates and approvals) and 1,000 stored reports, each a copy of a
real report of the churn model (JSON and its HTML). Each repeat builds the pack at the same
instant in this process; the bytes are compared across repeats (they must be identical) and
the pack is verified offline. With ``--http``, the same on the local platform: versions
registered over HTTP (validated by the approval workflow), the reports saved through the
S3/DynamoDB report store on the emulator, each pack fetched with ``GET
/models/churn/evidence?at=`` (the client's time, request to last byte). Target (issue #19):
under 10 s. Each export's process CPU time is reported too (the wall time of a
shared machine says more about its load). Last line: ``RESULT {json}``. Run:
`.venv/bin/python -m bench.evidence [--versions 50] [--reports 1000] [--repeats 5] [--http]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from steward.adapters.memory import MemoryLogFiles, MemoryReportStore
from steward.domain.identity import UserDirectory
from steward.evidence.pack import EvidenceBuilder
from steward.packs import verify
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from tests.factories import model_spec, parquet_log, reference_rows, register_body
from tests.unit.conftest import drift_service, plain_registry

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
CPU: list[float] = []  # process CPU seconds of each export
NOW = datetime(2026, 12, 31, tzinfo=UTC)


def world(versions: int, reports: int) -> tuple[Registry, MemoryReportStore]:
    registry = plain_registry()
    service = drift_service(registry, model_spec(), register_body(), T0)
    users = UserDirectory()
    alice, bob = users.identify("alice"), users.identify("bob")
    for number in range(2, versions + 1):
        registry.register_version("churn", RegisterVersion.model_validate(register_body()), alice)
        registry.validate("churn", number)
        registry.decide("churn", number, Decision(decision="approve", comment=f"v{number}"), bob)
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    logs.files["predictions/model=churn/date=2026-11-02/hour=10/a.parquet"] = parquet_log(
        reference_rows(500, seed=3), T0
    )
    service.evaluate("churn", T0, T0 + timedelta(hours=1))
    store = service.reports
    assert isinstance(store, MemoryReportStore)
    (report, page), *_ = store.reports.values()
    for i in range(1, reports):
        at = (T0 + timedelta(hours=i)).isoformat()
        store.save("churn", {**report, "report_id": f"r{i:05d}", "created_at": at}, page)
    return registry, store


def over_http(versions: int, count: int, repeats: int) -> tuple[list[float], list[bytes]]:
    """Export times and packs from the local platform (see the module's docstring)."""
    from pathlib import Path

    from steward import wiring
    from steward.client import Client
    from steward.local.platform import LocalPlatform
    from steward.polling import until

    _, fakes = world(1, 1)
    (report, page), *_ = fakes.reports.values()
    data = Path(".cache") / "bench-evidence"
    with LocalPlatform(port=0, data_dir=data) as platform:
        alice = Client(url=platform.url, user="alice", timeout_s=120)
        alice.post("/models", model_spec())
        for _ in range(versions):
            alice.post("/models/churn/versions", register_body())

        def settled() -> bool:
            items = alice.get("/models/churn/versions?limit=200")["items"]
            pending = [v for v in items if v["status"] == "PENDING_APPROVAL"]
            return len(pending) == versions

        until(settled, 600, step_s=0.5, what="every version validated")
        store = wiring.drift().reports
        start = datetime.now(UTC) - timedelta(hours=count + 1)
        for i in range(count):
            at = (start + timedelta(hours=i)).isoformat()
            store.save("churn", {**report, "report_id": f"r{i:05d}", "created_at": at}, page)
        cut = datetime.now(UTC).replace(microsecond=0)
        until(lambda: datetime.now(UTC) > cut, 5, step_s=0.1, what="the instant to pass")
        seconds, packs = [], []
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            packs.append(alice.evidence("churn", cut))
            seconds.append(time.perf_counter() - started)
            CPU.append(time.process_time() - cpu)
    return seconds, packs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="on the local platform")
    args = parser.parse_args()
    seconds: list[float] = []
    packs: list[bytes] = []
    if args.http:
        seconds, packs = over_http(args.versions, args.reports, args.repeats)
    else:
        registry, reports = world(args.versions, args.reports)
        builder = EvidenceBuilder(registry, reports, clock=lambda: NOW)
        for _ in range(args.repeats):
            started, cpu = time.perf_counter(), time.process_time()
            data = builder.build("churn", NOW).file.read()
            seconds.append(time.perf_counter() - started)
            CPU.append(time.process_time() - cpu)
            packs.append(data)
    started = time.perf_counter()
    verdict = verify(packs[0])
    verify_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "mode": "http" if args.http else "in-process",
        "versions": args.versions,
        "reports": args.reports,
        "audit_events": verdict.events,
        "files": verdict.files,
        "pack_bytes": len(packs[0]),
        "export_s_median": round(statistics.median(seconds), 3),
        "export_s_max": round(max(seconds), 3),
        # this process's CPU (client, API and emulator alike with --http): what the wall
        # time costs on a machine that other work does not share
        "export_cpu_s_median": round(statistics.median(CPU), 3),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "verify_s": round(verify_s, 3),
        "identical": all(p == packs[0] for p in packs),
        "verified": verdict.ok,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
