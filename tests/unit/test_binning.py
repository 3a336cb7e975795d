from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from steward.domain.binning import MAX_GRID, Binner, BitGrid, TieGrid, snap_edges
from steward.domain.profile import quantile_edges

finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)
wide = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)


def raw_edges(reference: np.ndarray, bins: int = 50) -> list[float]:
    """Quantile cut points as profiles made before the tie grid held them (not snapped)."""
    qs = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(np.quantile(reference, qs))
    return [float(e) for e in edges if e > reference.min()]


EDGES = {"snapped": lambda r: quantile_edges(r, bins=50), "raw": raw_edges}


def expected_counts(edges: list[float], values: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


@pytest.mark.parametrize("kind", EDGES)
@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 300), elements=finite),
    arrays(np.float64, st.integers(1, 500), elements=finite),
)
@example(np.array([1.11253693e-308, 0.0]), np.array([0.0]))  # a span too narrow to scale
def test_lookup_binning_equals_searchsorted(
    kind: str, reference: np.ndarray, values: np.ndarray
) -> None:
    edges = EDGES[kind](reference)
    values = np.concatenate([values, np.asarray(edges), np.nextafter(np.asarray(edges), -np.inf)])
    expected = np.searchsorted(np.asarray(edges), values, side="right")
    assert np.array_equal(Binner(edges).bin(values), expected)


@pytest.mark.parametrize("kind", EDGES)
def test_skewed_and_clustered_edges(kind: str) -> None:
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.lognormal(0, 3, 50_000), np.zeros(1000), [1e12]])
    edges = EDGES[kind](reference)
    values = np.concatenate([rng.lognormal(0, 3, 100_000), rng.normal(0, 1e6, 1000)])
    assert np.array_equal(Binner(edges).counts(values), expected_counts(edges, values))


@pytest.mark.parametrize("kind", EDGES)
@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 300), elements=finite),
    arrays(np.float64, st.integers(0, 2000), elements=wide),
)
@example(np.array([1.11253693e-308, 0.0]), np.array([0.0] * 100))
@example(np.array([-1e9, 1e9] * 50), np.array([1e9, -1e9, 0.0] * 40))
def test_streaming_counts_equal_searchsorted(
    kind: str, reference: np.ndarray, values: np.ndarray
) -> None:
    edges = EDGES[kind](reference)
    around = np.asarray(edges)
    values = np.concatenate(
        [values, around, np.nextafter(around, -np.inf), np.nextafter(around, np.inf)] * 2
    )
    expected = expected_counts(edges, values)
    binner = Binner(edges)
    out = np.ones(len(edges) + 1, dtype=np.int64)  # counts are added to what is there
    binner.count_into(values, out)
    assert np.array_equal(out, expected + 1)
    if values.size:  # with the span known, batches inside the counting grid skip the clip
        out[:] = 0
        binner.count_into(values, out, (float(values.min()), float(values.max())))
        assert np.array_equal(out, expected)


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(1, 120),
        elements=st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
        unique=True,
    )
)
@example(np.array([1.0]))  # a binary feature's one edge
@example(np.array([0.5, 1.0]))
@example(np.array([1e-3, 2e-3, 1e6]))  # crowded in a wide range: the logarithmic grid
@example(np.array([-1e-3, -2e-3, 1e6]))  # and with a negative edge: left as they are
def test_snapped_edges_sit_on_a_grid_just_below_the_cut_points(cuts: np.ndarray) -> None:
    cuts = np.sort(cuts)
    snapped = np.asarray(snap_edges(cuts))
    grid = Binner(snapped).grid
    if grid is None:
        assert np.array_equal(snapped, cuts)
        return
    gaps = np.diff(cuts)
    below = np.concatenate([[np.inf], gaps])  # each cut point's gaps to its neighbours
    above = np.concatenate([gaps, [np.inf]])
    alone = abs(cuts[0]) * 2.0**-15 or 1.0  # a single cut point
    local = np.minimum(np.minimum(below, above), alone if cuts.size == 1 else np.inf)
    assert np.all(snapped <= cuts) and np.all(cuts - snapped <= local / 16)
    assert np.all(np.diff(snapped) > 0)  # none merge: every bin of the reference is kept
    assert grid.size <= MAX_GRID
    if isinstance(grid, TieGrid):
        assert math.log2(grid.width).is_integer()


heavy = st.floats(-40, 40).map(math.exp)  # positive, across 115 octaves


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 300), elements=heavy),
    arrays(np.float64, st.integers(0, 2000), elements=wide),
)
def test_logarithmic_grid_counts_equal_searchsorted(
    reference: np.ndarray, values: np.ndarray
) -> None:
    edges = quantile_edges(reference, bins=50)
    around = np.asarray(edges)
    values = np.concatenate(
        [values, around, np.nextafter(around, -np.inf), np.nextafter(around, np.inf), [-0.0]]
    )
    out = np.zeros(len(edges) + 1, dtype=np.int64)
    Binner(edges).count_into(values, out)
    assert np.array_equal(out, expected_counts(edges, values))
    out[:] = 0
    Binner(edges).count_into(values, out, (float(values.min()), float(values.max())))
    assert np.array_equal(out, expected_counts(edges, values))


def test_profiles_count_on_a_grid() -> None:
    rng = np.random.default_rng(3)
    for reference, kind in (
        (rng.normal(2, 3, 50_000), TieGrid),
        (rng.random(5000), TieGrid),
        (rng.integers(0, 7, 5000).astype(float), TieGrid),
        (rng.gamma(2.0, 2.0, 50_000), TieGrid),
        (rng.lognormal(0, 2, 50_000), BitGrid),  # heavy tails: amounts, durations, counts
        (rng.pareto(1.5, 50_000) + 1, BitGrid),
    ):
        edges = quantile_edges(reference)
        assert isinstance(Binner(edges).grid, kind)
        assert len(edges) == len(raw_edges(reference, bins=100))  # no bin lost
    assert Binner(raw_edges(rng.normal(size=5000))).grid is None  # arbitrary cut points
