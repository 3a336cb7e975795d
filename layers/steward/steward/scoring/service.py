"""The scorer: resolve the version(s), validate, route, predict, hand the records off."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from steward.domain import log_schema as schema
from steward.domain.errors import Conflict, NotFound
from steward.domain.frames import Columns
from steward.domain.identity import Identity, Role
from steward.domain.models import Flavor, Model, ModelVersion, Status, Task
from steward.explain.sampling import Budget
from steward.ports import ArtifactStore, LogSink, ModelStore
from steward.registry.integrity import fetch_verified
from steward.runtimes.base import Prediction, Runtime
from steward.runtimes.loader import load_runtime
from steward.scoring.explanations import Explainers, ExplainResponse, answer, reasons
from steward.scoring.inputs import MAX_ROWS, PredictRequest, quality_flags, to_columns
from steward.scoring.per_version import PerVersion
from steward.scoring.routing import Route, Variant, assign
from steward.scoring.tracing import subsegment

# A promotion, and a version's status change, reach warm functions within this time.
MODEL_TTL_S = 5.0
SERVABLE = frozenset({Status.APPROVED})  # only approved versions answer clients


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]] = Field(
        description="One answer per record: classification {label, probability} (binary: the "
        "positive class's probability; multiclass: the top class's, and probabilities, "
        "{class: p} for every class, summing to 1), regression {value}, decision models "
        "{outcome, score, explanation}"
    )
    model: str
    version: int = Field(
        description="The version that answered every record; when a canary split the "
        "records between versions, the champion's, and `versions` says who answered which"
    )
    request_ids: list[str]
    versions: list[int] | None = Field(
        default=None,
        description="The version that answered each record, in order: present only when "
        "records of this request were answered by different versions",
    )
    flagged: int = 0  # records scored with quality flags (out of range, unseen, null)


_INDEXES = [str(i) for i in range(MAX_ROWS)]


def request_id_batch(rows: int) -> list[str]:
    """One id per record: a fresh 128-bit random prefix (uuid4) per request, then the record's
    index. Unique as long as uuid4 is, unguessable from other requests' ids, and one uuid4 per
    request instead of one per row (1,000 ids: ~0.1 ms instead of ~2 ms)."""
    prefix = uuid.uuid4().hex + "-"
    return list(map(prefix.__add__, _INDEXES[:rows]))


@dataclass
class _Cached:
    value: Any
    until: float


def class_probabilities(prediction: Prediction) -> list[dict[str, float]] | None:
    """A multiclass prediction's ``{class: probability}`` per record (None otherwise): the
    same dicts go to the answer and to the log."""
    if not prediction.multiclass:
        return None
    assert prediction.probabilities is not None and prediction.classes is not None
    rows = prediction.probabilities.tolist()
    return list(map(dict, map(zip, repeat(prediction.classes), rows)))  # ~3x a comprehension


def _outputs(
    task: Task, prediction: Prediction, probabilities: list[dict[str, float]] | None
) -> list[dict[str, Any]]:
    """The answer per record (one comprehension per shape: this runs for every row)."""
    values = prediction.values.tolist()
    scores = prediction.scores.tolist() if prediction.scores is not None else None
    if task is Task.CLASSIFICATION:
        if scores is None:
            return [{"label": v} for v in values]
        if probabilities is not None:
            return [
                {"label": v, "probability": p, "probabilities": d}
                for v, p, d in zip(values, scores, probabilities, strict=True)
            ]
        return [{"label": v, "probability": p} for v, p in zip(values, scores, strict=True)]
    if task is Task.REGRESSION:
        return [{"value": v} for v in values]
    out = [{"outcome": v} for v in values]
    if scores is not None:
        for item, score in zip(out, scores, strict=True):
            item["score"] = score
    if prediction.explanations is not None:
        for item, explanation in zip(out, prediction.explanations, strict=True):
            item["explanation"] = explanation
    return out


class Scorer:
    def __init__(
        self,
        store: ModelStore,
        artifacts: ArtifactStore,
        sink: LogSink,
        *,
        clock: Callable[[], float] = time.monotonic,
        model_ttl_s: float = MODEL_TTL_S,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.sink = sink
        self._clock = clock
        self._ttl = model_ttl_s
        self._models: dict[str, _Cached] = {}
        self._versions: dict[tuple[str, int], _Cached] = {}
        self._runtimes: PerVersion[Runtime] = PerVersion()
        self.explainers = Explainers(artifacts)

    # -- caches --------------------------------------------------------------------------

    def model(self, name: str) -> Model:
        cached = self._models.get(name)
        now = self._clock()
        if cached is None or cached.until < now:
            cached = _Cached(self.store.get_model(name), now + self._ttl)
            self._models[name] = cached
        model: Model = cached.value
        return model

    def version(self, name: str, number: int) -> ModelVersion:
        """Cached like the model record: an archived or rejected version stops answering
        within the TTL."""
        key = (name, number)
        cached = self._versions.get(key)
        now = self._clock()
        if cached is None or cached.until < now:
            cached = _Cached(self.store.get_version(name, number), now + self._ttl)
            self._versions[key] = cached
        version: ModelVersion = cached.value
        return version

    def runtime(self, version: ModelVersion) -> Runtime:
        """Loaded once per (name, version, sha256) per warm function, integrity-checked."""
        return self._runtimes.get(version, lambda: self._load(version))

    def _load(self, version: ModelVersion) -> Runtime:
        with subsegment("load_model", model=version.name, version=version.version):
            data = fetch_verified(self.artifacts, version)
            return load_runtime(version.flavor, data, version.signature, version.task)

    # -- scoring -------------------------------------------------------------------------

    def _plan(
        self, model: Model, version: int | None, alias: str | None
    ) -> tuple[Route | None, int]:
        """A pinned route (``?version=``/``?alias=``) or None for the traffic policy, and
        the version whose signature validates the input."""
        if version is not None:
            return Route(version, Variant.PINNED), version
        if alias is not None:
            if alias not in model.aliases:
                raise NotFound(f"{model.name} has no alias {alias}")
            return Route(model.aliases[alias], Variant.PINNED), model.aliases[alias]
        if model.traffic.champion is None:
            raise Conflict(f"{model.name} has no production version to serve")
        return None, model.traffic.champion

    def flavors(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> set[Flavor]:
        """The flavors a request may need: the pinned version's, or the champion's and the
        challenger's (cached reads; raises as :meth:`predict` would)."""
        model = self.model(name)
        pinned, primary = self._plan(model, version, alias)
        numbers = {primary}
        if pinned is None and model.traffic.challenger is not None:
            numbers.add(model.traffic.challenger)
        return {self._servable(name, n).flavor for n in numbers}

    def _servable(self, name: str, number: int) -> ModelVersion:
        version = self.version(name, number)
        if version.status not in SERVABLE:
            raise Conflict(
                f"version {number} of {name} is {version.status.value}: only APPROVED "
                "versions answer"
            )
        return version

    def predict(
        self,
        name: str,
        request: PredictRequest,
        *,
        version: int | None = None,
        alias: str | None = None,
        explain: int | None = None,
    ) -> PredictResponse:
        """Score the records; with ``explain=K`` each answer also carries its ``reasons``
        (see :func:`steward.scoring.explanations.reasons`) from the version that answered."""
        model = self.model(name)
        pinned, primary = self._plan(model, version, alias)
        primary_version = self._servable(name, primary)
        columns = to_columns(request, primary_version.signature)
        rows = request.rows
        request_ids = request_id_batch(rows)
        flags, flagged = quality_flags(columns, primary_version.signature)
        if pinned is not None:
            jobs: dict[tuple[int, Variant], np.ndarray | None] = {
                (pinned.version, pinned.variant): None
            }
        else:
            jobs = assign(model.traffic, request.keys or request_ids)

        answers: list[dict[str, Any]] = []
        answered: list[int] = []
        log = _LogColumns(list(columns))
        for (number, variant), members in jobs.items():
            target = primary_version if number == primary else self._servable(name, number)
            subset = columns if members is None else {k: v[members] for k, v in columns.items()}
            count = rows if members is None else len(members)
            runtime = self.runtime(target)
            with subsegment("predict", model=name, version=number, rows=count):
                t0 = time.perf_counter()
                prediction = runtime.predict(subset)
                latency_ms = (time.perf_counter() - t0) * 1000 / count
            probabilities = class_probabilities(prediction)
            if variant is not Variant.SHADOW:
                outputs = _outputs(target.task, prediction, probabilities)
                if members is None:  # the whole request went to one version: the common case
                    answers, answered = outputs, [number] * rows
                else:
                    if not answers:
                        answers, answered = [{}] * rows, [primary] * rows
                    for j, i in enumerate(members.tolist()):
                        answers[i], answered[i] = outputs[j], number
            log.add(subset, members, request_ids, number, variant, prediction, latency_ms, flags)
            if probabilities is not None:
                log.add_probabilities(probabilities)
        if explain:
            answers = self._with_reasons(model, columns, answers, answered, explain)
        with subsegment("log_handoff", model=name):
            self.sink.send("predictions", name, log.batch())
        split = len(set(answered)) > 1
        return PredictResponse.model_construct(  # our own values: no need to re-validate
            predictions=answers,
            model=name,
            version=primary if split else answered[0],
            request_ids=request_ids,
            versions=answered if split else None,
            flagged=flagged,
        )

    def _with_reasons(
        self,
        model: Model,
        columns: Columns,
        answers: list[dict[str, Any]],
        answered: list[int],
        top: int,
    ) -> list[dict[str, Any]]:
        out = list(answers)
        for number in sorted(set(answered)):
            index = [i for i, v in enumerate(answered) if v == number]
            subset = (
                columns
                if len(index) == len(answered)
                else {k: v[index] for k, v in columns.items()}
            )
            target = self._servable(model.name, number)
            with subsegment("explain", model=model.name, version=number, rows=len(index)):
                explainer = self.explainers.get(target, self.runtime(target))
                explanation = explainer.explain(subset, _budget(model))
            found = reasons(explanation, top, model.adverse_direction)
            for i, items in zip(index, found, strict=True):
                out[i] = {**out[i], "reasons": items}
        return out

    def explain(
        self,
        name: str,
        request: PredictRequest,
        *,
        version: int | None = None,
        alias: str | None = None,
        budget: int | None = None,
        error: float | None = None,
    ) -> ExplainResponse:
        """Attributions for the records, from the pinned version or else the champion (a
        canary's split does not apply: an explanation names the version it explains).
        ``budget``/``error`` override the model's explain policy for ``sampling_shap``."""
        model = self.model(name)
        _, number = self._plan(model, version, alias)
        target = self._servable(name, number)
        columns = to_columns(request, target.signature)
        with subsegment("explain", model=name, version=number, rows=request.rows):
            explainer = self.explainers.get(target, self.runtime(target))
            explanation = explainer.explain(columns, _budget(model, budget, error))
        return answer(name, number, explanation)

    def feedback(self, name: str, labels: list[tuple[str, Any]], caller: Identity) -> int:
        """Ground truth feeds performance and retraining: only an application or a data
        scientist sends it."""
        caller.require(Role.APPLICATION, Role.DATA_SCIENTIST)
        self.model(name)
        batch = {
            "ts": datetime.now(UTC).isoformat(),
            "rows": len(labels),
            "columns": {
                schema.REQUEST_ID: [rid for rid, _ in labels],
                schema.LABEL: [_plain(label) for _, label in labels],
            },
        }
        self.sink.send("feedback", name, batch)
        return len(labels)


