"""EventBridge schedule expressions: ``rate(...)``, ``cron(...)`` (six fields, UTC), ``at(...)``.

Used to validate monitoring and retrain policies and, on the local platform, to fire
schedules (moto stores them but never fires them).

A model's drift schedule with a ``rate(...)`` fires on the model's own phase, so that ten
thousand hourly models are not due at the same moment: :func:`offset_of` places the model
in its period by a hash of its name (stable across redeploys, uniform over the period) and
:func:`spread_start` turns that into the schedule's ``StartDate`` (EventBridge Scheduler runs
a rate schedule from its start date on), which the local scheduler honours too. ``cron`` and
``at`` name wall-clock times on purpose and are left as written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from steward.domain.errors import ValidationFailed

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_HORIZON_DAYS = 366 * 8


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """One cron field: ``*``, ``?``, numbers or names, lists, ranges, ``/`` steps."""
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValidationFailed(f"bad step in cron field {text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValidationFailed(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValidationFailed(f"unsupported cron value {text!r} (L, W and # are not supported)")
    return int(text)


@dataclass(frozen=True)
class Schedule:
    expression: str
    every: timedelta | None = None
    at: datetime | None = None
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days_of_month: frozenset[int] | None = None  # None: any ("?" or "*")
    months: frozenset[int] = frozenset()
    days_of_week: frozenset[int] | None = None  # 1 = Sunday, as in EventBridge
    years: frozenset[int] | None = None

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first firing strictly after ``moment`` (UTC); ``None`` when there is none.

        A rate fires at ``anchor + k * every`` (the anchor is when the schedule was created).
        """
        moment = moment.astimezone(UTC)
        if self.every is not None:
            start = (anchor or moment).astimezone(UTC)
            if moment < start:
                return start + self.every
            k = (moment - start) // self.every + 1
            return start + k * self.every
        if self.at is not None:
            return self.at if self.at > moment else None
        return self._next_cron(moment)

    def _next_cron(self, moment: datetime) -> datetime | None:
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate > moment:
                            return candidate
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        if self.years is not None and day.year not in self.years:
            return False
        weekday = (day.isoweekday() % 7) + 1  # Sunday=1 ... Saturday=7
        dom_ok = self.days_of_month is None or day.day in self.days_of_month
        dow_ok = self.days_of_week is None or weekday in self.days_of_week
        return dom_ok and dow_ok


def parse_schedule(expression: str) -> Schedule:
    text = expression.strip()
    if match := _RATE.match(text):
        count, unit = int(match.group(1)), match.group(2).rstrip("s")
        if count < 1:
            raise ValidationFailed("a rate must be at least 1")
        if (count == 1) != (not match.group(2).endswith("s")):
            raise ValidationFailed(f"write rate(1 {unit}) or rate(N {unit}s)")
        return Schedule(text, every=timedelta(seconds=count * _UNIT[unit]))
    if match := _AT.match(text):
        return Schedule(text, at=datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC))
    if match := _CRON.match(text):
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ValidationFailed("cron() takes six fields: min hour day-of-month month dow year")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ValidationFailed("cron(): exactly one of day-of-month and day-of-week is '?'")
        return Schedule(
            text,
            minutes=_field(minute, 0, 59),
            hours=_field(hour, 0, 23),
            days_of_month=None if dom in ("?", "*") else _field(dom, 1, 31),
            months=_field(month, 1, 12, _MONTHS),
            days_of_week=None if dow in ("?", "*") else _field(dow, 1, 7, _DAYS),
            years=None if year == "*" else _field(year, 1970, 2199),
        )
    raise ValidationFailed(
        f"unsupported schedule {expression!r}: use rate(N unit), cron(6 fields) or at(...)"
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def offset_of(name: str, period: timedelta) -> timedelta:
    """Where ``name`` fires within ``period``: the first 8 bytes of its sha256 modulo the
    period in whole seconds (uniform to within 2**-40 for any period up to a year)."""
    seconds = max(int(period.total_seconds()), 1)
    digest = hashlib.sha256(name.encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % seconds)


def spread_start(expression: str, name: str, now: datetime) -> datetime | None:
    """The start date that puts a ``rate(...)`` schedule on ``name``'s phase: the first
    ``EPOCH + offset_of(name, period) + k * period`` strictly after ``now`` (EventBridge
    Scheduler refuses a start date more than 5 minutes past). ``None`` for cron and at."""
    every = parse_schedule(expression).every
    if every is None:
        return None
    phase = EPOCH + offset_of(name, every)
    k = (now.astimezone(UTC) - phase) // every + 1
    return phase + k * every
