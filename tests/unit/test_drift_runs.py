"""Distributed drift runs on fakes: planning from Parquet footers, batches that partition the
window's files, partial results that survive serialization, and plan -> map -> reduce giving
the same report as one pass."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from unittest.mock import ANY

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from steward.adapters.memory import InProcessDriftRuns, MemoryLogFiles, MemoryRunStore
from steward.domain.errors import NotFound
from steward.domain.models import ModelSpec, Task
from steward.drift import outcomes, partials
from steward.drift.evaluate import partial_of
from steward.drift.partials import Child
from steward.drift.plan import LogFile, batches, footer_rows, listed, with_rows
from steward.drift.report import DriftReport
from steward.drift.runs import DriftJobs, Started
from steward.drift.service import DriftService
from steward.ports.monitoring import DriftRuns, RunStatus
from steward.registry.service import Registry
from tests.factories import model_spec, parquet_log, reference_rows
from tests.unit.test_drift_service import T0, USERS, service  # noqa: F401  (fixture)

HOUR = "predictions/model=churn/date=2026-11-27/hour={:02d}/{}.parquet"


def _fill(
    logs: MemoryLogFiles, files: int, rows: int, shift: float = 0.0, scored: bool = False
) -> None:
    """``files`` log files over two hours; ``scored``: with request ids, predictions and
    scores, and feedback labels for two rows in three (the last file re-delivers the first
    file's first rows, as at-least-once delivery does)."""
    ids: list[str] = []
    first: list[dict[str, object]] = []
    for i in range(files):
        batch = [{**r, "tenure": r["tenure"] + shift} for r in reference_rows(rows, seed=i)]
        if scored:
            score = np.random.default_rng(i).random(rows)
            for j, (row, p) in enumerate(zip(batch, score, strict=True)):
                row.update(request_id=f"r{i}-{j}", prediction=float(p >= 0.5), score=float(p))
            if i == files - 1:
                batch[:20] = [dict(r) for r in first[:20]]
            first = first or batch
            ids += [r["request_id"] for r in batch[::3] + batch[1::3]]
        logs.files[HOUR.format(10 + i % 2, f"f{i:02d}")] = parquet_log(
            batch, T0 + timedelta(hours=i % 2)
        )
    if scored:
        labels = (np.random.default_rng(99).random(len(ids)) < 0.5).astype(int).tolist()
        sink = io.BytesIO()
        pq.write_table(pa.table({"request_id": ids, "label": labels}), sink)
        logs.files["feedback/model=churn/date=2026-11-27/hour=12/fb.parquet"] = sink.getvalue()
        logs.files["feedback/model=churn/date=2026-11-27/hour=12/bad.parquet"] = b"not parquet"


def _protect(drift: DriftService, *attributes: str) -> None:
    model = drift.store.get_model("churn")
    monitoring = model.monitoring.model_copy(update={"protected_attributes": list(attributes)})
    drift.store.save_model(model.model_copy(update={"monitoring": monitoring}), model.rev)


def test_footer_rows_reads_the_row_count_from_the_last_bytes() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(5000))}), sink, row_group_size=1000)
    data = sink.getvalue()
    assert footer_rows(data[-4096:]) == 5000
    assert footer_rows(data[-20:]) is None  # footer longer than the tail
    assert footer_rows(b"not parquet at all") is None
    assert footer_rows(data[:-1] + b"X") is None
    logs = MemoryLogFiles()
    logs.files = {"b": data, "a": b"junk", "c": b""}
    planned = with_rows({k: len(v) for k, v in logs.files.items()}, logs.tail)
    assert planned == [LogFile("a", 4, None), LogFile("b", len(data), 5000), LogFile("c", 0, 0)]


