"""Explanations served next to scoring: ``POST /models/{name}/explain`` and the ``reasons``
of ``predict?explain=K`` (adverse action reason codes).

The explainer of a version is built once per warm function from its loaded runtime and the
first ``min(100, n)`` rows of its registered reference sample (the background)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from steward.domain.errors import NotFound
from steward.domain.frames import Columns, columns_from_records
from steward.domain.models import ModelVersion
from steward.explain.explainer import BACKGROUND_ROWS, Explainer, Explanation
from steward.ports import ArtifactStore
from steward.registry.core import REFERENCE_FILE
from steward.registry.tabular import decode_sample
from steward.runtimes.base import Runtime
from steward.scoring.per_version import PerVersion

MAX_REASONS = 50


class ExplainResponse(BaseModel):
    model: str
    version: int
    method: str = Field(description="linear | tree_shap | sampling_shap | points | rule")
    output_space: str = Field(description="log_odds | probability | value | points | rule")
    base_value: float | dict[str, float] | None = Field(
        description="The background's mean output; multiclass: {class: base} (each record "
        "explains its predicted class, named in `class`, with its own `base_value`); None "
        "for rule sets"
    )
    explanations: list[dict[str, Any]] = Field(
        description="Per record: {attributions: {feature: phi}, output} with base_value + "
        "sum(attributions) == output; multiclass adds class and base_value; sampling_shap "
        "adds error ({feature: standard error}) and evaluations (model calls spent); rule "
        "sets give {rule, when, output}"
    )


def background_rows(artifacts: ArtifactStore, version: ModelVersion) -> Columns | None:
    uri = f"{version.artifact.uri.rsplit('/', 1)[0]}/{REFERENCE_FILE}"
    try:
        rows = decode_sample(artifacts.get(uri))[0][:BACKGROUND_ROWS]
    except NotFound:
        return None
    return columns_from_records(rows, version.signature) if rows else None


class Explainers:
    """One explainer per (name, version, sha256) per warm function."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self.artifacts = artifacts
        self._cache: PerVersion[Explainer] = PerVersion()

    def get(self, version: ModelVersion, runtime: Runtime) -> Explainer:
        return self._cache.get(
            version, lambda: Explainer(runtime, background_rows(self.artifacts, version))
        )


def answer(name: str, version: int, explanation: Explanation) -> ExplainResponse:
    records: list[dict[str, Any]] = []
    multiclass = explanation.classes is not None
    for i, attributions in enumerate(explanation.attributions):
        record: dict[str, Any] = {"attributions": attributions, "output": explanation.outputs[i]}
        if explanation.classes is not None:
            record["class"] = explanation.classes[i]
            record["base_value"] = explanation.base[i]
        if explanation.rules is not None:
            record.update(explanation.rules[i])
        if explanation.errors is not None and explanation.evaluations is not None:
            record["error"] = explanation.errors[i]
            record["evaluations"] = explanation.evaluations[i]
        records.append(record)
    base: float | dict[str, float] | None
    if multiclass:
        assert explanation.classes is not None
        base = {
            c: b
            for c, b in zip(explanation.classes, explanation.base, strict=True)
            if b is not None
        }
    else:
        base = explanation.base[0] if explanation.base else None
    return ExplainResponse(
        model=name,
        version=version,
        method=explanation.method,
        output_space=explanation.output_space,
        base_value=base,
        explanations=records,
    )


def reasons(explanation: Explanation, top: int, adverse: str) -> list[list[dict[str, Any]]]:
    """Per record, the ``top`` features whose attributions pushed the output furthest towards
    the adverse side (``down``: negative attributions, most negative first; ``up``: positive,
    largest first); fewer when fewer push that way. A rule set's reason is the rule."""
    sign = -1.0 if adverse == "down" else 1.0
    out = []
    for i, attributions in enumerate(explanation.attributions):
        if explanation.rules is not None:
            out.append([{"rule": explanation.rules[i]["rule"]}])
            continue
        adverse_side = [(f, v) for f, v in attributions.items() if sign * v > 0]
        adverse_side.sort(key=lambda item: sign * item[1], reverse=True)
        out.append([{"feature": f, "contribution": v} for f, v in adverse_side[:top]])
    return out
