"""The drift service on fakes: partition pruning, the stored report, the model's latest
drift, and DriftDetected published only when the policy says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from steward.adapters.memory import MemoryLogFiles
from steward.domain.errors import Conflict, ValidationFailed
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.drift.service import DriftService
from steward.registry.service import Registry
from tests.factories import model_spec, reference_rows, register_body
from tests.factories import parquet_log as _log
from tests.unit.conftest import drift_service

USERS = UserDirectory()
T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


@pytest.fixture
def service(registry: Registry) -> DriftService:
    body = register_body(reference_data={"instances": reference_rows(2000)})
    return drift_service(registry, model_spec(), body, T0 + timedelta(hours=3))


def test_drift_is_reported_stored_remembered_and_published(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    calm = reference_rows(2000, seed=9)
    shifted = [{**r, "tenure": r["tenure"] + 40} for r in calm]
    logs.files["predictions/model=churn/date=2026-11-27/hour=10/a.parquet"] = _log(calm, T0)
    logs.files["predictions/model=churn/date=2026-11-27/hour=12/b.parquet"] = _log(
        shifted, T0 + timedelta(hours=2)
    )
    logs.files["predictions/model=other/date=2026-11-27/hour=10/c.parquet"] = b"never read"
    quiet = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    assert quiet.rows == 2000 and not quiet.drift_detected
    assert service.events.events == []  # type: ignore[attr-defined]
    loud = service.evaluate("churn")  # default window: the policy's 24 h up to now
    assert loud.rows == 4000 and "tenure" in loud.drifted_features
    assert service.events.events[-1][0] == "DriftDetected"  # type: ignore[attr-defined]
    assert service.events.events[-1][1]["drifted_features"] == loud.drifted_features  # type: ignore[attr-defined]
    assert service.store.get_model("churn").latest_drift["report_id"] == loud.report_id  # type: ignore[index]
    assert json.loads(service.get("churn", loud.report_id))["report_id"] == loud.report_id
    assert "<svg" in service.get("churn", loud.report_id, "html")
    assert [s["report_id"] for s in service.list("churn").items] == [
        loud.report_id,
        quiet.report_id,
    ]


def test_drift_detected_is_published_after_the_model_keeps_the_report(
    service: DriftService,
) -> None:
    """Whoever reacts to DriftDetected (the retrain, a person reading the model) finds the
    report as the model's latest drift: the event goes out last."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    shifted = [{**r, "tenure": r["tenure"] + 40} for r in reference_rows(2000, seed=9)]
    logs.files["predictions/model=churn/date=2026-11-27/hour=12/b.parquet"] = _log(
        shifted, T0 + timedelta(hours=2)
    )
    seen: list[object] = []
    store, publish = service.store, service.events.publish

    def publish_and_look(detail_type: str, detail: dict[str, object]) -> None:
        seen.append((store.get_model("churn").latest_drift or {}).get("report_id"))
        publish(detail_type, detail)

    service.events.publish = publish_and_look  # type: ignore[method-assign]
    loud = service.evaluate("churn")
    assert loud.drift_detected and seen == [loud.report_id]


def test_bad_windows_and_unserved_models(service: DriftService, registry: Registry) -> None:
    with pytest.raises(ValidationFailed):
        service.evaluate("churn", T0, T0 - timedelta(hours=1))
    registry.create_model(ModelSpec.model_validate(model_spec("idle")), USERS.identify("alice"))
    with pytest.raises(Conflict, match="no production"):
        service.evaluate("idle")


def test_each_report_is_audited_for_the_practice_kpis(
    service: DriftService, registry: Registry
) -> None:
    service.audit = registry.audit_log
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    shifted = [{**r, "tenure": r["tenure"] + 40} for r in reference_rows(2000, seed=9)]
    logs.files["predictions/model=churn/date=2026-11-27/hour=12/b.parquet"] = _log(
        shifted, T0 + timedelta(hours=2)
    )
    loud = service.evaluate("churn")
    head = registry.audit_log.head("churn")
    assert head is not None and head.action == "drift.reported" and head.target == "churn/1"
    assert head.after == {
        "report_id": loud.report_id,
        "version": 1,
        "drift_detected": True,
        "labelled": False,
        "degraded": False,
    }
