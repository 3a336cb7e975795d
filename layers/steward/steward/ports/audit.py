"""AuditLog: append-only storage of hash-chained audit events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from steward.domain.audit import AuditEvent, next_event
from steward.domain.models import Page
from steward.retry import on_conflict


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
