"""The built-in trainer against scikit-learn's fits (metrics: steward.stats.performance)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from steward.domain.errors import ValidationFailed
from steward.domain.models import Flavor
from steward.lifecycle.trainer import fit_linear, fit_logistic, refit


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
