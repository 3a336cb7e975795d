"""The portfolio's drift runs over a period (issue 20), on fakes: each model's latest run
evaluated, skipped (no logs, nothing in production, not due) or failed, or missed when it
was due and no run is recorded; bounded to one inventory page and one batch read."""

from __future__ import annotations

from datetime import timedelta

from steward.adapters.memory import MemoryReportStore, MemoryRunStore
from steward.domain.models import ModelSpec
from steward.drift.portfolio import due, portfolio
from steward.drift.runs import DriftJobs
from steward.drift.service import DriftService
from steward.drift.starts import start_batch
from steward.registry.service import Registry
from tests.factories import model_spec
from tests.unit.test_drift_service import T0, USERS, service  # noqa: F401  (fixture)
from tests.unit.test_drift_starts import FIRED, _log, _message, _runner

SINCE, UNTIL = T0 + timedelta(hours=2), T0 + timedelta(hours=4)


def _in_production(service: DriftService, name: str, *, profile: bool = True) -> None:  # noqa: F811
    """Another model serving churn's approved version 1 (its profile dropped: runs fail)."""
    store = service.store
    version = store.get_version("churn", 1)
    store.add_version(
        version.model_copy(update={"name": name, "profile": version.profile if profile else None})
    )
    model = store.get_model(name)
    store.save_model(model.model_copy(update={"aliases": {"production": 1}}), model.rev)


def _not_due_name(schedule: str) -> str:
    """A model name whose daily phase falls outside the period (found, not assumed)."""
    from steward.domain.models import Model

    for i in range(1000):
        spec = model_spec(f"daily-{i}", monitoring={"schedule": schedule, "window_hours": 24})
        model = Model(**spec, created_by="alice", created_at=T0, updated_at=T0)
        if not due(model, SINCE, UNTIL):
            return model.name
    raise AssertionError("no name found")


def test_each_model_shows_how_its_latest_run_in_the_period_ended(
    service: DriftService,  # noqa: F811
    registry: Registry,
) -> None:
    alice = USERS.identify("alice")
    daily = _not_due_name("rate(1 day)")
    for name in ("idle", "quiet", "broken", "waiting", daily):
        monitoring = {"schedule": "rate(1 day)" if name == daily else "rate(1 hour)"}
        registry.create_model(
            ModelSpec.model_validate(model_spec(name, monitoring=monitoring)), alice
        )
    for name in ("quiet", "waiting"):
        _in_production(service, name)
    _in_production(service, "broken", profile=False)
    _log(service, 1)  # churn's
    logs = service.logs
    logs.files[  # type: ignore[attr-defined]
        "predictions/model=broken/date=2026-11-27/hour=11/f.parquet"
    ] = logs.files[next(iter(logs.files))]  # type: ignore[attr-defined]
    runner = _runner(service)
    fired = [(m, _message(m)) for m in ("churn", "idle", "quiet", "broken")]
    assert start_batch(runner, fired) == []  # the runs' own failures are not the starter's

    view = portfolio(service.store, service.reports, SINCE, UNTIL, limit=100)
    by_model = {i.model: i for i in view.items}
    assert by_model["churn"].outcome == "evaluated" and by_model["churn"].report_id
    assert by_model["churn"].drift_detected is False
    assert (by_model["idle"].outcome, by_model["idle"].reason) == ("skipped", "not_in_production")
    assert (by_model["quiet"].outcome, by_model["quiet"].reason) == ("skipped", "no_logs")
    assert (by_model["broken"].outcome, by_model["broken"].reason) == ("failed", "DriftRunFailed")
    assert (by_model[daily].outcome, by_model[daily].reason) == ("skipped", "not_due")
    assert (by_model["waiting"].outcome, by_model["waiting"].reason) == ("missed", "not_run")
    assert view.counts == {"evaluated": 1, "skipped": 3, "failed": 1, "missed": 1}

    # a later period: nothing has run in it yet; the hourly models are missed
    later = portfolio(
        service.store, service.reports, UNTIL + timedelta(hours=1), UNTIL + timedelta(hours=3), 100
    )
    assert {i.model for i in later.items if i.outcome == "missed"} >= {"churn", "idle", "broken"}


def test_the_view_pages_with_the_inventory_and_reads_runs_once_a_page(
    service: DriftService,  # noqa: F811
    registry: Registry,
) -> None:
    alice = USERS.identify("alice")
    for i in range(7):
        registry.create_model(ModelSpec.model_validate(model_spec(f"m-{i}")), alice)
    reads: list[list[str]] = []
    reports = service.reports
    assert isinstance(reports, MemoryReportStore)
    original = reports.latest_runs

    def counted(models: list[str]) -> dict[str, dict[str, object]]:
        reads.append(models)
        return original(models)

    reports.latest_runs = counted  # type: ignore[method-assign]
    seen, token = [], None
    while True:
        page = portfolio(service.store, reports, SINCE, UNTIL, limit=3, token=token)
        seen += [i.model for i in page.items]
        token = page.next_token
        if token is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 8  # churn and m-0..6
    assert all(len(r) <= 3 for r in reads) and len(reads) == 3


def test_a_bad_period_is_refused(service: DriftService) -> None:  # noqa: F811
    import pytest

    from steward.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        portfolio(service.store, service.reports, UNTIL, SINCE, 10)
    with pytest.raises(ValidationFailed):
        portfolio(service.store, service.reports, SINCE - timedelta(days=40), UNTIL, 10)
    assert DriftJobs(service, MemoryRunStore()).service is service
    assert FIRED < UNTIL
