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

from pydantic_core import to_jsonable_python

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
    trainer: dict[str, Any] | None = None
    for event in events:
        if event.target != model.name or not event.after:
            continue
        created = created or event.action == "model.created"
        if event.action == "trainer.set":
            trainer = trainer_at(model, event)
            continue
        state.update({k: v for k, v in event.after.items() if k in fields})
    if not created:  # a trail older than this format: the record as it is now
        return _without_now(model.model_dump(mode="json"))
    state.pop("trainer", None)
    replayed = Model.model_validate(state).model_dump(mode="json")
    return _without_now({**replayed, "trainer": trainer})


def _without_now(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in MODEL_NOW_ONLY}


def trainer_at(model: Model, event: AuditEvent) -> dict[str, Any]:
    """The model's trainer as a ``trainer.set`` event set it: the source's sha256 and the
    settings, who set it and when; where its source is stored (uri, S3 version, size) from
    the event, or from the current record when that still holds the same source."""
    after = dict(event.after or {})
    current = model.trainer
    stored: dict[str, Any] = {}
    if current is not None and current.sha256 == after.get("sha256"):
        stored = {"uri": current.uri, "s3_version_id": current.s3_version_id, "size": current.size}
    record = {**stored, **after, "updated_by": event.actor, "updated_at": event.at}
    values: dict[str, Any] = to_jsonable_python(record)
    return values


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
    held: dict[str, Any] | None = None  # the checks of a validation held for its gates
    for event in events:
        if event.target != target or not event.after:
            continue
        if "status" in event.after:
            record["status"] = event.after["status"]
        if event.action == "version.checked":
            held = dict(event.after)
    if record["status"] == "VALIDATING" and record["validation"] and held is not None:
        # Validated and held for its gates, which concluded after `at` on the same record
        # (its `at` stays the checks' time): the validation as it was held.
        record["validation"] = {**record["validation"], "ok": True, "checks": held, "gates": None}
    return {k: v for k, v in record.items() if k not in VERSION_NOW_ONLY}


def registered_by(versions: Iterable[ModelVersion], at: datetime) -> Iterator[ModelVersion]:
    return (v for v in versions if v.created_at <= at)
