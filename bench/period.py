"""One period of scheduled drift for many models on the local platform (issue 20).

``python -m bench.period --models 1000`` creates the models through the API (so each gets
its EventBridge Scheduler schedule on its own phase, as users' models do), registers and
approves one version through the approval workflow, gives every model that version in
production and one prediction log file inside the window, then fires one period of their
schedules with :meth:`LocalPlatform.fire_period`: every firing goes through the start
queue and the starter to the drift state machine, as in AWS. It prints how long the period
took (against the schedules' period, an hour), the most runs seen running at once, how the
runs ended, and the platform's peak RSS; the last line is ``RESULT <json>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from steward import wiring
from steward.client import Client
from steward.polling import until
from tests.factories import model_spec, parquet_log, reference_rows, register_body

PERIOD_S = 3600.0  # the models' schedule: rate(1 hour)


def _create(api: Client, names: list[str], threads: int) -> float:
    """Create the models over HTTP (each gets its schedule); returns seconds."""
    began = time.perf_counter()
    spec = {"retrain": {"on_drift": False}}
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda n: api.post("/models", model_spec(n, **spec)), names))
    return time.perf_counter() - began


def _serve(alice: Client, bob: Client, names: list[str]) -> None:
    """One version registered and approved through the workflow, copied to every model and
    put in production (the copies are what registering the same artifact would store)."""
    first = names[0]
    alice.post(
        f"/models/{first}/versions",
        register_body(reference_data={"instances": reference_rows(500, seed=1)}),
    )
    path = f"/models/{first}/versions/1"
    until(lambda: alice.get(path)["status"] == "PENDING_APPROVAL", 120, what="pending")
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "bench"})
    until(lambda: alice.get(path)["status"] == "APPROVED", 120, what="approved")
    store = wiring.registry().store
    approved = store.get_version(first, 1)
    for name in names:
        if name != first:
            store.add_version(approved.model_copy(update={"name": name}))
        model = store.get_model(name)
        store.save_model(model.model_copy(update={"aliases": {"production": 1}}), model.rev)


def _log(bucket: str, names: list[str], rows: int) -> None:
    """One prediction log file a model, two hours old (inside every firing's window)."""
    s3 = boto3.client("s3")
    at = datetime.now(UTC) - timedelta(hours=2)
    for i, name in enumerate(names):
        body = parquet_log(reference_rows(rows, seed=i), at)
        key = f"predictions/model={name}/date={at:%Y-%m-%d}/hour={at:%H}/part-0.parquet"
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def _portfolio(viewer: Client) -> dict[str, Any]:
    """``GET /drift/runs`` read to the end: the outcomes' counts and the failures' reasons."""
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    token = ""
    while True:
        page = viewer.get("/drift/runs?limit=1000" + (f"&next_token={token}" if token else ""))
        for item in page["items"]:
            outcomes[item["outcome"]] += 1
            if item["outcome"] != "evaluated":
                reasons[f"{item['outcome']}: {item.get('reason')}"] += 1
        if not (token := page.get("next_token") or ""):
            return {"outcomes": dict(outcomes), "reasons": dict(reasons.most_common(10))}


def main(argv: list[str] | None = None) -> None:
    from steward.local.emulator import scale_patches
    from steward.local.platform import LocalPlatform

    scale_patches()  # partition-only moto queries: every query otherwise reads every item
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # a line per task otherwise
    # moto's state machine interpreter logs every caught error (a Choice's absent path too)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=150, help="logged rows a model")
    parser.add_argument("--threads", type=int, default=8, help="concurrent creates")
    parser.add_argument("--timeout", type=float, default=PERIOD_S, help="seconds to wait")
    args = parser.parse_args(argv)
    names = [f"period-{i:05d}" for i in range(args.models)]
    data = Path(tempfile.mkdtemp(prefix="steward-period-"))
    with LocalPlatform(port=0, data_dir=data) as platform:
        alice = Client(url=platform.url).as_user("alice")
        created_s = _create(alice, names, args.threads)
        print(f"created {len(names)} models in {created_s:.1f} s", flush=True)
        _serve(alice, Client(url=platform.url).as_user("bob"), names)
        _log(platform.deployment.outputs["LogsBucket"], names, args.rows)
        print("served and logged; firing one period", flush=True)
        period = platform.fire_period(models=names, timeout_s=args.timeout)
        runs = _portfolio(Client(url=platform.url).as_user("viewer"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result: dict[str, Any] = {
        "models": args.models,
        "fired": period.fired,
        "delivered": period.delivered,
        "started": period.started,
        "succeeded": period.succeeded,
        "failed": period.failed,
        "period_s": round(period.seconds, 1),
        "within_period": period.seconds < PERIOD_S,
        "most_running": period.most_running,
        "runs_view": runs,
        "create_s": round(created_s, 1),
        "peak_rss_mb": round(peak_mb),
    }
    print(
        f"period: {period.started} runs started of {period.fired} firings, "
        f"{period.succeeded} succeeded, {period.failed} failed, in {period.seconds:.0f} s "
        f"(the period is {PERIOD_S:.0f} s); at most {period.most_running} running at once; "
        f"peak RSS {peak_mb:.0f} MB"
    )
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
