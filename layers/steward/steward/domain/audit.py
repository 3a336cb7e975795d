"""The audit trail: append-only events, hash-chained per stream (one stream per model).

Each event's hash covers its content and the previous event's hash, so changing, removing
or reordering any stored event breaks every hash after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from steward.auditchain import GENESIS, digest

__all__ = ["GENESIS", "AuditEvent", "ChainReport", "next_event", "verify_chain"]


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    stream: str
    seq: int = Field(ge=1)
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str = ""
    at: datetime
    prev_hash: str = GENESIS
    hash: str = ""

    def content_hash(self) -> str:
        return digest(self.model_dump(mode="json", exclude={"hash"}))

    def sealed(self) -> AuditEvent:
        return self.model_copy(update={"hash": self.content_hash()})


class ChainReport(BaseModel):
    stream: str
    events: int
    ok: bool
    broken_at: int | None = None
    problem: str | None = None


def next_event(
    head: AuditEvent | None,
    *,
    stream: str,
    actor: str,
    action: str,
    target: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """The sealed event that follows ``head`` in ``stream``."""
    return AuditEvent(
        stream=stream,
        seq=(head.seq + 1) if head else 1,
        actor=actor,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
        at=at,
        prev_hash=head.hash if head else GENESIS,
    ).sealed()


def verify_chain(
    stream: str, events: Iterable[AuditEvent], checkpoint: tuple[int, str] | None = None
) -> ChainReport:
    """Check sequence numbers, links and hashes of one stream's events, in order.

    A chain alone cannot reveal that its newest events were cut off: ``checkpoint``, a
    ``(seq, hash)`` recorded earlier (by the scheduled verification), must still be in it.
    """
    prev_hash, expected_seq, count = GENESIS, 1, 0
    seen_checkpoint = checkpoint is None
    for event in events:
        count += 1
        problem = None
        if event.stream != stream:
            problem = "event belongs to another stream"
        elif event.seq != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {event.seq}"
        elif event.prev_hash != prev_hash:
            problem = "link to the previous event is broken"
        elif event.hash != event.content_hash():
            problem = "event content does not match its hash"
        if problem:
            return ChainReport(
                stream=stream, events=count, ok=False, broken_at=event.seq, problem=problem
            )
        if checkpoint is not None and event.seq == checkpoint[0]:
            if event.hash != checkpoint[1]:
                return ChainReport(
                    stream=stream,
                    events=count,
                    ok=False,
                    broken_at=event.seq,
                    problem="event differs from the recorded checkpoint",
                )
            seen_checkpoint = True
        prev_hash, expected_seq = event.hash, expected_seq + 1
    if not seen_checkpoint:
        return ChainReport(
            stream=stream, events=count, ok=False, problem="events after a checkpoint are missing"
        )
    return ChainReport(stream=stream, events=count, ok=True)
