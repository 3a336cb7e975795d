"""The local platform over HTTP: gateway -> handler, CDK state machine -> real Lambda code,
schedules fired locally, clean shutdown on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from steward.client import ApiError, Client
from steward.local.platform import LocalPlatform
from steward.local.scheduler import Scheduler
from steward.polling import until
from tests.e2e.support import free_port
from tests.factories import model_spec, register_body

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def test_health_over_http(platform: LocalPlatform) -> None:
    health = Client(url=platform.url).get("/health")
    assert health["status"] == "ok" and health["version"]


def test_lifecycle_runs_the_cdk_state_machine_with_real_handlers(platform: LocalPlatform) -> None:
    alice = Client(url=platform.url, user="alice")
    bob = alice.as_user("bob")
    alice.post("/models", model_spec("e2e-churn"))
    version = alice.post("/models/e2e-churn/versions", register_body())
    assert version["execution_arn"].startswith("arn:aws:states:")
    until(
        lambda: alice.get("/models/e2e-churn/versions/1")["status"] == "PENDING_APPROVAL",
        WAIT_S,
        step_s=0.1,
        what="validation",
    )
    assert platform.runtime is not None and platform.runtime.invocations["workflow"] >= 1
    with pytest.raises(ApiError) as denied:
        alice.post("/models/e2e-churn/versions/1/decision", {"decision": "approve", "comment": "x"})
    assert denied.value.status == 403
    bob.post("/models/e2e-churn/versions/1/decision", {"decision": "approve", "comment": "ok"})
    sfn = boto3.client("stepfunctions")  # the emulator, in-process
    execution = until(
        lambda: (
            (e := sfn.describe_execution(executionArn=version["execution_arn"]))["status"]
            != "RUNNING"
            and e
        ),
        WAIT_S,
        step_s=0.1,
        what="the approval workflow",
    )
    assert execution["status"] == "SUCCEEDED"
    model = alice.put("/models/e2e-churn/aliases/production", {"version": 1})
    assert model["aliases"] == {"production": 1}


def test_other_processes_reach_the_platforms_backends_through_the_port(
    platform: LocalPlatform,
) -> None:
    """The platform's own clients reach moto in-process (README, "The local platform");
    another process reaches the same backends through ``STEWARD_EMULATOR_URL``."""
    assert "AWS_ENDPOINT_URL" not in os.environ
    table = os.environ["STEWARD_REGISTRY_TABLE"]
    boto3.client("dynamodb").put_item(
        TableName=table, Item={"pk": {"S": "PORT#probe"}, "sk": {"S": "META"}}
    )
    script = (
        "import boto3, sys; print(boto3.client('dynamodb').get_item(TableName=sys.argv[1], "
        "Key={'pk': {'S': 'PORT#probe'}, 'sk': {'S': 'META'}})['Item']['pk']['S'])"
    )
    env = {**os.environ, "AWS_ENDPOINT_URL": os.environ["STEWARD_EMULATOR_URL"]}
    out = subprocess.run(
        [sys.executable, "-c", script, table],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "PORT#probe"
    boto3.client("dynamodb").delete_item(
        TableName=table, Key={"pk": {"S": "PORT#probe"}, "sk": {"S": "META"}}
    )


def test_schedules_fire_locally(platform: LocalPlatform) -> None:
    assert platform.runtime is not None
    now = [datetime(2026, 11, 27, 12, 0, tzinfo=UTC)]
    scheduler = Scheduler(platform.runtime, clock=lambda: now[0])
    rules = scheduler.rules()
    assert any(r["ScheduleExpression"] == "rate(1 hour)" for r in rules)
    before = platform.runtime.invocations["workflow"]
    scheduler.tick()  # anchors the schedule
    assert scheduler.fired == []
    now[0] += timedelta(hours=1, seconds=1)
    scheduler.tick()
    assert rules[0]["Name"] in [name for name, _ in scheduler.fired]  # and models' schedules
    until(
        lambda: platform.runtime.invocations["workflow"] > before,  # type: ignore[union-attr]
        WAIT_S,
        step_s=0.1,
        what="the scheduled workflow",
    )
    info = Client(url=platform.url).get("/_local/info")
    assert "in memory" in info["state"] and info["schedules"]
    fired = Client(url=platform.url).post(f"/_local/schedules/{rules[0]['Name']}/fire", {})
    assert fired["targets"] == 3  # audit verification, approval heartbeats, due retrains


def test_steward_local_up_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "steward.cli.main",
            "local",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(ROOT / ".cache" / "local-e2e"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        until(lambda: _health(port), 120, step_s=0.1, what="steward local up")
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "in memory" in output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def _health(port: int) -> bool:
    try:
        return bool(Client(url=f"http://127.0.0.1:{port}", timeout_s=2).get("/health"))
    except (OSError, ApiError):
        return False
