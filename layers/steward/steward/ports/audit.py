"""AuditLog: append-only storage of hash-chained audit events."""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from steward.domain.audit import AuditEvent, next_event
from steward.domain.errors import Conflict
from steward.domain.models import Page

APPEND_ATTEMPTS = 50


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
        for attempt in range(APPEND_ATTEMPTS):
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
            try:
                self.put(event)
                return event
            except Conflict:  # another writer took this sequence number: chain after it
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311
        raise Conflict("the audit trail is busy; retry")
