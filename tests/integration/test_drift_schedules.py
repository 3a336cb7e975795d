"""Per-model drift schedules and the distributed run on moto, with the CDK stack: a model
gets its EventBridge Scheduler schedule (on its own phase, to the start queue), a policy
change updates it, firing it starts the drift run through the queue, which evaluates and
raises DriftDetected; a window of many batches runs through the Step Functions
Distributed Map and gives the same verdict."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from steward import wiring
from steward.domain.schedule import EPOCH, offset_of
from steward.local.periods import fire_period
from steward.local.scheduler import Scheduler
from tests.factories import model_spec, parquet_log, reference_rows, register_body
from tests.integration.conftest import Stack
from tests.integration.support import api, execution_end, wait_status

NAME = "sched-a"


def _serve(stack: Stack) -> None:
    assert api(stack, "POST", "/models", model_spec(NAME))[0] == 201
    body = register_body(reference_data={"instances": reference_rows(2000, seed=1)})
    assert api(stack, "POST", f"/models/{NAME}/versions", body)[0] == 201
    wait_status(stack, NAME, 1, "PENDING_APPROVAL")
    decision = {"decision": "approve", "comment": "ok"}
    assert api(stack, "POST", f"/models/{NAME}/versions/1/decision", decision, user="bob")[0] == 200
    assert api(stack, "PUT", f"/models/{NAME}/aliases/production", {"version": 1})[0] == 200


@pytest.fixture(scope="module")
def drifted(stack: Stack) -> Iterator[str]:
    """A served model with four drifted log files in the last hour; a queue that receives
    its DriftDetected events."""
    _serve(stack)
    bucket = stack.deployment.outputs["LogsBucket"]
    now = datetime.now(UTC)
    s3 = boto3.client("s3")
    for i in range(4):
        rows = [{**r, "tenure": r["tenure"] + 40} for r in reference_rows(500, seed=10 + i)]
        at = now - timedelta(minutes=5)
        key = f"predictions/model={NAME}/date={at:%Y-%m-%d}/hour={at:%H}/part-{i}.parquet"
        s3.put_object(Bucket=bucket, Key=key, Body=parquet_log(rows, at))
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName="drift-detected")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="drift-detected", EventPattern=json.dumps({"detail-type": ["DriftDetected"]})
    )
    events.put_targets(
        Rule="drift-detected", Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
    )
    yield queue


def _detected(queue: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def _schedule(name: str) -> dict[str, Any]:
    group = os.environ["STEWARD_DRIFT_SCHEDULE_GROUP"]
    found: dict[str, Any] = boto3.client("scheduler").get_schedule(Name=name, GroupName=group)
    return found


def test_a_model_gets_a_schedule_that_follows_its_policy(stack: Stack, drifted: str) -> None:
    schedule = _schedule(NAME)
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    hour = timedelta(hours=1)  # on the model's own phase in the hour, not on the hour
    assert (schedule["StartDate"] - EPOCH - offset_of(NAME, hour)) % hour == timedelta(0)
    target = schedule["Target"]  # the start queue, whose starter starts the state machine
    assert target["Arn"] == os.environ["STEWARD_DRIFT_START_QUEUE_ARN"]
    assert json.loads(target["Input"]) == {
        "model": NAME,
        "scheduled_at": "<aws.scheduler.scheduled-time>",
    }
    assert target["DeadLetterConfig"]["Arn"] == os.environ["STEWARD_DRIFT_SCHEDULE_DLQ_ARN"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2

    code, model = api(
        stack,
        "PATCH",
        f"/models/{NAME}",
        {"monitoring": {"schedule": "rate(2 hours)", "window_hours": 6}, "reason": "less often"},
    )
    assert code == 200 and model["monitoring"]["window_hours"] == 6
    assert _schedule(NAME)["ScheduleExpression"] == "rate(2 hours)"
    assert api(stack, "PATCH", f"/models/{NAME}", {"monitoring": {"schedule": "hourly"}})[0] == 422
    assert api(stack, "PATCH", f"/models/{NAME}", {"retrain": {}}, user="nobody")[0] == 403
    _code, audit = api(stack, "GET", f"/models/{NAME}/audit")
    assert any(e["action"] == "model.updated" for e in audit["items"])


def test_firing_the_schedule_evaluates_and_raises_drift_detected(
    stack: Stack, drifted: str
) -> None:
    # its next firing (every 2 hours since the policy change above), now: the logs (five
    # minutes old) are inside the window up to it
    upcoming = datetime.now(UTC) + timedelta(hours=2)
    period = fire_period(Scheduler(stack.runtime), stack.pollers, models=[NAME], now=upcoming)
    assert period.fired == period.delivered == period.started == period.succeeded == 1
    (execution,) = period.executions
    arn = os.environ["STEWARD_DRIFT_STATE_MACHINE_ARN"].replace(":stateMachine:", ":execution:")
    output = json.loads(execution_end(f"{arn}:{execution}")["output"])
    result = output["report"]
    assert output["plan"]["count"] == 1 and output["plan"]["end"] <= upcoming.isoformat()
    assert result["rows"] == 2000 and result["drift_detected"]
    (event,) = _detected(drifted)
    assert event["detail-type"] == "DriftDetected"
    assert event["detail"]["report_id"] == result["report_id"]
    assert "tenure" in event["detail"]["drifted_features"]


def test_a_large_window_runs_as_a_distributed_map(stack: Stack, drifted: str) -> None:
    os.environ["STEWARD_DRIFT_BATCH_ROWS"] = "1000"  # two files per child
    wiring.reset()
    try:
        started = stack.invoke("drift", {"model": NAME})
        assert started["mode"] == "distributed" and started["batches"] == 2
        sfn = boto3.client("stepfunctions")
        for _ in range(300):
            execution = sfn.describe_execution(executionArn=started["execution"])
            if execution["status"] != "RUNNING":
                break
            time.sleep(0.1)
    finally:
        del os.environ["STEWARD_DRIFT_BATCH_ROWS"]
        wiring.reset()
    assert execution["status"] == "SUCCEEDED", execution
    history = sfn.get_execution_history(executionArn=started["execution"])["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert "EvaluateBatches" in entered and "EvaluateInline" not in entered
    report = json.loads(execution["output"])["report"]
    assert report["report_id"] == started["run"] and report["rows"] == 2000
    assert report["drift_detected"]
    (event,) = _detected(drifted)
    assert event["detail"]["report_id"] == started["run"]
    # the retrains the drift events started end here, not after the stack is torn down
    retrains = sfn.list_executions(stateMachineArn=os.environ["STEWARD_RETRAIN_STATE_MACHINE_ARN"])
    for retrain in retrains["executions"]:
        if retrain["name"].startswith(f"{NAME}-"):
            execution_end(retrain["executionArn"], timeout_s=30)


def test_a_firing_now_covers_what_was_logged_earlier_in_the_same_second(
    stack: Stack, drifted: str
) -> None:
    """A manual firing at 12:00:00.4 reaches the start queue as 12:00:01: the scheduled time
    travels to the second, and truncating it left out records logged since 12:00:00.0
    (the demo scored and fired within one second and its run missed the drift)."""
    instant = datetime(2026, 12, 2, 12, 0, 0, 400000, tzinfo=UTC)
    group = os.environ["STEWARD_DRIFT_SCHEDULE_GROUP"]
    scheduler = Scheduler(stack.runtime, clock=lambda: instant)
    assert scheduler.fire(f"{group}/{NAME}") == 1
    sqs = boto3.client("sqs")
    queue_name = os.environ["STEWARD_DRIFT_START_QUEUE_ARN"].rsplit(":", 1)[-1]
    queue = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert json.loads(message["Body"]) == {"model": NAME, "scheduled_at": "2026-12-02T12:00:01Z"}


def test_an_admin_refresh_puts_old_schedules_back_on_the_start_queue(
    stack: Stack, drifted: str
) -> None:
    """A schedule created before the start queue existed targets the drift function; the
    refresh (paged, by an admin only) puts it on the start queue with the model's policy."""
    group = os.environ["STEWARD_DRIFT_SCHEDULE_GROUP"]
    scheduler = boto3.client("scheduler")
    old = _schedule(NAME)
    drift_function = "arn:aws:lambda:us-east-1:123456789012:function:Steward-OldDrift"
    target = {**old["Target"], "Arn": drift_function, "Input": json.dumps({"model": NAME})}
    scheduler.update_schedule(
        Name=NAME,
        GroupName=group,
        ScheduleExpression=old["ScheduleExpression"],
        FlexibleTimeWindow=old["FlexibleTimeWindow"],
        Target=target,
    )
    assert api(stack, "POST", "/admin/schedules/refresh", user="alice")[0] == 403
    token, calls, refreshed = None, 0, 0
    while True:
        path = "/admin/schedules/refresh?limit=1" + (f"&next_token={token}" if token else "")
        code, done = api(stack, "POST", path, user="admin")
        assert code == 200, done
        calls, refreshed, token = calls + 1, refreshed + done["refreshed"], done["next_token"]
        if not token:
            break
    assert refreshed >= 1 and calls == refreshed  # one model a call
    schedule = _schedule(NAME)
    assert schedule["Target"]["Arn"] == os.environ["STEWARD_DRIFT_START_QUEUE_ARN"]
    assert json.loads(schedule["Target"]["Input"])["model"] == NAME
    assert schedule["ScheduleExpression"] == old["ScheduleExpression"]
    _code, audit = api(stack, "GET", "/audit", user="admin")
    assert any(e["action"] == "schedules.refreshed" for e in audit["items"])
