"""Streaming evaluation on generated logs: injected drifts flagged, none at scale without
drift, partial results that merge, and bad files skipped and reported."""

from __future__ import annotations

import functools
import io
import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steward.domain.models import MonitoringPolicy, Signature
from steward.domain.profile import Layout, NumericSummary, Profile, build_profile, summarize
from steward.drift.evaluate import Partial, partial_of
from steward.drift.report import report

SIGNATURE = Signature.model_validate(
    {
        "inputs": [
            {"name": "a"},
            {"name": "b"},
            {"name": "c"},
            {"name": "d"},
            {"name": "plan", "type": "string", "categories": ["x", "y", "z"]},
        ]
    }
)
T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=2))


def _data(n: int, seed: int, **drift: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols = {
        "a": rng.normal(0, 1, n) + (0.5 if drift.get("shift") else 0.0),
        "b": rng.normal(10, 2 * (1.8 if drift.get("variance") else 1.0), n),
        "c": rng.exponential(3, n),
        "d": rng.uniform(0, 1, n),
    }
    plans = rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]).astype(object)
    if drift.get("new_category"):
        plans[rng.random(n) < 0.3] = "w"
    cols["plan"] = plans
    if drift.get("missing"):
        cols["d"][rng.random(n) < 0.2] = np.nan
    return cols


def _files(cols: dict[str, np.ndarray], parts: int = 4) -> list[tuple[str, bytes]]:
    n = len(cols["a"])
    ts = [T0 + timedelta(seconds=int(s)) for s in np.linspace(0, 7000, n)]
    files = []
    for k, idx in enumerate(np.array_split(np.arange(n), parts)):
        table = pa.table(
            {
                **{name: pa.array(values[idx].tolist()) for name, values in cols.items()},
                "ts": pa.array([ts[i] for i in idx], pa.timestamp("us", tz="UTC")),
                "version": pa.array([1] * len(idx), pa.int32()),
                "score": pa.array(1 / (1 + np.exp(-cols["a"][idx]))),
            }
        )
        sink = io.BytesIO()
        pq.write_table(table, sink, row_group_size=20_000)
        files.append(
            (f"predictions/model=m/date=2026-11-27/hour=1{k % 2}/{k}.parquet", sink.getvalue())
        )
    return files


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    cols = _data(100_000, 1)
    return build_profile(cols, 1 / (1 + np.exp(-cols["a"])))


def _report(reference, files):  # type: ignore[no-untyped-def]
    partial = partial_of(files, reference, SIGNATURE, WINDOW, version=1)
    return report(
        partial,
        reference,
        SIGNATURE,
        MonitoringPolicy(),
        report_id="r",
        model="m",
        version=1,
        window=WINDOW,
        created_at="now",
    )


def test_no_drift_at_scale_flags_nothing(reference) -> None:  # type: ignore[no-untyped-def]
    result = _report(reference, _files(_data(400_000, 2)))
    assert result.rows == 400_000
    assert result.drifted_features == [] and not result.drift_detected
    assert result.features["a"].p_value is not None  # p-values are reported


def test_every_injected_drift_is_flagged(reference) -> None:  # type: ignore[no-untyped-def]
    drifted = _data(100_000, 3, shift=True, variance=True, new_category=True, missing=True)
    result = _report(reference, _files(drifted))
    assert result.drifted_features == ["a", "b", "d", "plan"]
    assert result.features["d"].test == "missing_rate"
    assert result.data_quality["unseen_categories"] == {"plan": ["w"]}
    assert result.drift_detected and result.prediction is not None and result.prediction.drift


def test_partials_of_files_merge_to_one_pass(reference) -> None:  # type: ignore[no-untyped-def]
    files = _files(_data(50_000, 4), parts=5)
    whole = partial_of(files, reference, SIGNATURE, WINDOW, 1)
    merged = partial_of(files[:2], reference, SIGNATURE, WINDOW, 1).merge(
        partial_of(files[2:], reference, SIGNATURE, WINDOW, 1)
    )
    assert merged.files == whole.files == 5 and merged.profile and whole.profile
    assert merged.profile.rows == whole.profile.rows == 50_000
    for name, summary in whole.profile.features.items():
        other = merged.profile.features[name]
        assert other.counts == summary.counts and other.missing == summary.missing
        if hasattr(summary, "total"):  # float sums: same values, another order
            assert other.total == pytest.approx(summary.total, rel=1e-9)  # type: ignore[union-attr]