def _budget(model: Model, evaluations: int | None = None, error: float | None = None) -> Budget:
    """The model's explain policy, with what the request overrides."""
    policy = model.explain
    return Budget(
        evaluations=evaluations if evaluations is not None else policy.budget,
        error=error if error is not None else policy.error,
    )


class _LogColumns:
    """The log batch of one request, built column by column (no per-record dicts)."""

    def __init__(self, features: list[str]) -> None:
        self.ts = datetime.now(UTC).isoformat()
        self.request_id: list[str] = []
        self.version: list[int] = []
        self.variant: list[str] = []
        self.features: dict[str, list[Any]] = {name: [] for name in features}
        self.prediction: list[Any] = []
        self.score: list[float | None] = []
        self.latency_ms: list[float] = []
        self.flags: list[Sequence[str]] = []
        self.probabilities: list[dict[str, float] | None] = []
        self.multiclass = False

    def add(
        self,
        subset: Columns,
        members: np.ndarray | None,
        request_ids: list[str],
        version: int,
        variant: Variant,
        prediction: Prediction,
        latency_ms: float,
        flags: list[Sequence[str]],
    ) -> None:
        """The rows of one runtime call: ``members`` index the request (None: every row)."""
        if members is None:
            n = len(request_ids)
            self.request_id += request_ids
            self.flags += flags
        else:
            index = members.tolist()
            n = len(index)
            self.request_id += [request_ids[i] for i in index]
            self.flags += [flags[i] for i in index]
        self.version += [version] * n
        self.variant += [variant.value] * n
        for name, values in subset.items():
            self.features[name] += _json_values(values)
        self.prediction += _json_values(prediction.values)
        self.score += prediction.scores.tolist() if prediction.scores is not None else [None] * n
        self.latency_ms += [latency_ms] * n
        self.probabilities += [None] * n  # filled by add_probabilities for multiclass rows

    def add_probabilities(self, probabilities: list[dict[str, float]]) -> None:
        """The class probabilities of the rows :meth:`add` just logged."""
        self.probabilities[len(self.probabilities) - len(probabilities) :] = probabilities
        self.multiclass = True

    def batch(self) -> dict[str, Any]:
        columns: dict[str, Any] = {  # the log's columns (features by name: the writer maps them)
            schema.REQUEST_ID: self.request_id,
            schema.VERSION: self.version,
            schema.VARIANT: self.variant,
            "features": self.features,
            schema.PREDICTION: self.prediction,
            schema.SCORE: self.score,
            schema.LATENCY_MS: self.latency_ms,
            schema.FLAGS: self.flags,
        }
        if self.multiclass:
            columns[schema.PROBABILITIES] = self.probabilities
        return {"ts": self.ts, "rows": len(self.request_id), "columns": columns}


def _json_values(values: np.ndarray) -> list[Any]:
    """Array values as JSON-ready Python values (NaN becomes null)."""
    if values.dtype.kind == "f" and np.isnan(values).any():
        return [None if v != v else v for v in values.tolist()]
    out: list[Any] = values.tolist()
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
