from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.domain.errors import ValidationFailed
from steward.domain.schedule import EPOCH, offset_of, parse_schedule, spread_start

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


# -- each model's phase in its period (issue 20: no thundering herd at the top of the hour) --

names = st.from_regex(r"[a-z][a-z0-9-]{2,62}", fullmatch=True)
periods = st.integers(1, 366 * 86400).map(lambda s: timedelta(seconds=s))


@given(names, periods)
def test_an_offset_lies_within_its_period_and_depends_only_on_the_name(
    name: str, period: timedelta
) -> None:
    offset = offset_of(name, period)
    assert timedelta(0) <= offset < period
    assert offset == offset_of(name, period)  # the same name, the same place: every redeploy
    assert offset.microseconds == 0  # whole seconds


@pytest.mark.parametrize("period", [timedelta(hours=1), timedelta(days=1), timedelta(minutes=5)])
def test_offsets_of_ten_thousand_models_are_uniform_over_the_period(period: timedelta) -> None:
    """10,000 names in 60 equal slices of the period: a chi-square far under the 0.1 %
    critical value for 59 degrees of freedom (98.3), and no slice holds more than 1.5x its
    share, whereas without offsets every model is in slice 0."""
    slices = 60
    counts = [0] * slices
    for i in range(10_000):
        offset = offset_of(f"model-{i:05d}", period)
        counts[int(offset / period * slices)] += 1
    expected = 10_000 / slices
    chi_square = sum((c - expected) ** 2 / expected for c in counts)
    assert chi_square < 98.3, counts
    assert max(counts) < 1.5 * expected


@given(
    names,
    moments,
    st.sampled_from(
        ["rate(5 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(7 days)"]
    ),
)
def test_a_rate_schedule_starts_on_the_models_phase_within_one_period(
    name: str, now: datetime, expression: str
) -> None:
    every = parse_schedule(expression).every
    assert every is not None
    start = spread_start(expression, name, now)
    assert start is not None and now < start <= now + every
    assert (start - EPOCH - offset_of(name, every)) % every == timedelta(0)
    # redeployed later: another start date, the same phase
    later = spread_start(expression, name, now + timedelta(days=3, seconds=17))
    assert later is not None and (later - start) % every == timedelta(0)


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "at(2030-01-01T00:00:00)"])
def test_cron_and_at_name_their_times_and_are_not_moved(expression: str) -> None:
    assert spread_start(expression, "churn", datetime(2026, 12, 2, tzinfo=UTC)) is None
