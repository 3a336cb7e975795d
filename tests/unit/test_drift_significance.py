"""Significance in drift verdicts: the numpy-only distributions and tests against scipy, Holm
against a plain implementation, minimum detectable effects against simulated power, and the
verdicts themselves on small and large windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sps

from bench import drift_quality
from bench.peer_envs import replicates as rep
from steward.domain.models import MonitoringPolicy
from steward.domain.profile import quantile_edges, summarize_numeric
from steward.stats import distributions
from steward.stats import significance as sig

# --- distributions against scipy ------------------------------------------------------------


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(st.floats(0, 400), st.integers(1, 120))
def test_chi2_sf_and_isf_match_scipy(x: float, dof: int) -> None:
    assert sig.chi2_sf(x, dof) == pytest.approx(sps.chi2.sf(x, dof), rel=1e-8, abs=1e-14)
    p = sps.chi2.sf(x, dof)
    if 1e-12 < p < 1 - 1e-9:
        assert sig.chi2_isf(p, dof) == pytest.approx(x, rel=1e-6, abs=1e-6)


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(st.floats(1e-6, 300), st.integers(1, 60), st.floats(0.01, 300))
def test_noncentral_chi2_matches_scipy(x: float, dof: int, nc: float) -> None:
    assert sig.ncx2_sf(x, dof, nc) == pytest.approx(sps.ncx2.sf(x, dof, nc), rel=1e-6, abs=1e-12)


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(st.floats(1e-12, 1 - 1e-12))
def test_normal_isf_matches_scipy(p: float) -> None:
    assert sig.normal_isf(p) == pytest.approx(sps.norm.isf(p), rel=1e-7, abs=1e-9)


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(st.floats(0.05, 4))
def test_kolmogorov_sf_matches_scipy(x: float) -> None:
    assert sig.kolmogorov_sf(x) == pytest.approx(sps.kstwobign.sf(x), rel=1e-8, abs=1e-14)


@pytest.mark.parametrize(("alpha", "dof"), [(0.05, 1), (0.05 / 12, 9), (0.01, 4)])
def test_noncentrality_gives_the_power(alpha: float, dof: int) -> None:
    nc = sig.noncentrality(alpha, dof)
    assert sps.ncx2.sf(sps.chi2.isf(alpha, dof), dof, nc) == pytest.approx(0.8, abs=1e-6)


# --- tests against scipy --------------------------------------------------------------------

table_counts = arrays(np.float64, st.integers(2, 30), elements=st.integers(0, 500).map(float))


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(table_counts, st.data())
def test_homogeneity_is_scipys_chi2_contingency_on_the_pooled_table(
    ref: np.ndarray, data: st.DataObject
) -> None:
    cur = data.draw(arrays(np.float64, len(ref), elements=st.integers(0, 500).map(float)))
    test = sig.homogeneity(ref, cur)
    if ref.sum() == 0 or cur.sum() == 0:
        assert test == sig.Test(0.0, 1.0, 0)
        return
    r, c = sig.pool_sparse(ref, cur)
    assert r.sum() == ref.sum() and c.sum() == cur.sum()
    if test.dof == 0:
        assert test.p_value == 1.0
        return
    n, m = r.sum(), c.sum()
    # every pooled cell is adequate, judged on the reference's share (the grouping's rule)
    assert np.all(r / n * min(n, m) >= sig.MIN_EXPECTED - 1e-9)
    expected = sps.chi2_contingency(np.array([r, c]), correction=False)
    assert test.statistic == pytest.approx(expected.statistic, rel=1e-9, abs=1e-9)
    assert test.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    assert test.dof == expected.dof


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(st.integers(0, 300), st.integers(1, 300), st.integers(0, 300), st.integers(1, 300))
def test_proportions_is_the_two_by_two_chi_square(a: int, n: int, b: int, m: int) -> None:
    a, b = min(a, n), min(b, m)
    test = sig.proportions(a, n, b, m)
    if 0 < a + b < n + m:
        expected = sps.chi2_contingency(np.array([[a, n - a], [b, m - b]]), correction=False)
        assert test.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    else:
        assert test.p_value == 1.0 and test.dof == 0


def _holm_plain(p: list[float]) -> list[float]:
    """Holm by the book: step down through the sorted p-values."""
    k = len(p)
    order = np.argsort(p, kind="stable")
    out = [0.0] * k
    best = 0.0
    for rank, i in enumerate(order):
        best = max(best, (k - rank) * p[i])
        out[i] = min(best, 1.0)
    return out


@settings(deadline=None)  # timing on a shared machine is not what is tested
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_holm_matches_a_plain_implementation(p: list[float]) -> None:
    assert sig.holm(p) == pytest.approx(_holm_plain(p))
    # and rejecting at the adjusted values is Holm's step-down rule
    alpha = 0.05
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = set()
    for rank, i in enumerate(order):
        if p[i] >= alpha / (len(p) - rank):
            break
        rejected.add(i)
    assert {i for i, q in enumerate(sig.holm(p)) if q < alpha} == rejected


def test_holm_on_a_hand_computed_case() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> max(0.06, 0.04)
    assert sig.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert sig.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


# --- minimum detectable effects against simulated power -------------------------------------


def _power(trials: int, reject: object) -> float:
    return float(np.mean([reject(i) for i in range(trials)]))  # type: ignore[operator]


def test_mde_of_a_rate_is_detected_about_80_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    n, m, base, alpha = 2_000, 500, 0.02, 0.01
    effect = sig.mde_rate(base, sig.effective_n(n, m), alpha)
    assert effect is not None

    def reject(_: int) -> bool:
        a, b = rng.binomial(n, base), rng.binomial(m, base + effect)
        return sig.proportions(a, n, b, m).p_value < alpha

    assert 0.7 <= _power(1_000, reject) <= 0.9


def test_mde_of_a_category_change_is_detected_about_80_percent_of_the_time() -> None:
    rng = np.random.default_rng(8)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    n, m, alpha = 5_000, 800, 0.01
    js = sig.mde_js(sig.effective_n(n, m), len(p) - 1, alpha)
    assert js is not None
    # a change of the direction (+, -, +, -) scaled until its JS distance is the MDE
    direction = np.array([1.0, -1.0, 1.0, -1.0])
    scale = 0.0
    for _ in range(60):
        q = p + (scale + 0.001) * direction
        if distributions.js_distance(p, q) > js:
            break
        scale += 0.001
    q = p + scale * direction

    def reject(_: int) -> bool:
        return sig.homogeneity(rng.multinomial(n, p), rng.multinomial(m, q)).p_value < alpha

    assert 0.7 <= _power(1_000, reject) <= 0.9


def test_mde_of_a_shift_is_an_upper_bound_that_is_not_loose() -> None:
    rng = np.random.default_rng(9)
    reference = rng.normal(size=20_000)
    edges = quantile_edges(reference)
    ref = np.array(summarize_numeric(reference, edges).counts, float)
    bounds = np.concatenate([[reference.min()], edges, [reference.max()]])
    groups = distributions.coarse_groups(ref)
    m, alpha = 400, 0.01
    shift = sig.mde_shift(ref, bounds, groups, 1.0, sig.effective_n(20_000, m), m / 20_400, alpha)
    assert shift is not None and 0.1 < shift < 0.5

    def reject(_: int) -> bool:
        cur = np.array(summarize_numeric(rng.normal(shift, 1, m), edges).counts, float)
        return sig.homogeneity(ref @ _onehot(groups), cur @ _onehot(groups)).p_value < alpha

    assert 0.7 <= _power(400, reject) <= 0.9


def _onehot(groups: np.ndarray) -> np.ndarray:
    return np.eye(int(groups.max()) + 1)[groups]


def test_no_detectable_effect_without_data() -> None:
    assert sig.mde_js(0, 3, 0.05) is None
    assert sig.mde_rate(0.1, 0, 0.05) is None
    assert sig.mde_rate(0.99, 3, 1e-6) is None  # no rate above 1 is reachable


# --- verdicts -------------------------------------------------------------------------------


def _window(rows: int, seed: int, case: str = "none") -> tuple[dict, dict]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    return rep.columns(400, rng, "none"), rep.columns(rows, rng, case)


def test_small_undrifted_windows_flag_nothing_beyond_alpha() -> None:
    """~170 rows against a 400-row reference, 40 seeds: Wasserstein and JS distances of 0.1
    are ordinary noise there (effect sizes alone flagged about half of the features in
    almost every window). With Holm at alpha = 5 % a window raises a flag at most 5 % of
    the time: 2 of 40 expected, 4 allowed (the seeds are fixed: this is deterministic).
    The README's figures for these windows come from here: effect sizes alone (the verdicts
    before significance) flag 39 of the 40 windows, 2.4 of their 6 features on average; with
    significance 3 of the 40 raise one flag."""
    alarms, by_effect_windows, by_effect_features = 0, 0, 0
    for seed in range(40):
        result = drift_quality.steward_report(*_window(170, seed))
        assert len(result.drifted_features) <= 1
        alarms += bool(result.drifted_features)
        by_effect = [
            name
            for name, feature in result.features.items()
            if any(c.statistic is not None and c.statistic >= c.threshold for c in feature.checks)
        ]
        by_effect_windows += bool(by_effect)
        by_effect_features += len(by_effect)
        assert result.verdict == ("drift" if result.drift_detected else "no_drift")
        for feature in result.features.values():
            assert feature.verdict in {"drift", "no_drift"}
            assert feature.p_value is not None and feature.corrected_p_value is not None
            assert feature.corrected_p_value >= feature.p_value
            mde = feature.minimum_detectable_effect
            assert mde is None or mde > feature.threshold  # this window is small: it says so
    assert alarms == 3  # within the 4 allowed; the README quotes it
    assert by_effect_windows == 39 and round(by_effect_features / 40, 1) == 2.4


@pytest.mark.parametrize("seed", range(5))
def test_a_half_sd_shift_in_a_thousand_rows_is_flagged(seed: int) -> None:
    reference, window = rep.replicate(1_000, "shift_0.5", seed)
    result = drift_quality.steward_report(reference, window)
    assert result.drifted_features == ["n0"]
    n0 = result.features["n0"]
    assert n0.test == "wasserstein" and n0.statistic > 0.4 and n0.corrected_p_value < 1e-6
    assert n0.minimum_detectable_effect is not None and n0.minimum_detectable_effect < 0.3
    assert n0.significance_test == "ks+chi2"


def test_a_tiny_window_is_insufficient_data_even_when_it_looks_drifted() -> None:
    reference, window = _window(40, 1, "missing_20%")
    window["n0"] = window["n0"] + 3.0  # three standard deviations
    result = drift_quality.steward_report(reference, window)
    assert {f.verdict for f in result.features.values()} == {"insufficient_data"}
    assert not any(f.drift for f in result.features.values())
    assert result.verdict == "insufficient_data" and not result.drift_detected
    assert result.features["n0"].statistic > 2  # the effect is there, the sample is not
    assert result.features["n0"].corrected_p_value is None
    assert result.significance["tests"] == 0


def test_min_rows_and_alpha_come_from_the_policy() -> None:
    reference, window = _window(40, 1)
    window["n0"] = window["n0"] + 3.0
    policy = MonitoringPolicy(min_rows=20, alpha=0.01)
    result = drift_quality.steward_report(reference, window, policy)
    assert result.features["n0"].verdict == "drift"
    assert result.significance | {"tests": 0} == {
        "alpha": 0.01,
        "correction": "holm",
        "tests": 0,
        "min_rows": 20,
        "power": 0.8,
    }
    assert result.significance["tests"] >= 6  # six distributions, missing share where any


def test_a_large_window_keeps_effect_size_deciding() -> None:
    """At 200k rows a shift of 0.05 sd is overwhelmingly significant and still not drift
    (under the 0.1 threshold); a new category of 10 % is both."""
    rng = np.random.default_rng(3)
    reference = rep.columns(200_000, rng, "none")
    window = rep.columns(200_000, rng, "new_category_10%")
    window["n0"] = window["n0"] + 0.05
    result = drift_quality.steward_report(reference, window)
    n0 = result.features["n0"]
    assert n0.corrected_p_value < 1e-9 and n0.statistic < n0.threshold and not n0.drift
    assert result.drifted_features == ["c0"]
    assert n0.minimum_detectable_effect is not None and n0.minimum_detectable_effect < 0.05


def test_missing_share_drift_is_its_own_check() -> None:
    reference, window = rep.replicate(1_000, "missing_20%", 0)
    feature = drift_quality.steward_report(reference, window).features["n0"]
    assert feature.drift and feature.test == "missing_rate" and feature.significance_test == "z"
    assert [c.test for c in feature.checks] == ["wasserstein", "missing_rate"]
    assert feature.checks[1].drift and not feature.checks[0].drift
    assert feature.statistic == pytest.approx(0.2, abs=0.05)


def test_the_quality_bench_core_on_a_tiny_configuration() -> None:
    results = drift_quality.steward_jobs(drift_quality.jobs_for([200], [2]))
    assert len(results) == 2 * len(rep.CASES)
    assert all(
        r["checksum"] == rep.checksum(*rep.replicate(200, r["case"], r["replicate"]))
        for r in results[:2]
    )
    table = drift_quality.rates(results)[200]
    assert set(table) == {"false_alarm", "errors", "replicates", *rep.CASES[1:]}
    assert table["replicates"] == 2 and table["missing_20%"] == 1.0
    assert 0 <= table["errors"] <= 2 and not math.isnan(table["errors"])
    text = drift_quality.markdown({"steward": drift_quality.rates(results)})
    assert "| false alarm (no drift) |" in text and "n = 200" in text


def test_the_html_report_shows_p_values_and_insufficient_data() -> None:
    from steward.drift.html import render

    reference, window = rep.replicate(1_000, "shift_0.5", 0)
    page = render(drift_quality.steward_report(reference, window))
    assert "<th>p-value</th><th>corrected p</th><th>smallest detectable</th>" in page
    assert "corrected (Holm) over the report's" in page
    n0 = page[page.index("<th scope='row'>n0</th>") :].split("</tr>")[0]
    assert n0.endswith("<td>drift</td>") and "e-" in n0  # a tiny p-value, in exponent form
    tiny = render(drift_quality.steward_report(*_window(40, 1)))
    assert "v1: Insufficient data</h1>" in tiny and "<td>insufficient data</td>" in tiny
