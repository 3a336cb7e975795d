from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from steward.adapters.memory import (
    MemoryArtifactStore,
    MemoryAuditLog,
    MemoryModelStore,
    MemoryWorkflowEngine,
)
from steward.domain.identity import UserDirectory
from steward.registry.service import Registry


class StepClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def registry() -> Registry:
    return Registry(
        MemoryModelStore(),
        MemoryArtifactStore(),
        MemoryAuditLog(),
        MemoryWorkflowEngine(),
        clock=StepClock(),
    )


@pytest.fixture
def users() -> UserDirectory:
    return UserDirectory()
