"""The registry's records as they stood at a past instant, replayed from the audit trail.

The registry stores the current state; every change to a model is audited with the values
it set (``after``), its creation with the whole specification, and every change of a
version's status with the status it moved to. Replaying the audit slice up to ``at``
gives the state at ``at``. Approvals and validation carry their own times and are kept
only when they happened by ``at``. What no event records (the latest drift summary, the
store's revision) is left out rather than shown as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from steward.domain.audit import AuditEvent
from steward.domain.models import Model, ModelVersion

# Fields of a model record that say "now" (no event records them): never exported.
MODEL_NOW_ONLY = ("updated_at", "rev", "latest_drift", "latest_version")
VERSION_NOW_ONLY = ("updated_at",)


def split(events: Iterable[AuditEvent], at: datetime) -> tuple[list[AuditEvent], list[AuditEvent]]:
    """The chain's prefix up to ``at`` (stopping at the first later event, so the slice is
    a chain a verifier can check from the genesis), and the events after it."""
    kept: list[AuditEvent] = []
    later: list[AuditEvent] = []
    for event in events:
        (later if later or event.at > at else kept).append(event)
    return kept, later


def model_at(model: Model, events: list[AuditEvent]) -> dict[str, Any]:
    """The model record (JSON values) after the audit slice ``events``: its creation's
    specification, then every audited change of its fields, in order."""
    fields = set(Model.model_fields)
    state: dict[str, Any] = {
        "name": model.name,
        "created_by": model.created_by,
        "created_at": model.created_at,
        "updated_at": model.created_at,
    }
    created = False
    for event in events:
        if event.target != model.name or not event.after:
            continue
        created = created or event.action == "model.created"
        state.update({k: v for k, v in event.after.items() if k in fields})
    if not created:  # a trail older than this format: the record as it is now
        state = model.model_dump(mode="json")
    replayed = Model.model_validate(state).model_dump(mode="json")
    return {k: v for k, v in replayed.items() if k not in MODEL_NOW_ONLY}


def version_at(version: ModelVersion, at: datetime, events: list[AuditEvent]) -> dict[str, Any]:
    """A version record (JSON values) at ``at``: the last status the slice moved it to, the
    approvals decided by then, its validation (gates, reference profile) if concluded."""
    record = version.model_dump(mode="json")
    record["approvals"] = [a.model_dump(mode="json") for a in version.approvals if a.at <= at]
    validation = version.validation
    if validation is not None and validation.at is not None and validation.at > at:
        record["validation"] = None
        record["profile"] = None
    target = f"{version.name}/{version.version}"
    for event in events:
        if event.target == target and event.after and "status" in event.after:
            record["status"] = event.after["status"]
    return {k: v for k, v in record.items() if k not in VERSION_NOW_ONLY}


def registered_by(versions: Iterable[ModelVersion], at: datetime) -> Iterator[ModelVersion]:
    return (v for v in versions if v.created_at <= at)
