"""The audit trail: append-only events, hash-chained per stream (one stream per model).

Each event's hash covers its content and the previous event's hash, so changing, removing
or reordering any stored event breaks every hash after it. The chain is unkeyed: whoever
can write the table can cut off its newest events, or rewrite them with recomputed hashes,
and the chain still holds. What defeats that is the write-once copy of every event (S3
Object Lock in compliance mode, written from the table's stream): :func:`compare_with_copy`
reports every event missing from the table, altered in it, or absent from the copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from steward.auditchain import GENESIS, digest

__all__ = [
    "GENESIS",
    "AuditEvent",
    "ChainReport",
    "compare_with_copy",
    "next_event",
    "verify_chain",
]
LISTED = 100  # sequence numbers listed per kind of fault in a report (the first ones)


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
    """One stream's verification. ``broken_at`` is the first point of divergence (the
    lowest sequence number at fault); the lists name every event at fault, by kind."""

    stream: str
    events: int
    ok: bool
    broken_at: int | None = None
    problem: str | None = None
    copied: int | None = None  # events in the write-once copy; None: not compared
    pending: int = 0  # newest events not copied yet (younger than the copy's grace)
    missing: list[int] = Field(default_factory=list)  # copied, gone from the table
    altered: list[int] = Field(default_factory=list)  # in both, different content
    uncopied: list[int] = Field(default_factory=list)  # in the table only, past the grace


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


def verify_chain(stream: str, events: Iterable[AuditEvent]) -> ChainReport:
    """Check sequence numbers, links and hashes of one stream's events, in order.

    A chain alone cannot reveal that its newest events were cut off or rewritten with
    recomputed hashes: :func:`compare_with_copy` can.
    """
    prev_hash, expected_seq, count = GENESIS, 1, 0
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
                stream=stream, events=count, ok=False, broken_at=expected_seq, problem=problem
            )
        prev_hash, expected_seq = event.hash, expected_seq + 1
    return ChainReport(stream=stream, events=count, ok=True)


def compare_with_copy(
    stream: str,
    events: Iterable[AuditEvent],
    copied: Mapping[int, Set[str]],
    *,
    now: datetime,
    grace: timedelta,
) -> ChainReport:
    """The chain, and the table against the write-once copy (``seq -> content digests``).

    An event copied but gone from the table is *missing* (truncation, deletion); one whose
    content digest differs from its copy, or whose sequence number has several copies, is
    *altered* (a rewrite, recomputed hashes or not); one in the table only is *uncopied*
    once older than ``grace`` (the stream's delivery delay), else *pending*.
    """
    table = list(events)
    chain = verify_chain(stream, table)
    by_seq = {e.seq: e for e in table}
    missing, altered, uncopied, pending = [], [], [], 0
    for seq in sorted(set(by_seq) | set(copied)):
        event, digests = by_seq.get(seq), copied.get(seq, set())
        if event is None:
            missing.append(seq)
        elif len(digests) > 1 or (digests and event.content_hash() not in digests):
            altered.append(seq)
        elif not digests:
            if now - event.at > grace:
                uncopied.append(seq)
            else:
                pending += 1
    faults = [
        (seq, what)
        for seq, what in (
            (chain.broken_at, chain.problem),  # the more precise account of a tie
            (missing[0] if missing else None, "copied event missing from the table"),
            (altered[0] if altered else None, "event differs from its write-once copy"),
            (uncopied[0] if uncopied else None, "event never reached the write-once copy"),
        )
        if seq is not None
    ]
    first = min(faults, key=lambda f: f[0]) if faults else None
    return ChainReport(
        stream=stream,
        events=len(table),
        ok=first is None and chain.ok,
        broken_at=first[0] if first else None,
        problem=first[1] if first else chain.problem,
        copied=len(copied),
        pending=pending,
        missing=missing[:LISTED],
        altered=altered[:LISTED],
        uncopied=uncopied[:LISTED],
    )
