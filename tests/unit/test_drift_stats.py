"""Drift statistics against scipy on the same bins, and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from steward.domain.profile import quantile_edges, summarize_numeric
from steward.stats import distributions as stats

counts = arrays(np.float64, st.integers(2, 40), elements=st.integers(0, 10_000).map(float))


@given(counts)
def test_psi_of_a_distribution_with_itself_is_zero_and_finite_with_empty_bins(
    c: np.ndarray,
) -> None:
    assert stats.psi(c, c) == pytest.approx(0.0, abs=1e-12)
    other = np.roll(c, 1)
    assert np.isfinite(stats.psi(c, other)) and stats.psi(c, other) >= 0


@given(counts, st.data())
def test_js_is_symmetric_bounded_and_matches_scipy(c: np.ndarray, data: st.DataObject) -> None:
    d = data.draw(arrays(np.float64, len(c), elements=st.integers(0, 10_000).map(float)))
    if c.sum() == 0 or d.sum() == 0:
        return
    assert stats.js_distance(c, d) == pytest.approx(stats.js_distance(d, c), abs=1e-12)
    assert 0 <= stats.js_distance(c, d) <= 1
    assert stats.js_distance(c, d) == pytest.approx(jensenshannon(c, d, base=2), abs=1e-9)


def test_wasserstein_matches_scipy_on_the_same_bins() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(1, 500, 30).astype(float)
    cur = rng.integers(1, 500, 30).astype(float)
    points = np.sort(rng.normal(size=30))
    expected = sps.wasserstein_distance(points, points, ref, cur)
    assert stats.wasserstein(ref, cur, points, 1.0) == pytest.approx(expected, abs=1e-9)
    assert stats.wasserstein(ref, cur, points, 2.0) == pytest.approx(expected / 2, abs=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.0])
def test_binned_ks_is_within_the_documented_bound_of_ks_2samp(shift: float) -> None:
    rng = np.random.default_rng(int(shift * 100))
    reference = rng.normal(size=20_000)
    current = rng.normal(shift, 1.0, size=5_000)
    edges = quantile_edges(reference)
    ref = np.array(summarize_numeric(reference, edges).counts, float)
    cur = np.array(summarize_numeric(current, edges).counts, float)
    d, p = stats.ks(ref, cur)
    exact = sps.ks_2samp(reference, current)
    bound = max((ref / ref.sum()).max(), (cur / cur.sum()).max())
    assert abs(d - exact.statistic) <= bound + 1e-12
    assert d <= exact.statistic + 1e-12  # the binned statistic never overstates
    if shift >= 0.3:
        assert p < 1e-6
