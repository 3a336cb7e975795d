"""Confidence-based performance estimation (CBPE) for binary classifiers: what ROC AUC,
accuracy and F1 a window would show once its labels arrive, from its scores alone.

The method (Kivimäki et al.; NannyML's CBPE): a calibrated score is the probability that the
row is positive, so each row is an expected fraction of a true positive (predicted positive)
or of a false negative (predicted negative); summed, they are the window's expected confusion
counts, and sorted by score, its expected ROC curve. It assumes no concept drift (P(y | score)
as on the holdout) and a calibrated score.

Calibration (:func:`fit`), at validation, on the version's labelled holdout: isotonic
regression of the label on the score by pool-adjacent-violators (numpy only). The fitted
function is a step function: ``edges`` split the score axis into blocks, each with its
calibrated probability and the holdout rows it was fitted on. It is kept only when it lowers
the expected calibration error of the raw score on held-out folds (:func:`check`, the test
NannyML's CBPE applies); otherwise the raw score is the probability (a score outside [0, 1]
is always calibrated), represented by the same steps on fine quantile blocks.

Counting (:class:`Blocks`): a window's rows counted per (block, predicted class): integers,
so the sum of per-file or per-map-child counts equals one pass exactly and the distributed
run gives the inline answer bit for bit. Every estimate is a function of those counts
(:func:`estimate`). Within a block the calibrated probability is constant, so the expected
counts and the expected ROC AUC from the block counts equal the row-by-row computation.

Bands: ``lower``/``upper`` = value ± 1.96 standard errors (95 %), clipped to [0, 1]; the
variance adds (a) the spread of the realized metric when each label is Bernoulli(p) with the
calibrated p (Poisson-binomial for accuracy and F1 by the delta method; Hanley and McNeil's
formula for ROC AUC at the expected class sizes), and (b) the calibration's own error, each
block's probability estimated from its holdout rows (variance p~(1 - p~)/(m + 2), p~ the
Agresti-Coull centre), carried to the metric by its derivative in that probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

METHOD = "cbpe"
Z = 1.959963984540054  # 95 % two-sided
ECE_BINS = 10  # equal-frequency bins of the expected calibration error
FOLDS = 5  # the calibration check's held-out folds
MAX_BLOCKS = 1000  # a version record stays small (DynamoDB items: 400 KB)
IDENTITY_BLOCKS = 1000  # quantile blocks standing for an uncalibrated score
SEED = 20260


@dataclass(frozen=True)
class Steps:
    """A non-decreasing step function of the raw score: block ``b`` holds the scores in
    ``[edges[b - 1], edges[b])`` (the first and last blocks are open-ended, as isotonic
    regression clips), mapped to ``probabilities[b]``, fitted on ``support[b]`` rows."""

    edges: np.ndarray  # K - 1 increasing interior edges
    probabilities: np.ndarray  # K, non-decreasing
    support: np.ndarray  # K, holdout rows per block

    def block(self, scores: np.ndarray) -> np.ndarray:
        found: np.ndarray = np.searchsorted(self.edges, scores, side="right")
        return found

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        calibrated: np.ndarray = self.probabilities[self.block(scores)]
        return calibrated

    @property
    def blocks(self) -> int:
        return len(self.probabilities)


def pav(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool adjacent violators over points already in score order: the weighted least
    squares non-decreasing fit, as ``(first point, mean, weight)`` of each block. Any order of
    pooling adjacent violators reaches the same fit, so each pass pools every maximal run of
    non-rising means at once (vectorized; a handful of passes on real scores)."""
    starts: np.ndarray = np.arange(len(values), dtype=np.int64)
    means: np.ndarray = np.asarray(values, np.float64)
    totals: np.ndarray = np.asarray(weights, np.float64)
    while len(means) > 1:
        falls = means[1:] <= means[:-1]
        if not falls.any():
            break
        group = np.r_[0, np.cumsum(~falls)]
        first = np.r_[0, np.flatnonzero(~falls) + 1]
        sums = np.bincount(group, weights=means * totals)
        totals = np.bincount(group, weights=totals)
        means, starts = sums / totals, starts[first]
    return starts, means, totals


