from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from steward.adapters.memory import (
    MemoryArtifactStore,
    MemoryAuditCopy,
    MemoryAuditLog,
    MemoryEventBus,
    MemoryLogFiles,
    MemoryModelStore,
    MemoryReportStore,
    MemoryWorkflowEngine,
)
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.drift.service import DriftService
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry


class StepClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def plain_registry() -> Registry:
    """On fakes, with no write-once audit copy (the evidence pack's test and bench)."""
    return Registry(
        MemoryModelStore(),
        MemoryArtifactStore(),
        MemoryAuditLog(),
        MemoryWorkflowEngine(),
        clock=StepClock(),
    )


@pytest.fixture
def registry() -> Registry:
    """On fakes; every audit event is also archived in a write-once copy, as the audit
    table's stream does in AWS."""
    copy = MemoryAuditCopy()
    return Registry(
        MemoryModelStore(),
        MemoryArtifactStore(),
        MemoryAuditLog(copy),
        MemoryWorkflowEngine(),
        clock=StepClock(),
        audit_copy=copy,
    )


@pytest.fixture
def users() -> UserDirectory:
    return UserDirectory()


def drift_service(
    registry: Registry, spec: dict[str, Any], body: dict[str, Any], now: datetime
) -> DriftService:
    """A model (``spec``) whose version 1 (``body``) is validated, approved and in
    production, and its drift service on fakes (the registry's artifacts: attribution
    drift), the clock ticking a second per call from ``now``."""
    users, name = UserDirectory(), spec["name"]
    registry.create_model(ModelSpec.model_validate(spec), users.identify("alice"))
    registry.register_version(name, RegisterVersion.model_validate(body), users.identify("alice"))
    registry.validate(name, 1)
    registry.decide(name, 1, Decision(decision="approve", comment="ok"), users.identify("bob"))
    registry.set_alias(name, "production", 1, users.identify("alice"))
    ticks = iter(range(10_000))
    return DriftService(
        registry.store,
        MemoryLogFiles(),
        MemoryReportStore(),
        MemoryEventBus(),
        clock=lambda: now + timedelta(seconds=next(ticks)),
        artifacts=registry.artifacts,
    )
