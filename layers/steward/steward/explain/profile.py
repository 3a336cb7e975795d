"""A version's attribution profile: the mean absolute attribution of each feature over (the
first rows of) its reference sample, per explained class for multiclass models. Part of the
version's evidence, and the reference of attribution drift."""

from __future__ import annotations

from typing import Any

import numpy as np

from steward.domain.errors import ValidationFailed
from steward.domain.frames import Columns, n_rows
from steward.explain.explainer import Explainer
from steward.runtimes.base import Runtime

PROFILE_ROWS = 200  # bounds the cost at registration (rows x background x leaves)
SAMPLED_PROFILE_ROWS = 50  # sampling_shap: each row costs up to its budget of model calls


def attribution_profile(runtime: Runtime, reference: Columns | None) -> dict[str, Any] | None:
    """``{"method", "output_space", "rows", "features": {feature: mean |phi|},
    "classes": {class: {feature: mean |phi|}}}`` (classes for multiclass only); None when the
    model has no numeric explanation (rule sets, graphs no method reads) or no reference."""
    if reference is None or n_rows(reference) == 0:
        return None
    try:
        explainer = Explainer(runtime, reference)
        if explainer.method == "rule":
            return None
        limit = SAMPLED_PROFILE_ROWS if explainer.method == "sampling_shap" else PROFILE_ROWS
        rows = min(limit, n_rows(reference))
        attributed = explainer.attribute({k: v[:rows] for k, v in reference.items()})
    except ValidationFailed:
        return None
    names = attributed.names
    matrix = np.abs(attributed.values)
    profile: dict[str, Any] = {
        "method": attributed.method,
        "output_space": attributed.output_space,
        "rows": rows,
        "features": dict(zip(names, matrix.mean(axis=0).tolist(), strict=True)),
    }
    if attributed.classes is not None:
        labels = np.array(attributed.classes, dtype=object)
        profile["classes"] = {
            str(c): dict(zip(names, matrix[labels == c].mean(axis=0).tolist(), strict=True))
            for c in sorted(set(attributed.classes))
        }
    return profile
