"""Replacing a model's policies (PATCH /models/{name}): audited, role-checked, and the
model's drift schedule created with the model and following its monitoring policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from steward.adapters.memory import MemorySchedules
from steward.domain.errors import Forbidden, ValidationFailed
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec, MonitoringPolicy
from steward.registry.requests import ModelUpdate
from steward.registry.service import Registry
from tests.factories import model_spec


def test_schedule_follows_the_monitoring_policy(registry: Registry, users: UserDirectory) -> None:
    schedules = MemorySchedules()
    registry.schedules = schedules
    alice = users.identify("alice")
    registry.create_model(ModelSpec.model_validate(model_spec()), alice)
    assert schedules.schedules == {"churn": "rate(1 hour)"}

    update = ModelUpdate.model_validate(
        {"monitoring": {"schedule": "cron(0 6 * * ? *)", "window_hours": 48}, "reason": "daily"}
    )
    model = registry.update_model("churn", update, alice)
    assert model.monitoring.window_hours == 48 and model.rev == 1
    assert model.deployment.canary_percent == 10  # untouched policies stay
    assert schedules.schedules == {"churn": "cron(0 6 * * ? *)"}
    event = list(registry.audit_log.all_events("churn"))[-1]
    assert event.action == "model.updated" and event.reason == "daily"
    before = MonitoringPolicy.model_validate(model_spec()["monitoring"]).model_dump(mode="json")
    assert event.before == {"monitoring": before}
    assert event.after["monitoring"]["schedule"] == "cron(0 6 * * ? *)"

    retrain = ModelUpdate.model_validate({"retrain": {"on_drift": False}})
    registry.update_model("churn", retrain, users.identify("bob"))
    assert schedules.schedules == {"churn": "cron(0 6 * * ? *)"}
    with pytest.raises(Forbidden):
        registry.update_model("churn", retrain, users.identify("viewer"))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"monitoring": {"schedule": "every hour"}},
        {"monitoring": {"window_hours": 0}},
        {"name": "renamed"},
    ],
)
def test_bad_updates_are_refused_at_the_boundary(body: dict[str, object]) -> None:
    with pytest.raises((ValidationError, ValidationFailed)):
        ModelUpdate.model_validate(body)
