"""Where the logs live: one hive partition per kind, model and UTC hour,
``<kind>/model=<name>/date=YYYY-MM-DD/hour=HH/``. The log writer lands its files there and
every reader lists only the hours its window touches (partition pruning).

Pure (no pyarrow): the workflow function that reads logs for canaries ships without it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta


def hour_of(ts: str | datetime) -> datetime:
    """The UTC hour of a time; a time without a zone is UTC (as the logs' ``ts`` column)."""
    at = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every hour that overlaps ``[start, end)``."""
    hour = hour_of(start)
    while hour < end:
        yield hour
        hour += timedelta(hours=1)


def prefix(kind: str, model: str, hour: datetime) -> str:
    """The folder of one hour's files (``kind``: predictions or feedback)."""
    return f"{kind}/model={model}/date={hour:%Y-%m-%d}/hour={hour:%H}/"


def prefixes(kind: str, model: str, start: datetime, end: datetime) -> list[str]:
    """The folders a window touches."""
    return [prefix(kind, model, hour) for hour in hours(start, end)]
