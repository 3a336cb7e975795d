"""Significance for drift verdicts, from binned counts alone (numpy and :mod:`math`, no scipy).

A drift report holds counts, not values: the reference profile's bins and category counts,
and the window's counts on the same bins (summed over map children). Everything here works on
those counts, so a verdict needs no raw value and merges like the counts do.

- :func:`homogeneity`: chi-square test of homogeneity of the 2 x k table (reference counts
  against window counts), sparse cells pooled until every expected count is at least
  ``MIN_EXPECTED`` (the textbook condition for the chi-square approximation).
- :func:`proportions`: the two-proportion z test (missing rates), as a chi-square of 1 dof.
- :func:`holm`: Holm's step-down adjustment of a family of p-values. Holm, not
  Benjamini-Hochberg: an alarm starts a retrain, so the promise is on the family-wise
  false-alarm rate (the chance that a window with no drift raises any flag), which Holm
  bounds by alpha whatever the dependence between features; BH bounds the expected share of
  false flags among the flags, which lets the false-alarm rate of a partly drifted window grow
  with the number of features.
- Minimum detectable effects (``mde_*``): the smallest effect, in the units of the effect size
  that decides the verdict, that a window of this size detects with probability ``POWER`` at
  level ``alpha``. The chi-square test of a table whose cell probabilities differ by ``d``
  has a noncentral chi-square distribution with noncentrality
  ``lambda = n_e * sum(d_i**2 / w_i)`` (``n_e = n*m/(n+m)``, ``w`` the pooled cell
  probabilities); :func:`noncentrality` finds the ``lambda`` that gives the power, and each
  ``mde_*`` turns it into its statistic's units (formulas in their docstrings).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

POWER = 0.8
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class Test:
    """A test's statistic, p-value and degrees of freedom (0 when there was nothing to test:
    fewer than two cells left after pooling, or an empty side; the p-value is then 1)."""

    statistic: float
    p_value: float
    dof: int


def effective_n(n: float, m: float) -> float:
    """The sample size that a two-sample comparison of ``n`` against ``m`` is worth."""
    return n * m / (n + m) if n > 0 and m > 0 else 0.0


# --- distributions -------------------------------------------------------------------------


def gammaincc(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) (series below a + 1, else continued
    fraction)."""
    if x <= 0:
        return 1.0
    lg = math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        k = a
        for _ in range(10_000):
            k += 1
            term *= x / k
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - lg))
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - lg) * h)


def chi2_sf(x: float, dof: float) -> float:
    """P(X > x) for X chi-square with ``dof`` degrees of freedom."""
    return gammaincc(dof / 2, x / 2) if dof > 0 else 0.0


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _solve(
    f: Callable[[float], float],
    target: float,
    low: float,
    high: float,
    decreasing: bool,
    tolerance: float = 1e-12,
) -> float:
    """Bisection for ``f(x) == target`` on a monotone ``f``, to ``tolerance`` (relative)."""
    for _ in range(200):
        mid = (low + high) / 2
        above = f(mid) > target
        if above == decreasing:
            low = mid
        else:
            high = mid
        if high - low <= tolerance * max(1.0, abs(mid)):
            break
    return (low + high) / 2


def normal_isf(p: float) -> float:
    """z with P(Z > z) = p (solved in the upper tail, where the survival function is
    precise)."""
    if p > 0.5:
        return -normal_isf(1 - p)
    return _solve(normal_sf, p, 0.0, 40.0, decreasing=True)


def chi2_isf(p: float, dof: float) -> float:
    """x with P(X > x) = p for X chi-square with ``dof`` degrees of freedom."""
    high = dof + 10 * math.sqrt(2 * dof) + 100
    while chi2_sf(high, dof) > p:
        high *= 2
    return _solve(lambda x: chi2_sf(x, dof), p, 0.0, high, decreasing=True)