def test_listed_is_every_folder_s_listing() -> None:
    logs = MemoryLogFiles()
    logs.files = {HOUR.format(h, f"f{i}"): b"x" * i for h in range(10, 14) for i in range(3)}
    folders = [HOUR.format(h, "")[: -len(".parquet")] for h in range(9, 14)]
    assert listed(folders, logs.sizes, threads=3) == {k: len(v) for k, v in logs.files.items()}
    assert listed([], logs.sizes) == {}


files_st = st.lists(
    st.builds(
        LogFile,
        key=st.just(""),
        size=st.integers(0, 5000),
        rows=st.none() | st.integers(0, 5000),
    ),
    max_size=60,
)


@given(files_st, st.integers(1, 4000), st.integers(1, 4000), st.integers(1, 12))
def test_batches_partition_the_files_in_order_within_limits(
    files: list[LogFile], max_rows: int, max_bytes: int, max_batches: int
) -> None:
    files = [LogFile(f"k{i:03d}", f.size, f.rows) for i, f in enumerate(files)]
    out = batches(files, max_rows, max_bytes, max_batches)
    assert [k for b in out for k in b.keys] == [f.key for f in files]
    assert len(out) <= max_batches and all(b.keys for b in out)
    if len(batches(files, max_rows, max_bytes, 10**9)) <= max_batches:  # no need to grow
        for b in out:
            assert len(b.keys) == 1 or (b.rows <= max_rows and b.bytes <= max_bytes)


def test_child_results_round_trip_and_still_merge(service: DriftService) -> None:  # noqa: F811
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 3, 500, scored=True)
    _protect(service, "plan")
    logs.files[HOUR.format(10, "broken")] = b"PAR1 not really"
    run = service.plan("churn", T0, T0 + timedelta(hours=2))
    parts = [service.evaluate_keys(run, [k]) for k in run.keys]
    again = [partials.loads(partials.dumps(p)) for p in parts]
    assert [a.partial for a in again] == [p.partial for p in parts]
    assert again[0].partial.missing_columns == parts[0].partial.missing_columns  # sets stay sets
    for a, p in zip(again, parts, strict=True):
        assert (a.labels, a.feedback_skipped) == (p.labels, p.feedback_skipped)
        assert (a.outcomes.rows, a.outcomes.by_class) == (p.outcomes.rows, p.outcomes.by_class)
        assert (a.outcomes.groups, a.outcomes.skipped) == (p.outcomes.groups, p.outcomes.skipped)
        if p.outcomes.labelled:
            rows = pa.concat_tables(p.outcomes.labelled)
            assert pa.concat_tables(a.outcomes.labelled).equals(rows) and rows.num_rows
        else:
            assert a.outcomes.labelled == []
    merged = Child()
    for p in again:
        merged = merged.merge(p)
    version = service.store.get_version("churn", 1)
    from steward.domain.profile import Profile

    single = partial_of(
        ((k, logs.read(k)) for k in run.keys),
        Profile.model_validate(version.profile),
        version.signature,
        (run.start, run.end),
        1,
    )
    assert merged.partial == single and merged.partial.skipped and merged.partial.files == 3
    # the outcomes: merged children assess as one pass over every file does
    one = service.evaluate_keys(run, run.keys)
    policy = service.store.get_model("churn").monitoring
    judged = [
        outcomes.assess_version(c.outcomes, c.labels, version, Task.CLASSIFICATION, policy)
        for c in (merged, one)
    ]
    assert judged[0] == judged[1]
    performance, fairness = judged[0]
    assert performance["rows_scored"] == 1500
    assert performance["rows_labelled"] == 3 * 334 - 14  # the re-delivered rows: once
    assert fairness["attributes"]["plan"]["groups"].keys() == {"basic", "pro"}
    assert merged.feedback_skipped == [{"key": ANY, "reason": ANY}] == one.feedback_skipped


def test_a_child_without_labels_or_protected_attributes_reads_no_predictions(
    service: DriftService,  # noqa: F811
) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 2, 100)
    run = service.plan("churn", T0, T0 + timedelta(hours=2))
    child = service.evaluate_keys(run, run.keys)
    assert child.outcomes == outcomes.Outcomes() and child.labels == 0
    assert partials.loads(partials.dumps(child)) == child


