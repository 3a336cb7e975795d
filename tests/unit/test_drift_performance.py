"""Performance and fairness maths against scikit-learn on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from steward.drift import fairness
from steward.stats import performance

binary_rows = st.integers(min_value=2, max_value=120).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from(["0", "1"]), min_size=n, max_size=n),
        st.lists(st.sampled_from(["0", "1"]), min_size=n, max_size=n),
        # coarse scores make ties, which ROC AUC must average like scikit-learn
        st.lists(
            st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1)),
            min_size=n,
            max_size=n,
        ),
    )
)


@settings(max_examples=30, deadline=None)
@given(binary_rows)
def test_binary_metrics_equal_scikit_learn(rows: tuple[list[str], list[str], list[float]]) -> None:
    labels, predictions = (np.array(v, dtype=object) for v in rows[:2])
    p = np.array(rows[2])
    found = performance.classification(labels, predictions, p, positive="1")["metrics"]
    assert found["accuracy"] == pytest.approx(sk.accuracy_score(labels, predictions), abs=1e-12)
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        expected = fn(labels, predictions, pos_label="1", average="binary", zero_division=0)
        assert found[name] == pytest.approx(expected, abs=1e-12), name
    actual = (labels == "1").astype(int)
    if 0 < actual.sum() < len(actual):
        assert found["roc_auc"] == pytest.approx(sk.roc_auc_score(actual, p), abs=1e-9)
        assert found["log_loss"] == pytest.approx(sk.log_loss(actual, p), rel=1e-9, abs=1e-9)
    else:
        assert "roc_auc" not in found


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 200).flatmap(
        lambda n: st.tuples(
            st.lists(st.sampled_from("abcd"), min_size=n, max_size=n),
            st.lists(st.sampled_from("abcde"), min_size=n, max_size=n),
        )
    )
)
def test_multiclass_macro_metrics_equal_scikit_learn(rows: tuple[list[str], list[str]]) -> None:
    labels, predictions = (np.array(v, dtype=object) for v in rows)
    found = performance.classification(labels, predictions)
    if len(set(rows[0]) | set(rows[1])) > 2:
        assert found["average"] == "macro"
        for name, fn in (
            ("precision", sk.precision_score),
            ("recall", sk.recall_score),
            ("f1", sk.f1_score),
        ):
            expected = fn(labels, predictions, average="macro", zero_division=0)
            assert found["metrics"][name] == pytest.approx(expected, abs=1e-12), name
        assert "roc_auc" not in found["metrics"]


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 200).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n),
            st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n),
        )
    )
)
def test_regression_metrics_equal_scikit_learn(rows: tuple[list[float], list[float]]) -> None:
    y, yhat = np.array(rows[0]), np.array(rows[1])
    found = performance.regression(y, yhat)["metrics"]
    assert found["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, yhat)), rel=1e-9)
    assert found["mae"] == pytest.approx(sk.mean_absolute_error(y, yhat), rel=1e-9, abs=1e-9)


def test_auc_needs_both_classes_and_points_give_no_log_loss() -> None:
    assert performance.roc_auc(np.array([True, True]), np.array([0.2, 0.9])) is None
    labels = np.array(["1", "0", "1"], dtype=object)
    points = np.array([610.0, 420.0, 700.0])  # scorecard points: rank-based AUC only
    found = performance.classification(labels, labels, points, positive="1")["metrics"]
    assert found["roc_auc"] == 1.0 and "log_loss" not in found


def test_checks_against_policy_and_registered_metrics() -> None:
    metrics = {"roc_auc": 0.70, "accuracy": 0.9, "log_loss": 0.5}
    found = performance.checks(metrics, {"auc": 0.81}, {"accuracy": 0.95, "log_loss": 0.6})
    by = {(c["metric"], c["kind"]): c for c in found}
    assert by[("accuracy", "min")]["breach"]  # 0.9 under the floor 0.95
    assert not by[("log_loss", "max")]["breach"]  # 0.5 under the ceiling 0.6
    drop = by[("roc_auc", "drop")]
    assert drop["registered"] == 0.81 and drop["value"] == pytest.approx(0.11 / 0.81)
    assert drop["breach"]  # 13.6 % worse than registered, default bound 10 %
    assert not performance.checks(metrics, {"auc": 0.81}, {"performance_drop": 0.2})[0]["breach"]
    assert performance.verdict(0, found, {}) == "no_labels"
    assert performance.verdict(50, found, {}) == "insufficient_labels"
    assert performance.verdict(500, found, {}) == "degraded"
    assert performance.verdict(500, [], {}) == "ok"


def test_fairness_selection_rates_disparate_impact_and_tpr_against_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    groups = rng.choice(["f", "m", "x"], n).astype(object)
    labels = rng.choice(["0", "1"], n).astype(object)
    bias = np.where(groups == "f", 0.25, 0.5)
    predictions = np.where(rng.random(n) < bias, "1", "0").astype(object)
    counts: dict[str, dict[str, int]] = {}
    for g, p in zip(groups, predictions, strict=True):
        counts.setdefault(g, {}).setdefault(p, 0)
        counts[g][p] += 1
    found = fairness.assess({"sex": counts}, {"sex": groups}, labels, predictions, "1", {})
    sex = found["attributes"]["sex"]
    rates = {g: float(np.mean(predictions[groups == g] == "1")) for g in ("f", "m", "x")}
    tprs = {
        g: sk.recall_score(labels[groups == g], predictions[groups == g], pos_label="1")
        for g in ("f", "m", "x")
    }
    for g in rates:
        assert sex["groups"][g]["selection_rate"] == pytest.approx(rates[g])
        assert sex["groups"][g]["tpr"] == pytest.approx(tprs[g])
        assert sex["groups"][g]["tpr_difference"] == pytest.approx(max(tprs.values()) - tprs[g])
    assert sex["disparate_impact"] == pytest.approx(min(rates.values()) / max(rates.values()))
    assert sex["disparate_impact"] < 0.8 and sex["flagged"] and found["flagged"] == ["sex"]
    lenient = fairness.assess({"sex": counts}, None, None, None, "1", {"disparate_impact": 0.3})
    assert not lenient["attributes"]["sex"]["flagged"]  # threshold overridden, no labels
    assert lenient["attributes"]["sex"]["tpr_difference"] is None


def test_disparate_impact_edge_cases() -> None:
    assert fairness.disparate_impact({"a": 0.5}) is None  # one group: nothing to compare
    assert fairness.disparate_impact({"a": 0.0, "b": 0.0}) == 1.0
