from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from steward.domain.profile import (
    build_profile,
    layout_from,
    merge,
    quantile_edges,
    summarize,
)

floats = st.floats(-1e6, 1e6, allow_infinity=False) | st.just(float("nan"))


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 300), elements=floats),
    st.lists(st.sampled_from(["a", "b", "c", None]), min_size=300, max_size=300),
    st.integers(1, 299),
)
def test_profiles_of_parts_merge_to_the_profile_of_the_whole(
    numbers: np.ndarray, cats: list[str | None], cut: int
) -> None:
    n = len(numbers)
    cut = min(cut, n - 1)
    columns = {"x": numbers, "c": np.array(cats[:n], dtype=object)}
    layout = layout_from(columns)
    whole = summarize(columns, layout)
    first = summarize({k: v[:cut] for k, v in columns.items()}, layout)
    second = summarize({k: v[cut:] for k, v in columns.items()}, layout)
    merged = merge(first, second)
    assert merged.rows == whole.rows
    x_whole, x_merged = whole.features["x"], merged.features["x"]
    assert x_merged.counts == x_whole.counts  # type: ignore[union-attr]
    assert x_merged.missing == x_whole.missing and x_merged.count == x_whole.count
    assert np.isclose(x_merged.total, x_whole.total, rtol=1e-9, atol=1e-3)  # type: ignore[union-attr]
    assert merged.features["c"] == whole.features["c"]


def test_numeric_profile_counts_every_value_once() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=10_000)
    values[:100] = np.nan
    profile = build_profile({"x": values})
    x = profile.features["x"]
    assert sum(x.counts) == 9_900 and x.missing == 100  # type: ignore[union-attr]
    counts = np.array(x.counts[1:-1])  # type: ignore[union-attr]
    assert counts.min() > 50 and counts.max() < 150  # quantile bins hold ~1% each


def test_constant_column_has_no_degenerate_edges() -> None:
    assert quantile_edges(np.full(100, 3.0)) == []
    profile = build_profile({"x": np.full(100, 3.0)})
    assert profile.features["x"].counts == [100]  # type: ignore[union-attr]


def test_prediction_distribution_is_profiled() -> None:
    columns = {"x": np.arange(100, dtype=np.float64)}
    profile = build_profile(columns, np.linspace(0, 1, 100))
    assert profile.prediction is not None and profile.prediction.kind == "numeric"
