"""Response shapes of the API, where they differ from the stored records."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from steward.domain.audit import AuditEvent, ChainReport
from steward.domain.models import Model, ModelVersion


class ModelList(BaseModel):
    items: list[Model]
    next_token: str | None = None


class VersionView(ModelVersion):
    """A version as the API shows it: everything but the (large) reference profile."""

    profile: dict[str, Any] | None = None

    @classmethod
    def of(cls, version: ModelVersion) -> VersionView:
        return cls.model_validate(version.model_dump(exclude={"profile"}))


class VersionList(BaseModel):
    items: list[VersionView]
    next_token: str | None = None


class AuditList(BaseModel):
    items: list[AuditEvent]
    next_token: str | None = None


class AuditVerification(BaseModel):
    ok: bool
    streams: list[ChainReport]
