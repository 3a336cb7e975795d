"""The fan-out from the drift schedules (issue 20): a firing of a model's schedule is planned
as the policy's window up to the firing's time, skipped (not failed) when there is nothing to
evaluate, started once however often it is delivered, and a throttled start is retried,
never lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from steward.adapters.memory import InProcessDriftRuns, MemoryLogFiles, MemoryRunStore
from steward.domain.errors import DependencyUnavailable, NotFound
from steward.domain.models import ModelSpec
from steward.drift.runs import NO_LOGS, NOT_IN_PRODUCTION, DriftJobs
from steward.drift.service import DriftService
from steward.drift.starts import start_batch
from steward.ports.monitoring import DriftRuns, RunStatus
from steward.registry.service import Registry
from tests.factories import model_spec, parquet_log, reference_rows
from tests.unit.test_drift_service import T0, USERS, service  # noqa: F401  (fixture)

FIRED = T0 + timedelta(hours=2)


def _message(model: str, at: datetime = FIRED) -> str:
    return json.dumps({"model": model, "scheduled_at": at.isoformat()})


def _runner(service: DriftService) -> InProcessDriftRuns:  # noqa: F811
    runner = InProcessDriftRuns()
    runner.jobs = DriftJobs(service, MemoryRunStore(), runner)
    return runner


def _log(service: DriftService, hours_before: int, rows: int = 300) -> None:  # noqa: F811
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    at = FIRED - timedelta(hours=hours_before)
    key = f"predictions/model=churn/date={at:%Y-%m-%d}/hour={at:%H}/f{hours_before}.parquet"
    logs.files[key] = parquet_log(reference_rows(rows, seed=hours_before), at)


def test_a_firing_evaluates_the_policys_window_up_to_its_time(service: DriftService) -> None:  # noqa: F811
    _log(service, 1)
    runner = _runner(service)
    assert start_batch(runner, [("m1", _message("churn"))]) == []
    (outcome,) = runner.scheduled.values()
    assert outcome["rows"] == 300
    assert outcome["window"] == {
        "start": (FIRED - timedelta(hours=24)).isoformat(),  # window_hours, up to the firing
        "end": FIRED.isoformat(),
    }


def test_a_firing_delivered_twice_runs_once(service: DriftService) -> None:  # noqa: F811
    _log(service, 1)
    runner = _runner(service)
    assert start_batch(runner, [("a", _message("churn")), ("b", _message("churn"))]) == []
    assert start_batch(runner, [("c", _message("churn"))]) == []
    assert len(runner.scheduled) == 1
    later = FIRED + timedelta(hours=1)
    assert start_batch(runner, [("d", _message("churn", later))]) == []
    assert len(runner.scheduled) == 2  # the next firing is another run


def test_nothing_to_evaluate_is_skipped_not_failed(
    service: DriftService,  # noqa: F811
    registry: Registry,
) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec("idle")), USERS.identify("alice"))
    jobs = DriftJobs(service, MemoryRunStore())
    idle = jobs.handle(
        {"task": "plan", "model": "idle", "end": FIRED.isoformat(), "scheduled": True}
    )
    assert idle["skipped"] == NOT_IN_PRODUCTION
    quiet = jobs.handle(
        {"task": "plan", "model": "churn", "end": FIRED.isoformat(), "scheduled": True}
    )
    assert quiet["skipped"] == NO_LOGS
    with pytest.raises(Exception, match="no production"):  # asked for by a person: an error
        jobs.handle({"task": "plan", "model": "idle", "end": FIRED.isoformat()})


class Throttling(DriftRuns):
    """Step Functions' token bucket as a fake: ``capacity`` starts, then throttled until
    refilled."""

    def __init__(self, capacity: int) -> None:
        self.tokens = capacity
        self.started: dict[str, datetime] = {}
        self.calls = 0

    def start(self, model: str, start: str, end: str, run_id: str) -> str:
        raise NotImplementedError

    def status(self, model: str, run_id: str) -> RunStatus:
        raise NotFound(run_id)

    def start_scheduled(self, model: str, scheduled_at: datetime) -> str:
        self.calls += 1
        if self.tokens == 0:
            raise DependencyUnavailable("throttled")
        self.tokens -= 1
        self.started.setdefault(model, scheduled_at)
        return model


def test_throttled_starts_go_back_to_the_queue_and_are_started_later() -> None:
    """The batch stops calling at the first throttle: that message and every later one are
    returned; delivered again after a refill, every model is started, none twice."""
    fake = Throttling(capacity=3)
    queue = [(f"id{i}", _message(f"model-{i:02d}")) for i in range(10)]
    failed = start_batch(fake, queue)
    assert failed == [f"id{i}" for i in range(3, 10)]
    assert sorted(fake.started) == ["model-00", "model-01", "model-02"]
    assert fake.calls == 4  # three starts and the one that was throttled
    fake.tokens = 100  # the bucket refills
    again = [m for m in queue if m[0] in failed]
    assert start_batch(fake, again) == []
    assert sorted(fake.started) == [f"model-{i:02d}" for i in range(10)]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"model": "churn"}),
        json.dumps({"model": "Bad Name", "scheduled_at": "2026-01-01T00:00:00Z"}),
        json.dumps({"model": "churn", "scheduled_at": "2026-01-01T00:00:00"}),
    ],
)
def test_a_malformed_firing_fails_to_the_dead_letter_queue(body: str) -> None:
    fake = Throttling(capacity=10)
    assert start_batch(fake, [("bad", body), ("good", _message("churn"))]) == ["bad"]
    assert list(fake.started) == ["churn"]


def test_a_firing_name_fits_step_functions_and_tells_firings_apart() -> None:
    from steward.adapters.aws.stepfunctions import scheduled_name

    longest = "m" + "x" * 62
    name = scheduled_name(longest, FIRED)
    assert len(name) <= 80 and name.endswith("-s20261127T1200")
    assert scheduled_name("churn", FIRED) != scheduled_name("churn", FIRED + timedelta(hours=1))
