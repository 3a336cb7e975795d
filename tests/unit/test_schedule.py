from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.domain.errors import ValidationFailed
from steward.domain.schedule import parse_schedule

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 hour)", datetime(2026, 11, 27, 4, 0, tzinfo=UTC)),
        ("rate(5 minutes)", datetime(2026, 11, 27, 3, 35, tzinfo=UTC)),
        ("cron(0 12 * * ? *)", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        ("cron(15 10 ? * MON-FRI *)", datetime(2026, 11, 27, 10, 15, tzinfo=UTC)),
        ("cron(0 8 ? * SAT *)", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2026, 11, 27, 3, 45, tzinfo=UTC)),
        ("cron(0 0 1 JAN ? 2027)", datetime(2027, 1, 1, tzinfo=UTC)),
        ("at(2026-12-01T00:00:00)", datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_next_firing(expression: str, expected: datetime) -> None:
    anchor = datetime(2026, 11, 27, tzinfo=UTC)
    now = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # a Friday
    assert parse_schedule(expression).next_after(now, anchor) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 hours)",
        "rate(2 hour)",
        "rate(1 hours)",
        "cron(0 12 * * *)",
        "cron(0 12 * * * *)",
        "cron(61 * * * ? *)",
        "cron(0 12 L * ? *)",
        "every hour",
        "cron(0 12 ? * 1#2 *)",
    ],
)
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_schedule(expression)


@given(moments, st.integers(1, 500), st.sampled_from(["minute", "hour", "day"]))
def test_rate_fires_on_its_grid_strictly_after(moment: datetime, n: int, unit: str) -> None:
    expression = f"rate({n} {unit}{'s' if n > 1 else ''})"
    anchor = datetime(2000, 1, 1, tzinfo=UTC)
    nxt = parse_schedule(expression).next_after(moment, anchor)
    assert nxt is not None and nxt > moment
    period = parse_schedule(expression).every
    assert period is not None
    assert (nxt - anchor) % period == timedelta(0)
    assert nxt - period <= moment


@given(
    moments,
    st.sets(st.integers(0, 59), min_size=1, max_size=5),
    st.sets(st.integers(0, 23), min_size=1, max_size=5),
    st.sets(st.integers(1, 7), min_size=1, max_size=7),
)
def test_cron_next_matches_fields_and_nothing_earlier(
    moment: datetime, minutes: set[int], hours: set[int], days: set[int]
) -> None:
    expression = (
        f"cron({','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} "
        f"? * {','.join(map(str, sorted(days)))} *)"
    )
    nxt = parse_schedule(expression).next_after(moment)
    assert nxt is not None and nxt > moment
    assert nxt.minute in minutes and nxt.hour in hours
    assert (nxt.isoweekday() % 7) + 1 in days
    # nothing matches in between (checked at minute resolution over the gap, bounded)
    probe = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(min(int((nxt - probe).total_seconds() // 60), 3000)):
        assert not (
            probe.minute in minutes and probe.hour in hours and (probe.isoweekday() % 7) + 1 in days
        )
        probe += timedelta(minutes=1)