def ncx2_sf(x: float, dof: float, nc: float) -> float:
    """P(X > x) for X noncentral chi-square (``dof``, noncentrality ``nc``): the Poisson(nc/2)
    mixture of central chi-squares with ``dof + 2j`` degrees of freedom. The central terms
    come from one incomplete gamma and the recurrence ``Q(a + 1, y) = Q(a, y) + y**a e**-y /
    Gamma(a + 1)``; the Poisson tail beyond 12 standard deviations is dropped."""
    if nc <= 0:
        return chi2_sf(x, dof)
    mean, a, y = nc / 2, dof / 2, x / 2
    j = np.arange(int(mean + 12 * math.sqrt(mean) + 30), dtype=np.float64)
    log_j = np.log(np.maximum(j, 1.0))
    if y <= 0:
        return 1.0
    weights = np.exp(-mean + j * math.log(mean) - np.cumsum(log_j))  # Poisson(j; mean)
    # log of y**(a + j) e**-y / Gamma(a + j + 1), for j = 0, 1, ...
    log_gamma = math.lgamma(a + 1) + np.concatenate([[0.0], np.cumsum(np.log(a + j[1:]))])
    log_terms = (a + j) * math.log(y) - y - log_gamma
    upper = gammaincc(a, y) + np.concatenate([[0.0], np.cumsum(np.exp(log_terms))[:-1]])
    return float(min(1.0, np.sum(weights * np.minimum(upper, 1.0))))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (its alternating series)."""
    if x <= 0:
        return 1.0
    total = math.fsum((-1.0) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return min(max(2.0 * total, 0.0), 1.0)


# --- tests ---------------------------------------------------------------------------------


def pool_sparse(
    ref: np.ndarray, cur: np.ndarray, min_expected: float = MIN_EXPECTED
) -> tuple[np.ndarray, np.ndarray]:
    """Pool cells of the 2 x k table until every expected count is at least ``min_expected``.

    Cells are taken from the smallest reference count up (cells the reference never saw
    first) and gathered into a pool that closes once its reference share promises an expected
    count of ``min_expected`` on the smaller side: ``r_pool / n * min(n, m)``. A last pool
    that stays too small joins the group closed before it. The grouping looks at the
    reference only: grouping on the window's counts would pick cells by their noise and
    inflate the statistic."""
    n, m = float(ref.sum()), float(cur.sum())
    if n <= 0 or m <= 0:
        return np.zeros(0), np.zeros(0)
    need = min_expected * n / min(n, m)  # the smallest adequate reference count
    refs: list[float] = []
    curs: list[float] = []
    pool_r = pool_c = 0.0
    for i in np.argsort(ref, kind="stable"):
        pool_r += float(ref[i])
        pool_c += float(cur[i])
        if pool_r >= need:
            refs.append(pool_r)
            curs.append(pool_c)
            pool_r = pool_c = 0.0
    if pool_r + pool_c > 0:
        if refs:
            refs[-1] += pool_r
            curs[-1] += pool_c
        else:
            refs.append(pool_r)
            curs.append(pool_c)
    return np.array(refs), np.array(curs)


def homogeneity(ref: np.ndarray, cur: np.ndarray, min_expected: float = MIN_EXPECTED) -> Test:
    """Chi-square test that the reference and window counts come from one distribution
    (Pearson's statistic on the pooled 2 x k table, ``k - 1`` degrees of freedom)."""
    r, c = pool_sparse(np.asarray(ref, float), np.asarray(cur, float), min_expected)
    if len(r) < 2:
        return Test(0.0, 1.0, 0)
    n, m = r.sum(), c.sum()
    total = r + c
    expected_r, expected_c = total * n / (n + m), total * m / (n + m)
    statistic = float(
        np.sum((r - expected_r) ** 2 / expected_r + (c - expected_c) ** 2 / expected_c)
    )
    dof = len(r) - 1
    return Test(statistic, chi2_sf(statistic, dof), dof)


def proportions(ref_hits: float, ref_n: float, cur_hits: float, cur_n: float) -> Test:
    """Two-proportion z test with the pooled variance (two-sided), given as its square: a
    chi-square of 1 degree of freedom (equal to :func:`homogeneity` on the 2 x 2 table)."""
    if ref_n <= 0 or cur_n <= 0:
        return Test(0.0, 1.0, 0)
    pooled = (ref_hits + cur_hits) / (ref_n + cur_n)
    if pooled <= 0 or pooled >= 1:
        return Test(0.0, 1.0, 0)
    diff = cur_hits / cur_n - ref_hits / ref_n
    z2 = diff * diff / (pooled * (1 - pooled) * (1 / ref_n + 1 / cur_n))
    return Test(z2, chi2_sf(z2, 1), 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values: the i-th smallest times ``(k - i)`` (i from 0), made
    non-decreasing in that order, capped at 1. Rejecting where the adjusted value is below
    alpha is Holm's step-down procedure."""
    k = len(p_values)
    order = sorted(range(k), key=lambda i: p_values[i])
    adjusted = [1.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# --- minimum detectable effects ------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def noncentrality(alpha: float, dof: int, power: float = POWER) -> float:
    """The noncentrality at which the level-``alpha`` chi-square test of ``dof`` degrees of
    freedom rejects with probability ``power`` (cached: a report asks it of every feature
    at one level)."""
    critical = chi2_isf(alpha, dof)
    high = 1.0
    while ncx2_sf(critical, dof, high) < power:
        high *= 2
    return _solve(lambda nc: ncx2_sf(critical, dof, nc), power, 0.0, high, decreasing=False)


def mde_js(n_e: float, dof: int, alpha: float, power: float = POWER) -> float | None:
    """Smallest Jensen-Shannon distance (base 2) detected by :func:`homogeneity`.

    For close distributions ``JSD = sum(d_i**2 / w_i) / (8 ln 2)`` bits (second-order
    expansion, ``w = (p + q) / 2``), so ``lambda = 8 ln 2 * n_e * JS**2`` and
    ``JS = sqrt(lambda / (8 ln 2 * n_e))``."""
    if n_e <= 0 or dof < 1:
        return None
    return math.sqrt(noncentrality(alpha, dof, power) / (8 * math.log(2) * n_e))


def mde_rate(base: float, n_e: float, alpha: float, power: float = POWER) -> float | None:
    """Smallest increase of a rate (the missing share) from ``base`` detected by
    :func:`proportions`: Cohen's arcsine approximation, ``2 asin(sqrt(p1)) - 2 asin(sqrt(p0))
    = (z_{alpha/2} + z_power) / sqrt(n_e)``, solved for ``p1 - p0``."""
    if n_e <= 0:
        return None
    half_h = (normal_isf(alpha / 2) + normal_isf(1 - power)) / (2 * math.sqrt(n_e))
    angle = math.asin(math.sqrt(min(max(base, 0.0), 1.0))) + half_h
    if angle >= math.pi / 2:
        return None
    return math.sin(angle) ** 2 - base


def mde_shift(
    ref: np.ndarray,
    bounds: np.ndarray,
    groups: np.ndarray,
    scale: float,
    n_e: float,
    m_share: float,
    alpha: float,
    power: float = POWER,
) -> float | None:
    """Smallest shift of the reference distribution, in units of ``scale`` (the reference
    std: the units of the normalized Wasserstein distance, which equals the shift for a pure
    location change), that :func:`homogeneity` on the grouped bins detects.

    ``ref``: the reference's fine-bin counts; ``bounds``: the fine bins' boundaries (the
    reference min, the cut points, the max), its CDF is taken linear inside a bin;
    ``groups``: the group of each fine bin (as tested); ``m_share``: the window's share
    ``m / (n + m)`` of the two samples (it weighs the pooled cell probabilities). The shifted
    CDF ``F(x - s)`` gives each group's probability ``q_i(s)``; ``lambda(s) = n_e *
    sum((q_i - p_i)**2 / w_i)`` with ``w = (1 - m_share) p + m_share q``, solved for
    ``lambda(s) = noncentrality(alpha, k - 1, power)``. ``None`` when no shift is detectable
    (the window is too small)."""
    total = float(ref.sum())
    groups = np.unique(groups, return_inverse=True)[1]  # groups that hold a fine bin: 0..k-1
    k = int(groups.max()) + 1 if len(groups) else 0
    if total <= 0 or n_e <= 0 or k < 2 or scale <= 0:
        return None
    cdf = np.concatenate([[0.0], np.cumsum(ref) / total])
    # each group's upper boundary: the upper bound of its last fine bin
    last = np.flatnonzero(np.diff(np.append(groups, k)) != 0)
    upper = bounds[1:][last]
    p = np.bincount(groups, ref, k) / total
    target = noncentrality(alpha, k - 1, power)

    def lam(shifts: np.ndarray) -> np.ndarray:  # lambda for many shifts at once
        shifted = np.interp(upper[:-1][None, :] - shifts[:, None] * scale, bounds, cdf)
        ones = np.ones((len(shifts), 1))
        q = np.diff(np.concatenate([0 * ones, shifted, ones], axis=1), axis=1)
        w = (1 - m_share) * p + m_share * q
        terms = np.where(w > 0, (q - p) ** 2 / np.where(w > 0, w, 1.0), 0.0)
        out: np.ndarray = n_e * terms.sum(axis=1)
        return out

    # The first crossing on a geometric grid over six decades, then two linear refinements
    # of its bracket (a relative precision of ~2e-4, in three vectorized steps).
    span = (float(bounds[-1]) - float(bounds[0])) / scale
    if not span > 0:
        return None
    grid = np.geomspace(span * 1e-6, span, 64)
    low = 0.0
    for _ in range(3):
        above = lam(grid) >= target
        if not above.any():
            return None
        i = int(np.argmax(above))
        low, high = (float(grid[i - 1]) if i else low), float(grid[i])
        grid = np.linspace(low, high, 33)
    return high
