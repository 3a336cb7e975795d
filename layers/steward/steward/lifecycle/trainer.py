"""The built-in trainer: refits linear and logistic decision models on labelled logs.

Large models train elsewhere (a SageMaker training job or an ECS task); this one fits the
JSON models that the registry serves without any ML library, in a Lambda, in seconds.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from steward.domain.errors import ValidationFailed
from steward.domain.models import Flavor

BUILTIN = frozenset({Flavor.LINEAR, Flavor.LOGISTIC})
RIDGE = 1e-6
IRLS_STEPS = 50


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return (x - mean) / scale, mean, scale


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Newton/IRLS with a tiny ridge on standardized inputs; returns raw-scale weights."""
    z, mean, scale = _standardize(x)
    design = np.hstack([np.ones((len(z), 1)), z])
    w = np.zeros(design.shape[1])
    ridge = RIDGE * np.eye(design.shape[1])
    for _ in range(IRLS_STEPS):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -35, 35)))
        gradient = design.T @ (y - p) - RIDGE * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.max(np.abs(step)) < 1e-10:
            break
    coefficients = w[1:] / scale
    return float(w[0] - coefficients @ mean), coefficients


def fit_linear(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    design = np.hstack([np.ones((len(x), 1)), x])
    w, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(w[0]), w[1:]


def refit(flavor: Flavor, spec: dict[str, Any], x: np.ndarray, y: np.ndarray) -> bytes:
    """A new artifact of the champion's kind, on the champion's features."""
    if flavor not in BUILTIN:
        raise ValidationFailed(
            f"the built-in trainer refits {sorted(f.value for f in BUILTIN)} models, not "
            f"{flavor.value}: configure an external trainer for it"
        )
    names = list(spec["coefficients"])
    fit = fit_logistic if flavor is Flavor.LOGISTIC else fit_linear
    intercept, weights = fit(x, y)
    out = {
        **spec,
        "intercept": intercept,
        "coefficients": dict(zip(names, weights.tolist(), strict=True)),
    }
    return json.dumps(out, sort_keys=True).encode()
