"""The log layout shared by the writer and every reader: a record written at time ``ts`` lands
in a folder that any window holding ``ts`` lists, and a window lists no other hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from steward.domain.partitions import hour_of, hours, prefix, prefixes
from steward.scoring.writer import group_messages

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(instants, st.integers(1, 72 * 3600), offsets)
def test_a_window_lists_exactly_the_hours_it_touches(
    start: datetime, seconds: int, zone: timezone
) -> None:
    end = start + timedelta(seconds=seconds)
    listed = list(hours(start.astimezone(zone), end))
    assert listed[0] <= start < listed[0] + timedelta(hours=1) and listed[-1] < end
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(listed))
    assert all(h.tzinfo is UTC and h.minute == h.second == h.microsecond == 0 for h in listed)
    assert listed[-1] + timedelta(hours=1) >= end


@given(instants, st.integers(0, 3 * 3600), st.integers(1, 3 * 3600), offsets)
def test_the_writer_s_folder_is_one_a_window_holding_ts_lists(
    start: datetime, after: int, tail: int, zone: timezone
) -> None:
    ts = start + timedelta(seconds=after)
    message = {"kind": "feedback", "model": "churn", "ts": ts.astimezone(zone).isoformat()}
    (group,), poison = group_messages([("m", json.dumps({**message, "rows": 0, "columns": {}}))])
    assert poison == [] and group.hour == hour_of(ts)
    folder = group.key.rsplit("/", 1)[0] + "/"
    assert folder in prefixes("feedback", "churn", start, ts + timedelta(seconds=tail))


def test_the_folder_names() -> None:
    hour = hour_of("2026-11-27T01:30:00-03:00")
    assert hour == datetime(2026, 11, 27, 4, tzinfo=UTC)
    assert hour_of("2026-11-27T04:59:59") == hour  # no zone: UTC, as the ts column
    assert (
        prefix("predictions", "churn", hour) == "predictions/model=churn/date=2026-11-27/hour=04/"
    )
    bad = json.dumps({"kind": "predictions", "model": "m", "ts": "yesterday", "rows": 0})
    assert group_messages([("x", bad)]) == ([], ["x"])