def isotonic(scores: np.ndarray, positive: np.ndarray) -> Steps:
    """Isotonic regression of ``positive`` (0/1) on ``scores``: equal scores pooled first,
    then :func:`pav`; each edge halfway between two blocks' nearest scores."""
    x, inverse = np.unique(np.asarray(scores, np.float64), return_inverse=True)
    weight = np.bincount(inverse, minlength=len(x)).astype(np.float64)
    hits = np.bincount(inverse, weights=positive.astype(np.float64), minlength=len(x))
    starts, means, support = pav(hits / weight, weight)
    lows = x[starts]
    highs = x[np.r_[starts[1:] - 1, len(x) - 1]]
    edges = (highs[:-1] + lows[1:]) / 2.0
    return _capped(Steps(edges, np.clip(means, 0.0, 1.0), support))


def identity(scores: np.ndarray) -> Steps:
    """The raw score as its own probability, on quantile blocks of the holdout's scores
    (each block's probability: the mean score of its holdout rows; an empty block takes its
    lower edge)."""
    x = np.sort(np.asarray(scores, np.float64))
    cuts = np.unique(np.quantile(x, np.linspace(0, 1, IDENTITY_BLOCKS + 1)[1:-1]))
    at = np.searchsorted(cuts, x, side="right")
    support = np.bincount(at, minlength=len(cuts) + 1).astype(np.float64)
    sums = np.bincount(at, weights=x, minlength=len(cuts) + 1)
    lower = np.r_[x[:1], cuts]
    means = np.where(support > 0, sums / np.maximum(support, 1), lower)
    return Steps(cuts, np.clip(np.maximum.accumulate(means), 0.0, 1.0), support)


def _capped(steps: Steps) -> Steps:
    """At most :data:`MAX_BLOCKS` blocks: consecutive blocks pooled in equal runs."""
    k = steps.blocks
    if k <= MAX_BLOCKS:
        return steps
    group = np.arange(k) * MAX_BLOCKS // k
    support = np.bincount(group, weights=steps.support)
    means = np.bincount(group, weights=steps.probabilities * steps.support) / support
    last = np.r_[np.flatnonzero(np.diff(group)), k - 1]
    return Steps(steps.edges[last[:-1]], means, support)


