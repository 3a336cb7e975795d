"""Holdout metrics against scikit-learn, and the built-in trainer against its fits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression

from steward.domain import metrics
from steward.domain.errors import ValidationFailed
from steward.domain.models import Flavor
from steward.lifecycle.trainer import fit_linear, fit_logistic, refit


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.floats(0, 1, allow_nan=False)), min_size=2, max_size=60
    )
)
def test_classification_metrics_match_scikit_learn(pairs: list[tuple[int, float]]) -> None:
    y = np.array([p[0] for p in pairs], dtype=float)
    s = np.array([round(p[1], 3) for p in pairs])  # rounding makes ties
    got = metrics.classification(y, s)
    predicted = (s >= 0.5).astype(int)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert got["precision"] == pytest.approx(sk.precision_score(y, predicted, zero_division=0))
    assert got["recall"] == pytest.approx(sk.recall_score(y, predicted, zero_division=0))
    assert got["f1"] == pytest.approx(sk.f1_score(y, predicted, zero_division=0))
    clipped = np.clip(s, 1e-15, 1 - 1e-15)
    assert got["log_loss"] == pytest.approx(sk.log_loss(y, clipped, labels=[0, 1]))
    if 0 < y.sum() < len(y):
        assert got["auc"] == pytest.approx(sk.roc_auc_score(y, s))
    else:
        assert "auc" not in got


def test_regression_and_decision_metrics() -> None:
    y, v = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    got = metrics.regression(y, v)
    assert got["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, v)))
    assert got["mae"] == pytest.approx(sk.mean_absolute_error(y, v))
    assert metrics.decision(["a", "b", "a"], ["a", "a", "a"])["accuracy"] == pytest.approx(2 / 3)


def _data(n: int = 4000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, 72, n).astype(float), rng.normal(70, 20, n)])
    p = 1 / (1 + np.exp(-(-1.0 - 0.04 * x[:, 0] + 0.02 * x[:, 1])))
    return x, (rng.random(n) < p).astype(float)


def test_logistic_fit_equals_an_unpenalized_scikit_learn_fit() -> None:
    x, y = _data()
    intercept, coefficients = fit_logistic(x, y)
    reference = LogisticRegression(C=np.inf, max_iter=5000, tol=1e-10).fit(x, y)
    assert intercept == pytest.approx(reference.intercept_[0], abs=1e-4)
    assert coefficients == pytest.approx(reference.coef_[0], abs=1e-5)


def test_linear_fit_equals_least_squares() -> None:
    x, _ = _data()
    y = 3.0 + x @ np.array([0.5, -0.25]) + np.random.default_rng(1).normal(0, 0.1, len(x))
    intercept, coefficients = fit_linear(x, y)
    reference = LinearRegression().fit(x, y)
    assert intercept == pytest.approx(reference.intercept_, abs=1e-8)
    assert coefficients == pytest.approx(reference.coef_, abs=1e-10)


def test_refit_keeps_the_champions_shape_and_refuses_other_flavors() -> None:
    x, y = _data()
    spec = {"intercept": 0.0, "coefficients": {"tenure": 0.0, "charges": 0.0}, "threshold": 0.4}
    out = json.loads(refit(Flavor.LOGISTIC, spec, x, y))
    assert set(out["coefficients"]) == {"tenure", "charges"} and out["threshold"] == 0.4
    assert out["coefficients"]["tenure"] == pytest.approx(-0.04, abs=0.01)
    with pytest.raises(ValidationFailed, match="external trainer"):
        refit(Flavor.ONNX, spec, x, y)
