"""Multiclass performance maths against scikit-learn on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from steward.stats import performance

CLASSES = ["a", "b", "c", "d"]


@st.composite
def scored_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(3, 150))
    labels = draw(st.lists(st.sampled_from(CLASSES), min_size=n, max_size=n))
    predictions = draw(st.lists(st.sampled_from([*CLASSES, "e"]), min_size=n, max_size=n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # coarse probabilities make ties, which ROC AUC must average like scikit-learn
    p = rng.dirichlet(np.ones(len(CLASSES)), size=n)
    if draw(st.booleans()):
        p = np.round(p * 4) + 0.5
        p /= p.sum(axis=1, keepdims=True)
    return np.array(labels, dtype=np.str_), np.array(predictions, dtype=np.str_), p


@settings(max_examples=60, deadline=None)
@given(scored_rows())
def test_multiclass_metrics_equal_scikit_learn(rows: tuple[np.ndarray, ...]) -> None:
    y, yhat, p = rows
    found = performance.classification(y, yhat, p.max(axis=1), None, p, CLASSES)
    metrics = found["metrics"]
    assert found["average"] == "macro"
    assert metrics["accuracy"] == pytest.approx(sk.accuracy_score(y, yhat), abs=1e-12)
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1_macro", sk.f1_score),
    ):
        expected = fn(y, yhat, average="macro", zero_division=0)
        assert metrics[name] == pytest.approx(expected, abs=1e-12), name
    assert metrics["f1"] == metrics["f1_macro"]
    weighted = sk.f1_score(y, yhat, average="weighted", zero_division=0)
    assert metrics["f1_weighted"] == pytest.approx(weighted, abs=1e-12)
    union = sorted(set(y.tolist()) | set(yhat.tolist()))
    recalls = sk.recall_score(y, yhat, labels=union, average=None, zero_division=0)
    assert found["per_class"]["recall"] == pytest.approx(dict(zip(union, recalls, strict=True)))
    assert metrics["log_loss"] == pytest.approx(sk.log_loss(y, p, labels=CLASSES), rel=1e-9)
    if set(y.tolist()) == set(CLASSES):
        expected_auc = sk.roc_auc_score(y, p, multi_class="ovr", labels=CLASSES)
        assert metrics["roc_auc"] == pytest.approx(expected_auc, abs=1e-9)


def test_roc_auc_skips_classes_without_positives_and_log_loss_counts_unknown_labels() -> None:
    y = np.array(["a", "b", "a", "b"])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4]])
    found = performance.multiclass(y, np.array(["a", "b", "a", "c"]), p, ["a", "b", "c"])
    # "c" never occurs: its one-vs-rest AUC is undefined and left out of the macro mean
    a = sk.roc_auc_score(y == "a", p[:, 0])
    b = sk.roc_auc_score(y == "b", p[:, 1])
    assert found["metrics"]["roc_auc"] == pytest.approx((a + b) / 2)
    unknown = performance.multiclass(np.array(["z"]), np.array(["a"]), p[:1], ["a", "b", "c"])
    assert unknown["metrics"]["log_loss"] == pytest.approx(-np.log(np.finfo(float).eps))


def test_a_three_class_model_stays_multiclass_when_a_window_shows_two_classes() -> None:
    y, yhat = np.array(["0", "1", "1"]), np.array(["0", "1", "0"])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
    found = performance.classification(y, yhat, p.max(axis=1), "1", p, ["0", "1", "2"])
    assert found["average"] == "macro" and "f1_weighted" in found["metrics"]
    binary = performance.classification(y, yhat, p[:, 1], "1")
    assert binary["average"] == "binary"


def test_holdout_metrics_of_a_multiclass_model_include_probability_metrics() -> None:
    labels = [0, 1, 2, 2]
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]])
    values = p.argmax(axis=1)
    found = performance.holdout(False, labels, values, p.max(axis=1), p, ["0", "1", "2"])
    assert found["log_loss"] == pytest.approx(sk.log_loss(labels, p))
    assert found["roc_auc"] == pytest.approx(sk.roc_auc_score(labels, p, multi_class="ovr"))
    assert found["f1_weighted"] == pytest.approx(sk.f1_score(labels, values, average="weighted"))
