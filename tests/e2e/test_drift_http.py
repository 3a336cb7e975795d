"""Drift over HTTP on the local platform: scored traffic, on-demand evaluation, the report
in JSON and HTML, and the verdict flipping when drift is injected."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from steward import wiring
from steward.client import Client
from steward.local.platform import LocalPlatform
from steward.local.scheduler import Scheduler
from steward.polling import until
from tests.factories import model_spec, parquet_log, reference_rows, register_body

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def _serve(client: Client) -> None:
    alice, bob = client.as_user("alice"), client.as_user("bob")
    alice.post("/models", model_spec("drift-churn"))
    alice.post(
        "/models/drift-churn/versions",
        register_body(reference_data={"instances": reference_rows(3000, seed=1)}),
    )
    until(
        lambda: alice.get("/models/drift-churn/versions/1")["status"] == "PENDING_APPROVAL",
        10,
        step_s=0.05,
        what="validation",
    )
    bob.post("/models/drift-churn/versions/1/decision", {"decision": "approve", "comment": "ok"})
    alice.put("/models/drift-churn/aliases/production", {"version": 1})


def _score(client: Client, rows: list[dict]) -> None:  # type: ignore[type-arg]
    for start in range(0, len(rows), 500):
        client.post("/models/drift-churn/predict", {"instances": rows[start : start + 500]})


def test_evaluation_over_http_flags_injected_drift(platform: LocalPlatform) -> None:
    client = Client(url=platform.url, user="alice")
    _serve(client)
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    _score(client, reference_rows(3000, seed=2))
    platform.flush()
    t1 = datetime.now(UTC)
    time.sleep(0.01)
    shifted = [
        {**r, "tenure": r["tenure"] + 30.0, "plan": "enterprise"}
        for r in reference_rows(3000, seed=3)
    ]
    _score(client, shifted)
    platform.flush()
    t2 = datetime.now(UTC) + timedelta(seconds=1)

    calm = client.post(
        "/models/drift-churn/drift/evaluate", {"start": t0.isoformat(), "end": t1.isoformat()}
    )
    assert calm["rows"] == 3000 and not calm["drift_detected"], calm["drifted_features"]
    drifted = client.post(
        "/models/drift-churn/drift/evaluate", {"start": t1.isoformat(), "end": t2.isoformat()}
    )
    assert drifted["rows"] == 3000 and drifted["drift_detected"]
    assert {"tenure", "plan"} <= set(drifted["drifted_features"])
    assert drifted["data_quality"]["unseen_categories"] == {"plan": ["enterprise"]}

    listed = client.get("/models/drift-churn/drift")["items"]
    assert {r["report_id"] for r in listed} == {calm["report_id"], drifted["report_id"]}
    assert client.get("/models/drift-churn")["latest_drift"]["report_id"] == drifted["report_id"]
    request = urllib.request.Request(
        f"{platform.url}/models/drift-churn/drift/{drifted['report_id']}",
        headers={"Accept": "text/html"},
    )
    with urllib.request.urlopen(request) as response:
        page = response.read().decode()
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<svg" in page and "Drift detected" in page
    again = client.post(
        "/models/drift-churn/drift/evaluate", {"start": t1.isoformat(), "end": t2.isoformat()}
    )
    assert again["report_id"] == drifted["report_id"] and again["features"] == drifted["features"]


def test_the_models_schedule_fires_locally_and_raises_drift_detected(
    platform: LocalPlatform,
) -> None:
    """Runs after the test above: drift-churn is served and its logs hold drifted traffic."""
    assert platform.runtime is not None
    client = Client(url=platform.url, user="alice")
    sqs, events = boto3.client("sqs"), boto3.client("events")  # the emulator
    queue = sqs.create_queue(QueueName="e2e-drift-detected")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(Name="e2e-drift", EventPattern=json.dumps({"detail-type": ["DriftDetected"]}))
    events.put_targets(
        Rule="e2e-drift", Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
    )
    schedule = "Steward-drift/drift-churn"
    listed = {s["name"]: s["expression"] for s in client.get("/_local/info")["schedules"]}
    assert listed[schedule] == "rate(1 hour)"
    client.patch("/models/drift-churn", {"monitoring": {"schedule": "rate(2 hours)"}})
    listed = {s["name"]: s["expression"] for s in client.get("/_local/info")["schedules"]}
    assert listed[schedule] == "rate(2 hours)"

    now = [datetime.now(UTC)]
    scheduler = Scheduler(platform.runtime, clock=lambda: now[0])
    scheduler.tick()  # anchors every schedule
    before = client.get("/models/drift-churn")["latest_drift"]["report_id"]
    now[0] += timedelta(hours=2, seconds=1)
    scheduler.tick()
    assert schedule in [name for name, _ in scheduler.fired]
    detected = until(
        lambda: sqs.receive_message(QueueUrl=queue).get("Messages"),
        30,
        step_s=0.1,
        what="DriftDetected",
    )
    detail = json.loads(detected[0]["Body"])["detail"]
    assert detail["model"] == "drift-churn" and "tenure" in detail["drifted_features"]
    latest = client.get("/models/drift-churn")["latest_drift"]
    assert latest["report_id"] == detail["report_id"] != before and latest["drift_detected"]

    fired = client.post(f"/_local/schedules/{schedule}/fire", {})
    assert fired == {"schedule": schedule, "targets": 1}


def test_a_window_too_large_for_one_function_answers_202_and_reports(
    platform: LocalPlatform,
) -> None:
    """Runs after the tests above (drift-churn is served): small batches make three files
    three batches, run by the drift state machine on the emulator; the client polls."""
    client = Client(url=platform.url, user="alice")
    hour = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    for i in range(3):
        at = hour + timedelta(minutes=10 + i)
        key = f"predictions/model=drift-churn/date={at:%Y-%m-%d}/hour={at:%H}/old-{i}.parquet"
        body = parquet_log(reference_rows(400, seed=30 + i), at)
        boto3.client("s3").put_object(Bucket=os.environ["STEWARD_LOGS_BUCKET"], Key=key, Body=body)
    window = {"start": hour.isoformat(), "end": (hour + timedelta(hours=1)).isoformat()}
    inline = client.evaluate_drift("drift-churn", window)
    os.environ["STEWARD_DRIFT_BATCH_ROWS"] = "400"
    wiring.reset()
    try:
        started = client.exchange("POST", "/models/drift-churn/drift/evaluate", window)
        assert started.status == 202 and started.body["batches"] == 3
        assert started.header("Location") == f"/models/drift-churn/drift/{inline['report_id']}"
        report = client.evaluate_drift("drift-churn", window, timeout_s=60, poll_s=0.1)
    finally:
        del os.environ["STEWARD_DRIFT_BATCH_ROWS"]
        wiring.reset()
    assert report["report_id"] == inline["report_id"] and report["rows"] == 1200
    assert report["created_at"] > inline["created_at"]
    assert {f: d["drift"] for f, d in report["features"].items()} == {
        f: d["drift"] for f, d in inline["features"].items()
    }
