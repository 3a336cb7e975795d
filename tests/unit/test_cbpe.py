"""CBPE maths (steward.stats.cbpe): the isotonic fit against scikit-learn's, the block-count
estimates against row-by-row computations, mergeability and the bands' coverage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from steward.domain.binning import Binner
from steward.stats import cbpe
from steward.stats.performance import roc_auc

scores_st = arrays(
    np.float64,
    st.integers(2, 80),
    elements=st.floats(0, 1, allow_nan=False, allow_subnormal=False),
)


def _labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n) < 0.5


@settings(max_examples=200, deadline=None)
@given(scores_st, st.integers(0, 2**31))
def test_isotonic_equals_scikit_learn_on_the_fitted_points(scores: np.ndarray, seed: int) -> None:
    from sklearn.isotonic import IsotonicRegression

    scores = np.round(scores, 6)  # scikit-learn pools scores within 1e-15 of each other
    y = _labels(len(scores), seed)
    steps = cbpe.isotonic(scores, y)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(scores, y.astype(float))
    np.testing.assert_allclose(steps(scores), theirs.predict(scores), atol=1e-12)
    assert np.all(np.diff(steps.probabilities) > 0)  # blocks pooled until strictly rising
    assert steps.support.sum() == len(scores)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 60), elements=st.floats(-5, 5, allow_nan=False), unique=True),
    st.integers(0, 2**31),
)
def test_auc_from_bins_equals_auc_on_data_when_scores_fall_in_distinct_bins(
    scores: np.ndarray, seed: int
) -> None:
    y = _labels(len(scores), seed)
    order = np.argsort(scores)
    positives, negatives = y[order].astype(float), (~y[order]).astype(float)
    theirs, ours = roc_auc(y, scores), cbpe.auc_from_counts(positives, negatives)
    if theirs is None:
        assert ours is None
    else:
        assert ours == pytest.approx(theirs, abs=1e-12)


def _rowwise(probabilities: np.ndarray, said: np.ndarray) -> dict[str, float]:
    """NannyML's CBPE, row by row: expected counts and the trapezoid under the expected ROC
    curve, rows sorted by calibrated probability (ties one threshold)."""
    p = probabilities
    counts = {
        "tp": float(p[said].sum()),
        "fp": float((1 - p[said]).sum()),
        "tn": float((1 - p[~said]).sum()),
        "fn": float(p[~said].sum()),
    }
    order = np.argsort(-p, kind="stable")
    tp = np.r_[0, np.cumsum(p[order])]
    fp = np.r_[0, np.cumsum(1 - p[order])]
    auc = float(np.trapezoid(tp / tp[-1], fp / fp[-1])) if tp[-1] > 0 and fp[-1] > 0 else 0.0
    return {**counts, "auc": auc}


@settings(max_examples=200, deadline=None)
@given(scores_st, st.integers(0, 2**31), st.floats(0.05, 0.95))
def test_block_counts_give_the_row_by_row_expected_counts_and_auc(
    scores: np.ndarray, seed: int, threshold: float
) -> None:
    rng = np.random.default_rng(seed)
    holdout = rng.random(200)
    steps = cbpe.isotonic(holdout, rng.random(200) < holdout)
    said = scores >= threshold
    counted, missing = cbpe.count(steps, scores, said)
    found = cbpe.estimate(cbpe.Blocks(counted.tolist(), missing), steps)
    expected = _rowwise(steps(scores), said)
    assert found is not None and missing == 0
    for k in ("tp", "fp", "tn", "fn"):
        assert found["confusion"][k] == pytest.approx(expected[k], abs=1e-9)
    assert found["accuracy"]["value"] == pytest.approx(
        (expected["tp"] + expected["tn"]) / len(scores), abs=1e-12
    )
    p = steps(scores)
    if p.sum() > 0 and (1 - p).sum() > 0:
        assert found["roc_auc"]["value"] == pytest.approx(expected["auc"], abs=1e-9)
    for metric in ("accuracy", "f1"):
        band = found[metric]
        assert band["lower"] <= band["value"] <= band["upper"]


@settings(max_examples=100, deadline=None)
@given(scores_st, st.integers(1, 79), st.integers(0, 2**31))
def test_counts_merge_exactly(scores: np.ndarray, cut: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = cbpe.isotonic(rng.random(100), rng.random(100) < 0.4)
    said = scores > 0.5
    cut = min(cut, len(scores))
    whole = cbpe.Blocks(*_counted(steps, scores, said))
    parts = cbpe.Blocks(*_counted(steps, scores[:cut], said[:cut])).merge(
        cbpe.Blocks(*_counted(steps, scores[cut:], said[cut:]))
    )
    assert parts == whole
    assert cbpe.estimate(parts, steps) == cbpe.estimate(whole, steps)


def _counted(steps: cbpe.Steps, scores: np.ndarray, said: np.ndarray) -> tuple[list[int], int]:
    counted, missing = cbpe.count(steps, scores, said)
    return counted.tolist(), missing


def test_missing_scores_are_counted_apart() -> None:
    steps = cbpe.isotonic(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1], bool))
    counted, missing = cbpe.count(steps, np.array([0.1, np.nan, 0.9]), np.array([0, 0, 1], bool))
    assert missing == 1 and counted.sum() == 2


def test_the_estimate_tracks_realized_metrics_under_covariate_shift() -> None:
    """Labels drawn from the calibrated probabilities (no concept drift): across shifted
    windows the estimate follows the realized metrics, and the 95 % bands hold them."""
    rng = np.random.default_rng(7)
    holdout = rng.beta(2, 2, 20_000)
    steps, verdict = cbpe.fit(holdout, rng.random(20_000) < holdout)
    assert verdict["improves"] is False  # already calibrated: the identity is kept
    covered = []
    for a, b in [(2, 2), (1, 3), (3, 1), (0.5, 0.5), (5, 5)]:
        scores = rng.beta(a, b, 10_000)
        y = rng.random(10_000) < scores
        said = scores >= 0.5
        counted, missing = cbpe.count(steps, scores, said)
        found = cbpe.estimate(cbpe.Blocks(counted.tolist(), missing), steps)
        assert found is not None
        realized = {"roc_auc": roc_auc(y, scores), "accuracy": float(np.mean(y == said))}
        side = cbpe.compare(found, {k: v for k, v in realized.items() if v is not None})
        assert abs(side["roc_auc"]["error"]) < 0.02
        assert abs(side["accuracy"]["error"]) < 0.02
        covered += [side[m]["within_band"] for m in side]
    assert np.mean(covered) >= 0.8


def test_a_miscalibrated_score_is_calibrated_and_the_check_says_why() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(5_000)
    y = rng.random(5_000) < truth
    record = cbpe.calibration_record(truth**3, y, "1")  # squashed: badly calibrated
    assert record is not None and record["method"] == "isotonic"
    check = record["check"]
    assert check["improves"] and check["ece"] < check["ece_raw"]
    assert check["brier"] < check["brier_raw"]
    steps = cbpe.steps_of(record)
    assert abs(float(steps(np.array([0.125]))[0]) - 0.5) < 0.08


def test_no_calibration_from_a_single_class() -> None:
    assert cbpe.calibration_record(np.array([0.1, 0.2]), np.array([1, 1], bool), "1") is None


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(0, 3000), elements=st.floats(-2, 3) | st.just(np.nan)),
    st.integers(0, 2**31),
)
def test_counts_equal_a_search_of_the_block_edges(scores: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    holdout = rng.random(400)
    steps = cbpe.isotonic(holdout, rng.random(400) < holdout)
    values = np.r_[scores, steps.edges, np.nextafter(steps.edges, -np.inf)]
    said = rng.random(len(values)) < 0.5
    counted, missing = cbpe.count(steps, values, said, Binner(steps.edges))
    assert np.array_equal(counted, cbpe.count(steps, values, said)[0])  # binned = searched
    finite = np.isfinite(values)
    at = np.searchsorted(steps.edges, values[finite], side="right") * 2 + said[finite]
    assert np.array_equal(counted, np.bincount(at, minlength=2 * steps.blocks))
    assert missing == int(np.count_nonzero(~finite))