class Recorded(DriftRuns):
    def __init__(self) -> None:
        self.started: list[tuple[str, str, str, str]] = []

    def start(self, model: str, start: str, end: str, run_id: str) -> str:
        self.started.append((model, start, end, run_id))
        return "arn:execution"

    def status(self, model: str, run_id: str) -> RunStatus:
        raise NotFound(f"no drift run {run_id} for {model}")

    def start_scheduled(self, model: str, scheduled_at: datetime) -> str:
        self.started.append((model, "", scheduled_at.isoformat(), "scheduled"))
        return "arn:execution"


def test_map_reduce_gives_the_single_pass_report(service: DriftService) -> None:  # noqa: F811
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 6, 400, shift=40.0, scored=True)
    _protect(service, "plan")
    window = (T0.isoformat(), (T0 + timedelta(hours=2)).isoformat())
    inline = DriftJobs(service, MemoryRunStore()).evaluate("churn", *window)
    one_pass = service.get("churn", inline["report_id"])

    service.batch_rows = 800  # two files per child
    scratch = MemoryRunStore()
    runner = InProcessDriftRuns()
    jobs = DriftJobs(service, scratch, runner)
    runner.jobs = jobs
    plan = jobs.plan("churn", *window)
    assert plan["count"] == 3 and plan["items"] == [{"batch": 0}, {"batch": 1}, {"batch": 2}]
    big = jobs.map("churn", plan["run"], 0, inline_bytes=0)
    small = jobs.map("churn", plan["run"], 1, inline_bytes=10**6)
    assert "key" in big and big["key"] in scratch.objects and "partial" in small
    results = [big, small, jobs.map("churn", plan["run"], 2, plan["inline_bytes"])]
    summary = jobs.reduce("churn", plan["run"], results)
    assert summary["report_id"] == inline["report_id"] and summary["rows"] == 2400
    import json

    distributed = json.loads(service.get("churn", summary["report_id"]))
    inline_report = json.loads(one_pass)
    assert distributed["features"] == inline_report["features"]
    assert distributed["performance"] == inline_report["performance"]
    assert distributed["fairness"] == inline_report["fairness"]
    assert distributed["performance"]["rows_labelled"] > 1000 and distributed["fairness"]
    assert distributed["drift_detected"] and "tenure" in distributed["drifted_features"]


def test_scheduled_runs_inline_for_one_batch_else_starts_a_run(
    service: DriftService,  # noqa: F811
) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 4, 300, shift=40.0)
    runs = Recorded()
    jobs = DriftJobs(service, MemoryRunStore(), runs)
    inline = jobs.handle({"model": "churn"})  # the schedule's input
    assert inline["mode"] == "inline" and inline["rows"] == 1200 and inline["drift_detected"]
    assert runs.started == []
    assert service.events.events[-1][0] == "DriftDetected"  # type: ignore[attr-defined]

    service.batch_rows = 300
    started = jobs.handle({"model": "churn"})
    assert started["mode"] == "distributed" and started["batches"] == 4
    ((model, start, end, run_id),) = runs.started
    assert model == "churn" and run_id == started["run"]
    runner = InProcessDriftRuns()
    runner.jobs = jobs
    runner.start(model, start, end, run_id)
    assert runner.completed[0]["report_id"] == run_id and runner.completed[0]["rows"] == 1200