def ece(probabilities: np.ndarray, positive: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error on equal-frequency bins of the probabilities."""
    order = np.argsort(probabilities, kind="stable")
    p, y = probabilities[order], positive[order].astype(np.float64)
    total = 0.0
    for part in np.array_split(np.arange(len(p)), min(bins, len(p))):
        if len(part):
            total += len(part) * abs(float(p[part].mean() - y[part].mean()))
    return total / len(p) if len(p) else 0.0


def brier(probabilities: np.ndarray, positive: np.ndarray) -> float:
    return float(np.mean((probabilities - positive.astype(np.float64)) ** 2))


def check(scores: np.ndarray, positive: np.ndarray, folds: int = FOLDS) -> dict[str, Any]:
    """Whether isotonic calibration improves on the raw score, measured where it was not
    fitted: ``folds`` shuffled folds (fixed seed), each scored by a calibration fitted on the
    others; the ECE and Brier score of the raw and the calibrated probabilities, averaged.
    ``improves``: the calibrated ECE is lower and its Brier score no higher (a proper
    score: isotonic steps fitted on a small holdout can lower the binned ECE while fitting
    noise), or the raw score is not a probability."""
    n = len(scores)
    raw_is_probability = bool(n and scores.min() >= 0.0 and scores.max() <= 1.0)
    order = np.random.default_rng(SEED).permutation(n)
    found: dict[str, list[float]] = {k: [] for k in ("ece_raw", "ece", "brier_raw", "brier")}
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part, assume_unique=True)
        if not len(part) or not len(rest):
            continue
        steps = isotonic(scores[rest], positive[rest])
        calibrated, y = steps(scores[part]), positive[part]
        found["ece"].append(ece(calibrated, y))
        found["brier"].append(brier(calibrated, y))
        if raw_is_probability:
            found["ece_raw"].append(ece(scores[part], y))
            found["brier_raw"].append(brier(scores[part], y))
    means = {k: (float(np.mean(v)) if v else None) for k, v in found.items()}
    improves = not raw_is_probability or (
        _below(means["ece"], means["ece_raw"]) and not _below(means["brier_raw"], means["brier"])
    )
    return {"folds": folds, "bins": ECE_BINS, **means, "improves": bool(improves)}


def _below(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and a < b


def fit(scores: np.ndarray, positive: np.ndarray) -> tuple[Steps, dict[str, Any]]:
    """The calibration a version keeps, and the check that chose it."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive).astype(bool)
    verdict = check(scores, positive)
    steps = isotonic(scores, positive) if verdict["improves"] else identity(scores)
    return steps, verdict


def calibration_record(
    scores: np.ndarray, positive: np.ndarray, positive_class: str
) -> dict[str, Any] | None:
    """The version's ``validation.calibration`` (JSON), or None when the holdout cannot
    calibrate (non-finite scores, a single class)."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive).astype(bool)
    if len(scores) < 2 or not np.isfinite(scores).all() or positive.all() or not positive.any():
        return None
    steps, verdict = fit(scores, positive)
    return {
        "method": "isotonic" if verdict["improves"] else "identity",
        "positive_class": positive_class,
        "rows": len(scores),
        "edges": steps.edges.tolist(),
        "probabilities": steps.probabilities.tolist(),
        "support": steps.support.tolist(),
        "check": verdict,
    }


def steps_of(record: dict[str, Any]) -> Steps:
    return Steps(
        np.asarray(record["edges"], np.float64),
        np.asarray(record["probabilities"], np.float64),
        np.asarray(record["support"], np.float64),
    )


@dataclass
class Blocks:
    """A window's rows counted per calibration block and predicted class: ``counts[2b]``
    predicted negative, ``counts[2b + 1]`` predicted positive; ``missing``: rows without a
    finite score. Mergeable exactly (integer sums)."""

    counts: list[int] = field(default_factory=list)
    missing: int = 0

    def merge(self, other: Blocks) -> Blocks:
        if not self.counts or not other.counts:
            counts = list(self.counts or other.counts)
        else:
            counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        return Blocks(counts, self.missing + other.missing)

    def table(self, blocks: int) -> np.ndarray:
        """``(blocks, 2)`` counts: column 0 predicted negative, 1 predicted positive."""
        if not self.counts:
            return np.zeros((blocks, 2), np.int64)
        return np.asarray(self.counts, np.int64).reshape(blocks, 2)


class Counter(Protocol):
    """Adds the bin counts of finite values to ``out`` for the steps' edges
    (:class:`steward.domain.binning.Binner` is one)."""

    def count_into(self, values: np.ndarray, out: np.ndarray) -> None: ...


def count(
    steps: Steps,
    scores: np.ndarray,
    predicted_positive: np.ndarray,
    binner: Counter | None = None,
) -> tuple[np.ndarray, int]:
    """Per (block, predicted class) counts of rows (flattened ``2 * blocks``) and the rows
    without a finite score. The drift pass's hot path: each class's scores are counted on
    the blocks by ``binner``, the exact lookup-table binner the drift pass gives
    (:class:`steward.domain.binning.Binner` on the steps' edges: the counts of
    ``searchsorted(edges, side="right")`` at a fraction of its cost); without one, or for a
    batch of fewer than 16 rows a block (its tables would cost more), a search."""
    finite = np.isfinite(scores)
    missing = int(len(scores) - np.count_nonzero(finite))
    if missing:
        scores, predicted_positive = scores[finite], predicted_positive[finite]
    predicted = predicted_positive.astype(bool, copy=False)
    if binner is None or len(scores) < 16 * steps.blocks:
        at = steps.block(scores) * 2 + predicted
        small: np.ndarray = np.bincount(at, minlength=2 * steps.blocks)
        return small, missing
    counted = np.zeros(2 * steps.blocks, np.int64)
    every, positive = np.zeros(steps.blocks, np.int64), np.zeros(steps.blocks, np.int64)
    binner.count_into(scores, every)  # every row, then the positive ones: one mask, not two
    binner.count_into(scores[predicted], positive)
    counted[0::2], counted[1::2] = every - positive, positive
    return counted, missing


def _band(value: float, variance: float) -> dict[str, float]:
    sd = float(np.sqrt(max(variance, 0.0)))
    return {
        "value": value,
        "lower": max(0.0, value - Z * sd),
        "upper": min(1.0, value + Z * sd),
        "std": sd,
    }


def expected_confusion(table: np.ndarray, p: np.ndarray) -> dict[str, float]:
    predicted_no, predicted_yes = table[:, 0].astype(np.float64), table[:, 1].astype(np.float64)
    return {
        "tp": float(predicted_yes @ p),
        "fp": float(predicted_yes @ (1 - p)),
        "tn": float(predicted_no @ (1 - p)),
        "fn": float(predicted_no @ p),
    }


def expected_auc(n: np.ndarray, p: np.ndarray) -> float | None:
    """The area under the expected ROC curve (expected true and false positives above each
    block's scores, straight within a block), blocks in score order; None with no expected
    positive or negative."""
    pos, neg = n * p, n * (1 - p)
    total_pos, total_neg = float(pos.sum()), float(neg.sum())
    if total_pos <= 0 or total_neg <= 0:
        return None
    above = np.cumsum(pos[::-1])[::-1] - pos  # expected positives in higher blocks
    return float(neg @ (above + pos / 2.0)) / (total_pos * total_neg)


def auc_from_counts(positives: np.ndarray, negatives: np.ndarray) -> float | None:
    """ROC AUC from per-bin label counts (bins in score order, a tie within a bin counting a
    half): with one score per bin it is the Mann-Whitney AUC of the rows."""
    n = positives + negatives
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, positives / np.maximum(n, 1), 0.0)
    return expected_auc(n.astype(np.float64), p)


def _calibration_variance(steps: Steps) -> np.ndarray:
    m = steps.support
    centre = (steps.probabilities * m + 1) / (m + 2)
    variance: np.ndarray = centre * (1 - centre) / (m + 2)
    return variance


def _auc_variance(table: np.ndarray, p: np.ndarray, auc: float, cal: np.ndarray) -> float:
    n = table.sum(axis=1).astype(np.float64)
    pos, neg = n * p, n * (1 - p)
    total_pos, total_neg = float(pos.sum()), float(neg.sum())
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    sampling = (
        auc * (1 - auc) + (total_pos - 1) * (q1 - auc * auc) + (total_neg - 1) * (q2 - auc * auc)
    ) / (total_pos * total_neg)
    above = np.cumsum(pos[::-1])[::-1] - pos
    below = np.cumsum(neg) - neg
    d_u = n * (below - above + (neg - pos) / 2.0)
    d_auc = d_u / (total_pos * total_neg) - auc * (n / total_pos - n / total_neg)
    return float(max(sampling, 0.0) + (d_auc * d_auc) @ cal)


def estimate(blocks: Blocks, steps: Steps) -> dict[str, Any] | None:
    """``{"method", "rows", "roc_auc", "accuracy", "f1", "confusion"}`` (each metric
    ``{"value", "lower", "upper", "std"}``; ``confusion`` the expected counts) from a
    window's merged block counts; None without rows."""
    table = blocks.table(steps.blocks)
    rows = int(table.sum())
    if not rows:
        return None
    p = steps.probabilities
    cal = _calibration_variance(steps)
    predicted_no, predicted_yes = table[:, 0].astype(np.float64), table[:, 1].astype(np.float64)
    n = predicted_no + predicted_yes
    bernoulli = p * (1 - p)
    confusion = expected_confusion(table, p)
    found: dict[str, Any] = {"method": METHOD, "rows": rows, "missing_scores": blocks.missing}

    accuracy = (confusion["tp"] + confusion["tn"]) / rows
    d_acc = (predicted_yes - predicted_no) / rows
    found["accuracy"] = _band(accuracy, float(n @ bernoulli) / rows**2 + float(d_acc**2 @ cal))

    tp, fn, predicted = confusion["tp"], confusion["fn"], float(predicted_yes.sum())
    denominator = predicted + tp + fn
    if denominator > 0:
        f1 = 2 * tp / denominator
        d_tp, d_fn = 2 * (predicted + fn) / denominator**2, -2 * tp / denominator**2
        sampling = d_tp**2 * float(predicted_yes @ bernoulli)
        sampling += d_fn**2 * float(predicted_no @ bernoulli)
        d_f1 = d_tp * predicted_yes + d_fn * predicted_no
        found["f1"] = _band(f1, sampling + float(d_f1**2 @ cal))
    else:
        found["f1"] = _band(0.0, 0.0)

    auc = expected_auc(n, p)
    found["roc_auc"] = _band(auc, _auc_variance(table, p, auc, cal)) if auc is not None else None
    found["confusion"] = confusion
    return found


def compare(estimated: dict[str, Any], realized: dict[str, float]) -> dict[str, Any]:
    """Estimate and realized side by side: ``{metric: {"estimated", "realized", "error",
    "within_band"}}`` for the metrics both have (``error`` = estimated - realized)."""
    side: dict[str, Any] = {}
    for metric in ("roc_auc", "accuracy", "f1"):
        band, actual = estimated.get(metric), realized.get(metric)
        if band is None or actual is None:
            continue
        side[metric] = {
            "estimated": band["value"],
            "realized": actual,
            "error": band["value"] - actual,
            "within_band": bool(band["lower"] <= actual <= band["upper"]),
        }
    return side
