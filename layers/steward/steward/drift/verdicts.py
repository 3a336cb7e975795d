"""A feature's drift verdict: an effect size past its threshold AND a significant difference.

Each feature gets checks: its distribution (numeric: normalized Wasserstein, tested by the
binned two-sample KS and a chi-square of homogeneity on ten reference deciles, whichever is
stronger, Bonferroni x2; categorical: Jensen-Shannon distance, tested by a chi-square of
homogeneity on the category counts) and its missing share (absolute increase, tested by a
two-proportion z test). The report's checks form one family: Holm's correction over all of
them (see :mod:`steward.stats.significance` for why Holm). A check drifts when its effect size
reaches its threshold and its corrected p-value is below the policy's ``alpha``; a feature
drifts when one of its checks does. Below ``min_rows`` values on either side a check is not
tested and a feature with no tested check is ``insufficient_data``.

At a million rows every real difference is significant and the effect size decides, as it
did before significance was added; at a few hundred rows the significance keeps sampling noise
(a Wasserstein distance of 0.1 is ordinary there) from raising alarms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from steward.domain.models import MonitoringPolicy
from steward.domain.profile import CategoricalSummary, NumericSummary
from steward.stats import distributions as stats
from steward.stats import significance as sig

Verdict = Literal["drift", "no_drift", "insufficient_data"]
CORRECTION = "holm"


class Check(BaseModel):
    """One effect size with its significance. ``minimum_detectable_effect``: the smallest
    effect (in the statistic's units) this window detects with probability 0.8 at
    ``alpha / tests`` (what Holm asks of a check that drifts alone); ``None`` when none is
    detectable. A check outside the family (too few values, or a missing-rate check with
    nothing missing on either side, which cannot reject) has no corrected p-value."""

    test: str
    statistic: float
    threshold: float
    significance_test: str | None = None  # ks+chi2, chi2 or z
    p_value: float | None = None
    corrected_p_value: float | None = None
    minimum_detectable_effect: float | None = None
    n: int = 0  # the window's values behind the test
    verdict: Verdict = "insufficient_data"
    drift: bool = False


class FeatureDrift(Check):
    """A feature's verdict: the fields of its deciding check (the distribution's unless only
    the missing share drifts; ``drift`` and ``verdict`` are the feature's), all its checks,
    the other statistics and chart data."""

    checks: list[Check] = Field(default_factory=list)
    statistics: dict[str, float] = Field(default_factory=dict)
    reference: list[float] = Field(default_factory=list)  # coarse histogram for charts
    current: list[float] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


@dataclass
class Pending:
    """A check before the family is known: its p-value, whether it belongs to the family and
    how to compute its minimum detectable effect at a given level."""

    check: Check
    in_family: bool
    mde: Callable[[float], float | None]


@dataclass
class Assessment:
    """A feature's checks awaiting :func:`correct`, then :meth:`result`."""

    checks: list[Pending]
    statistics: dict[str, float]
    reference: list[float]
    current: list[float]
    labels: list[str] = field(default_factory=list)

    def result(self) -> FeatureDrift:
        distribution, missing = (p.check for p in self.checks)
        decider = missing if missing.drift and not distribution.drift else distribution
        tested = any(c.verdict != "insufficient_data" for c in (distribution, missing))
        drift = distribution.drift or missing.drift
        verdict: Verdict = "drift" if drift else ("no_drift" if tested else "insufficient_data")
        return FeatureDrift(
            **(decider.model_dump() | {"drift": drift, "verdict": verdict}),
            checks=[distribution, missing],
            statistics=self.statistics,
            reference=self.reference,
            current=self.current,
            labels=self.labels,
        )


def threshold(policy: MonitoringPolicy, feature: str, test: str) -> float:
    per_feature = policy.feature_thresholds.get(feature, {})
    return float(per_feature.get(test, policy.thresholds.get(test, stats.DEFAULTS[test])))


def _missing_check(
    name: str,
    ref: NumericSummary | CategoricalSummary,
    cur: NumericSummary | CategoricalSummary,
    policy: MonitoringPolicy,
) -> Pending:
    ref_rows, cur_rows = ref.count + ref.missing, cur.count + cur.missing
    test = sig.proportions(ref.missing, ref_rows, cur.missing, cur_rows)
    enough = min(ref_rows, cur_rows) >= policy.min_rows
    check = Check(
        test="missing_rate",
        statistic=cur.missing_rate - ref.missing_rate,
        threshold=threshold(policy, name, "missing_rate"),
        significance_test="z",
        p_value=test.p_value,
        n=cur_rows,
        verdict="no_drift" if enough else "insufficient_data",
    )
    n_e = sig.effective_n(ref_rows, cur_rows)
    # Nothing missing on either side: the test cannot reject, so it is left out of the
    # family (Tarone's rule for tests that cannot reach significance).
    return Pending(check, enough and test.dof > 0, lambda a: sig.mde_rate(ref.missing_rate, n_e, a))


def _shares(counts: np.ndarray) -> list[float]:
    return [float(x) for x in counts / max(counts.sum(), 1)]


def _distribution_check(
    name: str,
    summaries: tuple[NumericSummary, NumericSummary]
    | tuple[CategoricalSummary, CategoricalSummary],
    values: dict[str, float],
    significance_test: str,
    p_value: float,
    mde: Callable[[float], float | None],
    policy: MonitoringPolicy,
) -> Pending:
    """The check of a feature's distribution: tested when both sides hold ``min_rows``
    values."""
    ref, cur = summaries
    test = stats.NUMERIC_VERDICT if isinstance(ref, NumericSummary) else stats.CATEGORICAL_VERDICT
    enough = min(ref.count, cur.count) >= policy.min_rows
    check = Check(
        test=test,
        statistic=values[test],
        threshold=threshold(policy, name, test),
        significance_test=significance_test,
        p_value=p_value,
        n=cur.count,
        verdict="no_drift" if enough else "insufficient_data",
    )
    return Pending(check, enough, mde)


def assess_numeric(
    name: str, ref: NumericSummary, cur: NumericSummary, policy: MonitoringPolicy
) -> Assessment:
    r, c = np.array(ref.counts, float), np.array(cur.counts, float)
    edges = np.array(ref.edges, float)
    low = ref.min if ref.min is not None else (edges[0] if len(edges) else 0.0)
    high = ref.max if ref.max is not None else (edges[-1] if len(edges) else 0.0)
    bounds = np.concatenate([[low], edges, [high]])
    points = (bounds[:-1] + bounds[1:]) / 2
    mean = ref.total / ref.count if ref.count else 0.0
    std = float(np.sqrt(max(ref.total_sq / ref.count - mean * mean, 0.0))) if ref.count else 0.0
    ks_d, ks_p = stats.ks(r, c)
    groups = stats.coarse_groups(r)
    coarse_r, coarse_c = (
        np.bincount(groups, r, stats.PSI_BINS),
        np.bincount(groups, c, stats.PSI_BINS),
    )
    chi = sig.homogeneity(coarse_r, coarse_c)
    values = {
        "wasserstein": stats.wasserstein(r, c, points, std or 1.0),
        "psi": stats.psi(coarse_r, coarse_c),
        "js": stats.js_distance(r, c),
        "ks": ks_d,
        "chi2": chi.statistic,
        "missing_rate": cur.missing_rate - ref.missing_rate,
    }
    n_e = sig.effective_n(ref.count, cur.count)
    share = cur.count / (ref.count + cur.count) if cur.count else 0.0

    def mde(alpha: float) -> float | None:
        # the chi-square half alone, at alpha / 2: an upper bound for the pair
        return sig.mde_shift(r, bounds, groups, std, n_e, share, alpha / 2)

    p_value = min(1.0, 2 * min(ks_p, chi.p_value))
    return Assessment(
        checks=[
            _distribution_check(name, (ref, cur), values, "ks+chi2", p_value, mde, policy),
            _missing_check(name, ref, cur, policy),
        ],
        statistics=values,
        reference=_shares(coarse_r),
        current=_shares(coarse_c),
    )


def assess_categorical(
    name: str, ref: CategoricalSummary, cur: CategoricalSummary, policy: MonitoringPolicy
) -> Assessment:
    labels = sorted(ref.counts.keys() | cur.counts.keys())
    r = np.array([ref.counts.get(k, 0) for k in labels], float)
    c = np.array([cur.counts.get(k, 0) for k in labels], float)
    chi = sig.homogeneity(r, c)
    values = {
        "js": stats.js_distance(r, c) if c.sum() else 0.0,
        "psi": stats.psi(r, c),
        "chi2": chi.statistic,
        "missing_rate": cur.missing_rate - ref.missing_rate,
    }
    n_e = sig.effective_n(ref.count, cur.count)
    return Assessment(
        checks=[
            _distribution_check(
                name,
                (ref, cur),
                values,
                "chi2",
                chi.p_value,
                lambda a: sig.mde_js(n_e, chi.dof, a),
                policy,
            ),
            _missing_check(name, ref, cur, policy),
        ],
        statistics=values,
        reference=_shares(r),
        current=_shares(c),
        labels=labels,
    )


def correct(assessments: Iterable[Assessment], policy: MonitoringPolicy) -> int:
    """Holm over every check in the family; set each check's corrected p-value, minimum
    detectable effect and verdict. Returns the family's size."""
    pending = [p for a in assessments for p in a.checks]
    family = [p for p in pending if p.in_family]
    adjusted = sig.holm([1.0 if p.check.p_value is None else p.check.p_value for p in family])
    level = policy.alpha / max(len(family), 1)
    for p in pending:
        if p.check.verdict != "insufficient_data":
            p.check.minimum_detectable_effect = p.mde(level)
    for p, corrected in zip(family, adjusted, strict=True):
        c = p.check
        c.corrected_p_value = corrected
        c.drift = c.statistic >= c.threshold and corrected < policy.alpha
        c.verdict = "drift" if c.drift else "no_drift"
    return len(family)
