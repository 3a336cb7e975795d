"""One contract per monitoring port (log files, run scratch, schedules, the latest runs of
the report store), run against the in-memory fake and the S3 / EventBridge Scheduler /
DynamoDB adapters on the deployed stack."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from steward.adapters.aws import s3 as aws
from steward.adapters.aws.events import EventBridgeSchedules
from steward.adapters.aws.reports import S3DynamoReportStore
from steward.adapters.aws.s3 import S3LogFiles, S3RunStore
from steward.adapters.memory import (
    MemoryLogFiles,
    MemoryReportStore,
    MemoryRunStore,
    MemorySchedules,
)
from steward.config import Settings
from steward.domain.errors import NotFound
from steward.domain.partitions import prefix, prefixes
from steward.ports.monitoring import LogFiles, ReportStore, RunStore, Schedules
from steward.wiring import schedules as configured_schedules
from tests.integration.conftest import Stack


@pytest.fixture(params=["memory", "s3"])
def log_files(request: pytest.FixtureRequest, stack: Stack) -> LogFiles:
    if request.param == "memory":
        return MemoryLogFiles()
    return S3LogFiles(boto3.client("s3"), os.environ["STEWARD_LOGS_BUCKET"])


@pytest.fixture(params=["memory", "s3"])
def scratch(request: pytest.FixtureRequest, stack: Stack) -> RunStore:
    if request.param == "memory":
        return MemoryRunStore()
    return S3RunStore(boto3.client("s3"), os.environ["STEWARD_REPORTS_BUCKET"])


@pytest.fixture(params=["memory", "scheduler"])
def schedules(request: pytest.FixtureRequest, stack: Stack) -> Schedules:
    if request.param == "memory":
        return MemorySchedules()
    adapter = configured_schedules(Settings.from_env())
    assert isinstance(adapter, EventBridgeSchedules)
    return adapter


@pytest.fixture(params=["memory", "dynamodb"])
def reports(request: pytest.FixtureRequest, stack: Stack) -> ReportStore:
    if request.param == "memory":
        return MemoryReportStore()
    return S3DynamoReportStore(
        boto3.client("s3"),
        os.environ["STEWARD_REPORTS_BUCKET"],
        boto3.client("dynamodb"),
        os.environ["STEWARD_REGISTRY_TABLE"],
    )


def test_latest_runs_keep_one_per_model_read_in_batches(reports: ReportStore) -> None:
    """One record per model, replaced by each run; read for any number of models (more
    than one batch of 100), absent ones left out."""
    names = [f"contract-run-{i:03d}" for i in range(130)]
    for i, name in enumerate(names):
        reports.note_run(name, {"outcome": "skipped", "at": f"t{i}", "reason": "no_logs"})
    reports.note_run(names[7], {"outcome": "evaluated", "at": "t999", "report_id": "r"})
    found = reports.latest_runs([*names, "contract-run-absent"])
    assert set(found) == set(names)
    assert found[names[7]] == {"outcome": "evaluated", "at": "t999", "report_id": "r"}
    assert found[names[129]]["at"] == "t129"
    assert reports.latest_runs([]) == {}


def test_log_files_list_size_and_read_tails(log_files: LogFiles) -> None:
    prefix = "predictions/model=contract-logs/date=2026-11-27/hour=10/"
    files = {f"{prefix}a.parquet": b"0123456789", f"{prefix}b.parquet": b"xyz"}
    for key, data in files.items():
        if isinstance(log_files, MemoryLogFiles):
            log_files.files[key] = data
        else:
            boto3.client("s3").put_object(
                Bucket=os.environ["STEWARD_LOGS_BUCKET"], Key=key, Body=data
            )
    assert log_files.sizes(prefix) == {k: len(v) for k, v in files.items()}
    assert sorted(log_files.keys(prefix)) == sorted(files)
    assert log_files.tail(f"{prefix}a.parquet", 4) == b"6789"
    assert log_files.tail(f"{prefix}b.parquet", 3) == b"xyz"
    assert log_files.read(f"{prefix}a.parquet") == b"0123456789"
    assert log_files.sizes(prefix + "nothing/") == {}


def test_run_scratch_keeps_and_refuses_absent(scratch: RunStore) -> None:
    key = "drift/_runs/contract/r1/plan.json"
    scratch.put(key, b"{}")
    assert scratch.get(key) == b"{}"
    with pytest.raises(NotFound):
        scratch.get("drift/_runs/contract/r1/absent.json")


def test_schedules_put_update_get_delete(schedules: Schedules) -> None:
    assert schedules.get("contract-s") is None
    schedules.put("contract-s", "rate(1 hour)")
    assert schedules.get("contract-s") == "rate(1 hour)"
    schedules.put("contract-s", "cron(0 6 * * ? *)")
    assert schedules.get("contract-s") == "cron(0 6 * * ? *)"
    schedules.delete("contract-s")
    schedules.delete("contract-s")  # absent is fine
    assert schedules.get("contract-s") is None


def test_log_files_open_seekable_whole_and_closed(
    log_files: LogFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws, "SPOOL_BYTES", 1024)  # S3: past this, the download goes to disk
    key = "predictions/model=contract-open/date=2026-11-27/hour=10/a.parquet"
    data = os.urandom(300_000)
    if isinstance(log_files, MemoryLogFiles):
        log_files.files[key] = data
    else:
        boto3.client("s3").put_object(Bucket=os.environ["STEWARD_LOGS_BUCKET"], Key=key, Body=data)
    with log_files.open(key) as file:
        file.seek(-8, 2)  # a Parquet reader starts at the footer
        assert file.read() == data[-8:]
        file.seek(1000)
        assert file.read(500) == data[1000:1500]
    assert file.closed


def test_window_keys_are_the_files_of_the_hours_a_window_touches(log_files: LogFiles) -> None:
    """S3 lists a window in one pass from its first hour (not one listing per hour): the
    same files as the hour-by-hour listing, none before or after, none of another model
    whose name extends this one's, over a day boundary."""
    start = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)
    end = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # hours 22, 23, 0, 1

    def key(model: str, at: datetime, file: str) -> str:
        return f"{prefix('predictions', model, at)}{file}.parquet"

    inside = [
        key("contract-win", start, "a"),
        key("contract-win", start + timedelta(hours=1), "b"),
        key("contract-win", start + timedelta(hours=2), "c"),
        key("contract-win", start + timedelta(hours=3), "d"),
        key("contract-win", start + timedelta(hours=3), "e"),
    ]
    outside = [
        key("contract-win", start - timedelta(hours=1), "early"),
        key("contract-win", end, "late"),
        key("contract-win", end + timedelta(days=3), "later"),
        key("contract-win-2", start, "other-model"),
        "feedback/model=contract-win/date=2026-11-27/hour=22/label.parquet",
    ]
    for name in inside + outside:
        if isinstance(log_files, MemoryLogFiles):
            log_files.files[name] = b"x"
        else:
            boto3.client("s3").put_object(
                Bucket=os.environ["STEWARD_LOGS_BUCKET"], Key=name, Body=b"x"
            )
    found = log_files.window_keys("predictions", "contract-win", start, end)
    assert sorted(found) == sorted(inside)
    hourly = [
        k for p in prefixes("predictions", "contract-win", start, end) for k in log_files.keys(p)
    ]
    assert sorted(found) == sorted(hourly)
    assert log_files.window_keys("predictions", "contract-win", end, end) == []
    assert log_files.window_keys("predictions", "absent-model", start, end) == []


def test_a_week_window_is_one_s3_listing(stack: Stack) -> None:
    """The retrain and drift readers' 7-day window: one ListObjectsV2 call, not 168 (one
    per hour cost 8 s of the retrain's overhead on the local platform)."""
    client = boto3.client("s3")
    calls: list[str] = []
    client.meta.events.register("before-call.s3.ListObjectsV2", lambda **_: calls.append("l"))
    end = datetime(2026, 11, 28, 12, tzinfo=UTC)
    files = S3LogFiles(client, os.environ["STEWARD_LOGS_BUCKET"])
    files.window_keys("predictions", "contract-week", end - timedelta(days=7), end)
    assert len(calls) == 1
