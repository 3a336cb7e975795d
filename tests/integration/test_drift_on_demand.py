"""On-demand drift evaluation over the API on moto, with the CDK stack: a window of one batch
answers its report (200); a window of more batches answers 202 and runs the distributed state
machine, whose report (at ``Location``) equals the inline evaluation of the same window;
starting it again while it runs joins the run, and after it has closed runs it again. A run
that fails says so at its status route, and the client stops polling at once."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steward import wiring
from steward.adapters.aws.stepfunctions import StepFunctionsDriftRuns, execution_name
from steward.client import ApiError, Client, Reply, RunFailed
from steward.domain.errors import NotFound
from steward.drift.runs import DriftJobs
from tests.factories import api_event, logistic_probability, parquet_log, reference_rows
from tests.integration.conftest import Stack
from tests.integration.support import api, execution_end
from tests.integration.test_scoring_logs import _serve

NAME = "ondemand-a"
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)


@pytest.fixture(scope="module")
def window(stack: Stack) -> dict[str, str]:
    """A served model with ``plan`` protected and a two-hour window of four log files (500
    scored rows each, tenure drifted in two of them), with feedback labels for 3 rows in 5."""
    _serve(
        NAME,
        monitoring={"schedule": "rate(1 hour)", "protected_attributes": ["plan"]},
        retrain={"on_drift": False},  # with 1,200 labels a drift would start a retrain
    )
    s3, bucket = boto3.client("s3"), os.environ["STEWARD_LOGS_BUCKET"]
    ids: list[str] = []
    for i in range(4):
        at = HOUR + timedelta(hours=i % 2, minutes=10)
        shift = 40.0 if i % 2 else 0.0
        rows = [{**r, "tenure": r["tenure"] + shift} for r in reference_rows(500, seed=20 + i)]
        for j, (row, p) in enumerate(zip(rows, logistic_probability(rows), strict=True)):
            row.update(request_id=f"{NAME}-{i}-{j}", prediction=float(p >= 0.5), score=float(p))
        ids += [r["request_id"] for r in rows if int(r["request_id"].rsplit("-", 1)[1]) % 5 < 3]
        key = f"predictions/model={NAME}/date={at:%Y-%m-%d}/hour={at:%H}/part-{i}.parquet"
        s3.put_object(Bucket=bucket, Key=key, Body=parquet_log(rows, at))
    labels = (np.random.default_rng(5).random(len(ids)) < 0.4).astype(int).tolist()
    sink = io.BytesIO()
    pq.write_table(pa.table({"request_id": ids, "label": labels}), sink)
    at = HOUR + timedelta(hours=2)
    key = f"feedback/model={NAME}/date={at:%Y-%m-%d}/hour={at:%H}/labels.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())
    return {"start": HOUR.isoformat(), "end": (HOUR + timedelta(hours=2)).isoformat()}


@contextmanager
def batch_rows(rows: int) -> Iterator[None]:
    """Batches of at most ``rows`` rows, for the API and the drift function alike."""
    os.environ["STEWARD_DRIFT_BATCH_ROWS"] = str(rows)
    wiring.reset()
    try:
        yield
    finally:
        del os.environ["STEWARD_DRIFT_BATCH_ROWS"]
        wiring.reset()


def _post(stack: Stack, window: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    event = api_event("POST", f"/models/{NAME}/drift/evaluate", window, user="alice")
    result = stack.invoke("api", event)
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = values[0]
    return result["statusCode"], json.loads(result["body"]), headers


def _verdicts(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": report["rows"],
        "drift_detected": report["drift_detected"],
        "drifted_features": report["drifted_features"],
        "features": {
            name: (f["test"], pytest.approx(f["statistic"], abs=1e-12), f["drift"])
            for name, f in report["features"].items()
        },
    }


def _executions() -> list[dict[str, Any]]:
    arn = os.environ["STEWARD_DRIFT_STATE_MACHINE_ARN"]
    found = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    return [e for e in found if e["name"].startswith(f"{NAME}-")]


def test_a_window_of_one_batch_answers_its_report(stack: Stack, window: dict[str, str]) -> None:
    code, report, _ = _post(stack, window)
    assert code == 200, report
    assert report["rows"] == 2000 and report["drift_detected"]
    assert "tenure" in report["drifted_features"]
    assert _executions() == []  # evaluated in the API function


def test_a_larger_window_runs_distributed_and_reports_the_same(
    stack: Stack, window: dict[str, str]
) -> None:
    _code, inline, _ = _post(stack, window)
    with batch_rows(1000):  # two files per child: two children
        code, started, headers = _post(stack, window)
        assert code == 202, started
        again_code, again, _ = _post(stack, window)  # while it runs: joins it (or reruns)
        for execution in {started["execution"], again["execution"]}:  # the plan: 2 batches
            assert execution_end(execution, timeout_s=30)["status"] == "SUCCEEDED"
    assert again_code == 202 and again["report_id"] == started["report_id"]
    assert started["report_id"] == inline["report_id"]  # the window's id, either way
    assert started["status"] == "running" and started["batches"] == 2
    assert started["window"] == inline["window"] and started["model"] == NAME
    assert headers["location"] == f"/models/{NAME}/drift/{started['report_id']}"
    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=started["execution"]
    )["events"]
    entered = {
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    }
    assert "EvaluateBatches" in entered and "EvaluateInline" not in entered

    code, report = api(stack, "GET", headers["location"])
    assert code == 200 and report["created_at"] >= started["started_at"]  # this run's
    assert _verdicts(report) == _verdicts(inline)
    # performance and fairness joined in the children, merged in the reduce: as inline
    assert report["performance"] == inline["performance"]
    assert report["fairness"] == inline["fairness"]
    assert report["performance"]["rows_labelled"] == 1200
    assert report["performance"]["rows_scored"] == 2000
    assert set(report["fairness"]["attributes"]["plan"]["groups"]) == {"basic", "pro"}


class InProcessClient(Client):
    """The Python client, with the API function in-process instead of HTTP."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(url="http://in-process", user="alice")
        self.stack = stack

    def exchange(
        self, method: str, path: str, body: Any | None = None, accept: str = "application/json"
    ) -> Reply:
        result = self.stack.invoke("api", api_event(method, path, body, user=self.user))
        answer = json.loads(result["body"]) if result.get("body") else None
        if result["statusCode"] >= 400:
            raise ApiError(result["statusCode"], answer["error"], answer["message"])
        headers = dict(result.get("headers") or {})
        headers.update({k: v[0] for k, v in (result.get("multiValueHeaders") or {}).items()})
        return Reply(result["statusCode"], answer, headers)


