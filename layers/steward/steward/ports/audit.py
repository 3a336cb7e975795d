"""AuditLog: append-only storage of hash-chained audit events; AuditCopy: the write-once
copy of each event, out of reach of whoever can write the log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from steward.domain.audit import AuditEvent, next_event
from steward.domain.models import Page
from steward.retry import on_conflict

COPY_PREFIX = "audit/"


class AuditLog(ABC):
    @abstractmethod
    def head(self, stream: str) -> AuditEvent | None:
        """The last event of ``stream``."""

    @abstractmethod
    def put(self, event: AuditEvent) -> None:
        """Insert; :class:`Conflict` if ``(stream, seq)`` exists. Never overwrites."""

    @abstractmethod
    def events(self, stream: str, limit: int, token: str | None) -> Page[AuditEvent]:
        """Oldest first."""

    @abstractmethod
    def recent(self, limit: int, token: str | None) -> Page[AuditEvent]:
        """Every stream, newest first."""

    @abstractmethod
    def streams(self) -> list[str]: ...

    def all_events(self, stream: str) -> Iterator[AuditEvent]:
        token: str | None = None
        while True:
            page = self.events(stream, 500, token)
            yield from page.items
            token = page.next_token
            if not token:
                return

    def by_stream(self) -> dict[str, list[AuditEvent]]:
        """Every event of every stream, oldest first within each, read in one pass over the
        time index (pages of 1,000 events) rather than one query per stream: the portfolio
        KPIs read the whole trail, and at 10,000 models that is 10,000 queries saved."""
        found: dict[str, list[AuditEvent]] = {}
        token: str | None = None
        while True:
            page = self.recent(1000, token)
            for event in page.items:
                found.setdefault(event.stream, []).append(event)
            token = page.next_token
            if not token:
                break
        for events in found.values():
            events.sort(key=lambda e: e.seq)
        return found

    def append(
        self,
        *,
        stream: str,
        actor: str,
        action: str,
        target: str,
        clock: Callable[[], datetime],
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str = "",
    ) -> AuditEvent:
        """Chain a new event after the stream's head; retried when a concurrent writer wins."""

        def attempt(_: int) -> AuditEvent:
            event = next_event(
                self.head(stream),
                stream=stream,
                actor=actor,
                action=action,
                target=target,
                at=clock(),
                before=before,
                after=after,
                reason=reason,
            )
            self.put(event)  # Conflict: another writer took this sequence number
            return event

        return on_conflict(attempt, f"appending to the audit trail of {stream}")


def copy_key(event: AuditEvent) -> str:
    """``audit/<stream>/<seq:012d>/<sha256 of the content>.json``: the key alone tells which
    event a copy is, so verification lists keys and reads no object."""
    return f"{COPY_PREFIX}{event.stream}/{event.seq:012d}/{event.content_hash()}.json"


def parse_copy_key(key: str) -> tuple[str, int, str] | None:
    """``(stream, seq, digest)`` of a copy's key; None for anything else."""
    parts = key.removeprefix(COPY_PREFIX).split("/")
    if not key.startswith(COPY_PREFIX) or len(parts) != 3 or not parts[2].endswith(".json"):
        return None
    stream, seq, name = parts
    return (stream, int(seq), name.removesuffix(".json")) if seq.isdigit() else None


class AuditCopy(ABC):
    """Every audit event, written once where no Steward role can delete or overwrite it."""

    @abstractmethod
    def archive(self, event: AuditEvent) -> bool:
        """Write the event's copy; False if that very event was copied already."""

    @abstractmethod
    def digests(self, stream: str) -> dict[int, set[str]]:
        """``seq -> content digests`` of every copy of the stream's events (one each,
        unless someone inserted a second event under a sequence number)."""

    @abstractmethod
    def streams(self) -> list[str]: ...
