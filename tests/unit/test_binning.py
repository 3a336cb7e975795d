from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from steward.domain.binning import Binner
from steward.domain.profile import quantile_edges

finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 300), elements=finite),
    arrays(np.float64, st.integers(1, 500), elements=finite),
)
@example(np.array([1.11253693e-308, 0.0]), np.array([0.0]))  # a span too narrow to scale
def test_lookup_binning_equals_searchsorted(reference: np.ndarray, values: np.ndarray) -> None:
    edges = quantile_edges(reference, bins=50)
    values = np.concatenate([values, np.asarray(edges), np.nextafter(np.asarray(edges), -np.inf)])
    expected = np.searchsorted(np.asarray(edges), values, side="right")
    assert np.array_equal(Binner(edges).bin(values), expected)


def test_skewed_and_clustered_edges() -> None:
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.lognormal(0, 3, 50_000), np.zeros(1000), [1e12]])
    edges = quantile_edges(reference)
    values = np.concatenate([rng.lognormal(0, 3, 100_000), rng.normal(0, 1e6, 1000)])
    assert np.array_equal(
        Binner(edges).counts(values),
        np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1),
    )


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 300), elements=finite),
    arrays(np.float64, st.integers(0, 2000), elements=finite),
)
@example(np.array([1.11253693e-308, 0.0]), np.array([0.0] * 100))
@example(np.array([-1e9, 1e9] * 50), np.array([1e9, -1e9, 0.0] * 40))
def test_streaming_counts_equal_searchsorted(reference: np.ndarray, values: np.ndarray) -> None:
    edges = quantile_edges(reference, bins=50)
    values = np.concatenate(
        [values, np.asarray(edges), np.nextafter(np.asarray(edges), -np.inf)] * 2
    )
    expected = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    binner = Binner(edges)
    out = np.ones(len(edges) + 1, dtype=np.int64)  # counts are added to what is there
    binner.count_into(values, out)
    assert np.array_equal(out, expected + 1)
    if values.size:  # with the span known, batches inside the counting grid skip the clip
        out[:] = 0
        binner.count_into(values, out, (float(values.min()), float(values.max())))
        assert np.array_equal(out, expected)