def test_run_decides_inline_or_distributed_for_the_api(service: DriftService) -> None:  # noqa: F811
    """The on-demand route's decision: one batch (within the API's rows), or no state
    machine, is the report here; more start the run under the window's report id."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 4, 300, shift=40.0)
    window = (T0, T0 + timedelta(hours=2))
    runs = Recorded()
    jobs = DriftJobs(service, MemoryRunStore(), runs)
    report = jobs.run("churn", *window)
    assert isinstance(report, DriftReport) and report.rows == 1200 and runs.started == []

    service.batch_rows = 600
    started = jobs.run("churn", *window)
    assert isinstance(started, Started) and len(started.run.batches) == 2
    assert started.execution == "arn:execution" and started.at > T0
    assert runs.started == [("churn", *(t.isoformat() for t in window), report.report_id)]
    assert started.run.run_id == report.report_id  # the same window, the same report

    service.batch_rows = 10**6
    large = jobs.run("churn", *window, inline_rows=1000)  # one batch, too large for the API
    assert isinstance(large, Started) and len(large.run.batches) == 1 and large.run.rows == 1200
    assert isinstance(jobs.run("churn", *window, inline_rows=1200), DriftReport)

    alone = DriftJobs(service, MemoryRunStore(), None).run("churn", *window)
    assert isinstance(alone, DriftReport) and alone.rows == 1200 and len(runs.started) == 2


def test_a_scheduled_model_without_production_is_skipped(
    service: DriftService,  # noqa: F811
    registry: Registry,
) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec("idle")), USERS.identify("alice"))
    skipped = DriftJobs(service, MemoryRunStore()).handle({"model": "idle"})
    assert skipped["mode"] == "skipped" and "no production" in skipped["reason"]


@pytest.mark.parametrize(
    "event",
    [
        {"model": "churn", "task": "explode"},
        {"model": "Not A Name"},
        {"model": "churn", "task": "map", "run": "../../etc", "batch": 0, "inline_bytes": 0},
        {
            "model": "churn",
            "task": "map",
            "run": "0123456789abcdef",
            "batch": -1,
            "inline_bytes": 0,
        },
        {
            "model": "churn",
            "task": "reduce",
            "run": "0123456789abcdef",
            "results": [{"key": "models/churn/1/model.onnx"}],
        },
        {"model": "churn", "task": "reduce", "run": "0123456789abcdef", "results": [{}]},
        {"model": "churn", "task": "plan", "start": "2026-11-27T10:00:00"},  # no time zone
    ],
)
def test_malformed_steps_are_refused(event: dict[str, object]) -> None:
    jobs = DriftJobs(None, MemoryRunStore())  # type: ignore[arg-type]  # never reached
    with pytest.raises(ValidationError):
        jobs.handle(event)


def test_a_run_whose_step_raises_is_failed_with_the_machines_own_error(
    service: DriftService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the state machine's RunFailed: the status names the run's failure, never the
    step's exception text; an id that names no run is not found."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _fill(logs, 4, 300)
    service.batch_rows = 600
    runner = InProcessDriftRuns()
    jobs = DriftJobs(service, MemoryRunStore(), runner)
    runner.jobs = jobs
    window = (T0, T0 + timedelta(hours=2))
    ok = jobs.run("churn", *window)
    assert isinstance(ok, Started)
    done = jobs.status("churn", ok.run.run_id)
    assert done.status == "SUCCEEDED" and done.error is None and done.execution == ok.execution

    def broken(*_args: object) -> None:
        raise RuntimeError("s3://secret/key is gone")

    monkeypatch.setattr(jobs, "map", broken)
    failed = jobs.run("churn", *window)
    assert isinstance(failed, Started) and failed.run.run_id == ok.run.run_id
    status = jobs.status("churn", ok.run.run_id)
    assert (status.status, status.error, status.cause) == (
        "FAILED",
        "DriftRunFailed",
        "a step failed",
    )
    assert "secret" not in status.model_dump_json() and status.stopped_at is not None
    for model, run_id in (("churn", "0" * 16), ("churn", "not-a-run"), ("other", ok.run.run_id)):
        with pytest.raises(NotFound):
            jobs.status(model, run_id)
    with pytest.raises(NotFound):
        DriftJobs(service, MemoryRunStore(), None).status("churn", ok.run.run_id)
