"""Drift statistics over binned distributions: named pure functions, each with a default
threshold on an effect size. An effect size alone is not a verdict (at a few hundred rows
sampling noise passes the thresholds), nor is a p-value alone (at a million rows it flags
differences too small to matter): :mod:`steward.drift.verdicts` asks for both, with the tests
of :mod:`.significance`.

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

from steward.stats.significance import kolmogorov_sf

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


def coarse_groups(ref: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """The group (0 to ``bins - 1``) of each fine bin: ~``bins`` groups of equal reference
    mass (PSI's usual deciles), in order."""
    cumulative = np.cumsum(_proportions(ref))
    groups = np.minimum((cumulative * bins - 1e-9).astype(int), bins - 1)
    out: np.ndarray = np.maximum.accumulate(np.clip(groups, 0, bins - 1))
    return out


def coarsen(
    ref: np.ndarray, cur: np.ndarray, bins: int = PSI_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Merge fine bins into the groups of :func:`coarse_groups`."""
    groups = coarse_groups(ref, bins)
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


def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Binned two-sample KS statistic and its asymptotic p-value."""
    n, m = float(ref.sum()), float(cur.sum())
    d = float(np.max(np.abs(np.cumsum(_proportions(ref)) - np.cumsum(_proportions(cur)))))
    if n == 0 or m == 0:
        return d, 1.0
    effective = math.sqrt(n * m / (n + m))
    return d, kolmogorov_sf((effective + 0.12 + 0.11 / effective) * d)


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