def test_a_failed_run_shows_failed_and_the_client_stops_at_once(
    stack: Stack, window: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:  # every map child raises
        raise RuntimeError("s3://internal/secret is gone")

    monkeypatch.setattr(DriftJobs, "map", broken)
    began = time.monotonic()
    with batch_rows(1000), pytest.raises(RunFailed) as failed:  # 60 s: not reached
        InProcessClient(stack).evaluate_drift(NAME, window, timeout_s=60, poll_s=0.05)
    assert time.monotonic() - began < 30
    report_id = failed.value.status["report_id"]
    code, status = api(stack, "GET", f"/models/{NAME}/drift/runs/{report_id}")
    assert code == 200 and status == failed.value.status
    assert set(status) == {
        *("report_id", "model", "status", "started_at", "stopped_at", "execution"),
        *("error", "cause"),
    }
    assert (status["status"], status["error"], status["cause"]) == (
        "FAILED",
        "DriftRunFailed",
        "a step failed",
    )
    assert status["model"] == NAME and status["stopped_at"] >= status["started_at"]
    assert "secret" not in json.dumps(status) and "drift-run:" in status["execution"]
    assert execution_end(status["execution"])["status"] == "FAILED"
    for unknown in ("0" * 16, "not-a-run"):
        code, body = api(stack, "GET", f"/models/{NAME}/drift/runs/{unknown}")
        assert code == 404 and body["error"] == "not_found", body


def _stop(execution: str, **reason: str) -> None:
    boto3.client("stepfunctions").stop_execution(executionArn=execution, **reason)
    assert execution_end(execution)["status"] == "ABORTED"  # the emulator stops it shortly


def test_a_window_starts_again_only_once_its_run_has_closed(stack: Stack) -> None:
    """Step Functions answers a running execution's name and input with that execution and
    ExecutionAlreadyExists once it has closed: the adapter then takes the next name."""
    sfn = boto3.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/unused"
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
    arn = sfn.create_state_machine(
        name="ondemand-waits", definition=json.dumps(waits), roleArn=role
    )["stateMachineArn"]
    runs = StepFunctionsDriftRuns(sfn, arn, reruns=2)
    model, run_id = "m" * 63, "0123456789abcdef"  # the longest model name
    window = (model, "2026-11-27T00:00:00+00:00", "2026-11-27T02:00:00+00:00", run_id)
    with pytest.raises(NotFound):
        runs.status(model, run_id)  # never ran
    first = runs.start(*window)
    assert first.split(":")[-1] == execution_name(model, run_id) == f"{model}-{run_id}"
    assert runs.start(*window) == first  # running: joined
    assert (runs.status(model, run_id).status, runs.status(model, run_id).execution) == (
        "RUNNING",
        first,
    )
    _stop(first, error="Operator", cause="s3://internal/secret")
    aborted = runs.status(model, run_id)
    assert aborted.status == "ABORTED" and aborted.stopped_at is not None
    assert aborted.error is None and aborted.cause is None  # not the state machine's own
    second = runs.start(*window)
    assert second.endswith(f"{run_id}-1") and runs.start(*window) == second
    assert runs.status(model, run_id).execution == second  # the latest run of the window
    _stop(second)
    third = runs.start(*window)  # past the reruns: a name of its own
    assert third not in (first, second) and f"-{run_id}-" in third
    assert all(len(e.split(":")[-1]) <= 80 for e in (first, second, third))
    latest = runs.status(model, run_id)  # found by listing
    assert (latest.status, latest.execution, latest.report_id) == ("RUNNING", third, run_id)
    _stop(third)
