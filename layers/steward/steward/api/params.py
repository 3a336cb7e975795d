"""Query-string values that more than one route reads."""

from __future__ import annotations

from datetime import UTC, datetime

from steward.domain.errors import ValidationFailed


def query_time(text: str | None, name: str) -> datetime | None:
    """An ISO 8601 query parameter as an aware time (UTC when it names no zone); a 422
    naming the parameter when it is not one."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
