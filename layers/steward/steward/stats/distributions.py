"""Drift statistics over binned distributions: named pure functions, each with a default
threshold on an effect size (p-values are reported, never the verdict: at a million rows
they flag differences too small to matter).

Numeric features are binned on the reference profile's fine quantile edges (~100 bins);
categoricals use category counts. Empty bins are smoothed by ``EPS`` before logarithms, so
every statistic is finite.

KS error bound: the binned statistic is the largest CDF gap at the bin edges; the exact
two-sample statistic can exceed it only inside a bin, by at most the larger of that bin's
two masses, so ``|D_binned - D_exact| <= max_i max(r_i, c_i)`` (about 1 % with reference
quantile bins). ``tests/unit/test_drift_stats.py`` checks this against ``scipy.stats.ks_2samp``.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-6
PSI_BINS = 10


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = float(counts.sum())
    if total:
        out: np.ndarray = counts / total
        return out
    return np.full(counts.shape, 1.0 / max(len(counts), 1))


def _smoothed(p: np.ndarray) -> np.ndarray:
    q: np.ndarray = p + EPS
    out: np.ndarray = q / q.sum()
    return out


def coarsen(
    ref: np.ndarray, cur: np.ndarray, bins: int = PSI_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Merge fine bins into ~``bins`` groups of equal reference mass (PSI's usual deciles)."""
    cumulative = np.cumsum(_proportions(ref))
    groups = np.minimum((cumulative * bins - 1e-9).astype(int), bins - 1)
    groups = np.maximum.accumulate(np.clip(groups, 0, bins - 1))
    return np.bincount(groups, ref, bins), np.bincount(groups, cur, bins)


def psi(ref: np.ndarray, cur: np.ndarray) -> float:
    p, q = _smoothed(_proportions(ref)), _smoothed(_proportions(cur))
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2: 0 (same) to 1 (disjoint)."""
    p, q = _proportions(ref), _proportions(cur)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return math.sqrt(max(kl(p) + kl(q), 0.0) / 2)


def wasserstein(ref: np.ndarray, cur: np.ndarray, points: np.ndarray, scale: float) -> float:
    """Earth mover's distance between the binned distributions placed at ``points`` (one
    representative value per bin), divided by ``scale`` (the reference's std)."""
    gap = np.abs(np.cumsum(_proportions(ref)) - np.cumsum(_proportions(cur)))[:-1]
    distance = float(np.sum(gap * np.diff(points)))
    return distance / scale if scale > 0 else distance


def _kolmogorov_sf(x: float) -> float:
    if x <= 0:
        return 1.0
    total = math.fsum((-1.0) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return min(max(2.0 * total, 0.0), 1.0)


def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Binned two-sample KS statistic and its asymptotic p-value."""
    n, m = float(ref.sum()), float(cur.sum())
    d = float(np.max(np.abs(np.cumsum(_proportions(ref)) - np.cumsum(_proportions(cur)))))
    if n == 0 or m == 0:
        return d, 1.0
    effective = math.sqrt(n * m / (n + m))
    return d, _kolmogorov_sf((effective + 0.12 + 0.11 / effective) * d)


def _gammaincc(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) (series / continued fraction)."""
    if x <= 0:
        return 1.0
    lg = math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        k = a
        for _ in range(1000):
            k += 1
            term *= x / k
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - lg))
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for i in range(1, 1000):
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


def chi2(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Chi-square test of the current counts against the reference proportions."""
    expected = _smoothed(_proportions(ref)) * cur.sum()
    statistic = float(np.sum((cur - expected) ** 2 / expected))
    dof = max(len(ref) - 1, 1)
    return statistic, _gammaincc(dof / 2, statistic / 2)


# Named tests and their default thresholds (effect sizes); per-model and per-feature
# overrides come from the monitoring policy's ``thresholds`` / ``feature_thresholds``.
DEFAULTS: dict[str, float] = {
    "wasserstein": 0.1,  # numeric verdict: shift of a tenth of the reference std
    "psi": 0.2,
    "js": 0.1,  # categorical verdict
    "ks": 0.1,
    "chi2": math.inf,  # reported only: its statistic grows with the sample size
    "missing_rate": 0.05,  # absolute increase of the null share
}
NUMERIC_VERDICT = "wasserstein"
CATEGORICAL_VERDICT = "js"