def test_bad_files_are_skipped_reported_and_the_rerun_is_identical(reference) -> None:  # type: ignore[no-untyped-def]
    files = _files(_data(20_000, 5))
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"a": ["text"] * 3, "ts": pa.array([T0] * 3, pa.timestamp("us", tz="UTC"))}), sink
    )
    bad = [
        ("corrupt.parquet", b"PAR1 garbage"),
        ("empty.parquet", b""),
        ("no-ts.parquet", _no_ts()),
        ("mistyped.parquet", sink.getvalue()),
    ]
    first = _report(reference, files + bad)
    assert {s["key"] for s in first.data_quality["skipped_files"]} == {
        "corrupt.parquet",
        "empty.parquet",
        "no-ts.parquet",
    }
    assert first.data_quality["type_mismatches"] == ["a"]
    assert "b" in first.data_quality["missing_columns"]
    assert first.rows == 20_003  # rows of the mistyped file count; its column does not
    again = _report(reference, files + bad)
    assert again == first


def layout_of_profile(profile: Profile) -> Layout:
    layout = Layout()
    for name, summary in profile.features.items():
        if isinstance(summary, NumericSummary):
            layout.edges[name] = summary.edges
        else:
            layout.categories[name] = None
    return layout


def _no_ts() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1.0]}), sink)
    return sink.getvalue()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 600),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(1, 599), max_size=4),
    st.integers(7, 300),
    st.booleans(),
)
def test_streamed_partials_merge_to_the_in_memory_profile(
    n: int, seed: int, cuts: list[int], row_group: int, edge_of_window: bool
) -> None:
    """Any split into files and row groups, read from bytes or from files, and with rows
    outside the window (row groups the statistics cannot place): the merged partials hold
    exactly the counts of a one-shot profile of the rows inside the window."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.02] = np.inf
    plans = rng.choice(np.array(["x", "y", "w", None], dtype=object), n)
    offsets = rng.integers(-600, 600, n) if edge_of_window else np.arange(n) % 600
    ts = [WINDOW[0] + timedelta(seconds=int(s)) for s in offsets]
    inside = (offsets >= 0) & (offsets < 7200)
    reference = build_profile(
        {"a": rng.normal(0, 1, 1000), "plan": np.array(["x", "y"] * 500, dtype=object)}
    )
    signature = Signature.model_validate(
        {"inputs": [{"name": "a", "max": 1.5}, {"name": "plan", "type": "string"}]}
    )
    table = pa.table(
        {
            "a": pa.array(x),
            "plan": pa.array(list(plans), pa.string()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        }
    )
    bounds = [0, *sorted({c for c in cuts if c < n}), n]
    files = []
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sink = io.BytesIO()
        pq.write_table(table.slice(lo, hi - lo), sink, row_group_size=row_group)
        data = sink.getvalue()
        files.append((f"{k}.parquet", io.BytesIO(data) if k % 2 else data))
    merged = functools.reduce(
        Partial.merge, (partial_of([f], reference, signature, WINDOW) for f in files)
    )
    expected = summarize({"a": x[inside], "plan": plans[inside]}, layout_of_profile(reference))
    assert merged.files == len(files)
    if not inside.any():
        assert merged.profile is None
        return
    assert merged.profile is not None and merged.profile.rows == int(inside.sum())
    a, want = merged.profile.features["a"], expected.features["a"]
    assert a.counts == want.counts and a.missing == want.missing  # type: ignore[union-attr]
    assert a.min == want.min and a.max == want.max  # type: ignore[union-attr]
    assert merged.profile.features["plan"] == expected.features["plan"]
    with np.errstate(invalid="ignore"):
        assert merged.out_of_range["a"] == int(np.count_nonzero(x[inside] > 1.5))
