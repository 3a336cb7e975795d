"""The scorer: resolve the version(s), validate, route, predict, hand the records off."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel

from steward.domain.errors import Conflict, NotFound
from steward.domain.frames import Columns
from steward.domain.models import Model, ModelVersion, Status, Task
from steward.ports import ArtifactStore, LogSink, ModelStore
from steward.registry.integrity import fetch_verified
from steward.runtimes.base import Prediction, Runtime
from steward.runtimes.loader import load_runtime
from steward.scoring.inputs import PredictRequest, quality_flags, to_columns
from steward.scoring.routing import Route, Variant, route

MODEL_TTL_S = 5.0  # a promotion reaches warm functions within this time
SERVABLE = frozenset({Status.APPROVED, Status.PENDING_APPROVAL})


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]]
    model: str
    version: int
    request_ids: list[str]
    versions: list[int] | None = None  # per record, when a canary splits the batch
    flagged: int = 0  # records scored with quality flags (out of range, unseen, null)


@dataclass
class _Cached:
    value: Any
    until: float


def _outputs(task: Task, prediction: Prediction) -> list[dict[str, Any]]:
    """The answer per record (one comprehension per shape: this runs for every row)."""
    values = prediction.values.tolist()
    scores = prediction.scores.tolist() if prediction.scores is not None else None
    if task is Task.CLASSIFICATION:
        if scores is None:
            return [{"label": v} for v in values]
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
        self._versions: dict[tuple[str, int], ModelVersion] = {}
        self._runtimes: dict[tuple[str, int, str], Runtime] = {}
        self._lock = threading.Lock()

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
        key = (name, number)
        version = self._versions.get(key)
        if version is None or version.status not in SERVABLE:
            version = self.store.get_version(name, number)  # statuses change: re-read those
            self._versions[key] = version
        return version

    def runtime(self, version: ModelVersion) -> Runtime:
        """Loaded once per (name, version, sha256) per warm function, integrity-checked."""
        key = (version.name, version.version, version.sha256)
        runtime = self._runtimes.get(key)
        if runtime is None:
            with self._lock:
                runtime = self._runtimes.get(key)
                if runtime is None:
                    data = fetch_verified(self.artifacts, version)
                    runtime = load_runtime(version.flavor, data, version.signature, version.task)
                    self._runtimes[key] = runtime
        return runtime

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

    def _servable(self, name: str, number: int) -> ModelVersion:
        version = self.version(name, number)
        if version.status not in SERVABLE:
            raise Conflict(f"version {number} of {name} is {version.status.value}")
        return version

    def predict(
        self,
        name: str,
        request: PredictRequest,
        *,
        version: int | None = None,
        alias: str | None = None,
    ) -> PredictResponse:
        model = self.model(name)
        pinned, primary = self._plan(model, version, alias)
        primary_version = self._servable(name, primary)
        columns = to_columns(request, primary_version.signature)
        rows = request.rows
        base = uuid.uuid4().hex
        request_ids = [f"{base}-{i}" for i in range(rows)]
        if pinned is not None:
            routes = [pinned] * rows
        elif model.traffic.challenger is None:  # champion only: no per-record hashing
            routes = [Route(primary, Variant.CHAMPION)] * rows
        else:
            routes = [route(model.traffic, k) for k in (request.keys or request_ids)]

        # One runtime call per (version, answered-or-shadow) group of rows.
        jobs: dict[tuple[int, bool], list[int]] = {}
        for i, r in enumerate(routes):
            jobs.setdefault((r.version, False), []).append(i)
            if r.shadow_version is not None:
                jobs.setdefault((r.shadow_version, True), []).append(i)

        answers: list[dict[str, Any]] = [{}] * rows
        answered = [primary] * rows
        flags = quality_flags(columns, primary_version.signature)
        log = _LogColumns(list(columns))
        for (number, is_shadow), members in jobs.items():
            target = primary_version if number == primary else self._servable(name, number)
            index = np.asarray(members)
            subset = columns if len(members) == rows else {k: v[index] for k, v in columns.items()}
            t0 = time.perf_counter()
            prediction = self.runtime(target).predict(subset)
            latency_ms = (time.perf_counter() - t0) * 1000 / len(members)
            outputs = _outputs(target.task, prediction)
            if is_shadow:
                variants = [Variant.SHADOW.value] * len(members)
            elif len(members) == rows:  # the whole request went to one version
                answers, answered = outputs, [number] * rows
                variants = [routes[0].variant.value] * rows
            else:
                for j, i in enumerate(members):
                    answers[i], answered[i] = outputs[j], number
                variants = [routes[i].variant.value for i in members]
            log.add(subset, members, request_ids, number, variants, prediction, latency_ms, flags)
        self.sink.send("predictions", name, log.batch())
        return PredictResponse.model_construct(  # our own values: no need to re-validate
            predictions=answers,
            model=name,
            version=primary,
            request_ids=request_ids,
            versions=answered if len(set(answered)) > 1 else None,
            flagged=sum(1 for f in flags if f),
        )

    def feedback(self, name: str, labels: list[tuple[str, Any]]) -> int:
        self.model(name)
        batch = {
            "ts": datetime.now(UTC).isoformat(),
            "rows": len(labels),
            "columns": {
                "request_id": [rid for rid, _ in labels],
                "label": [_plain(label) for _, label in labels],
            },
        }
        self.sink.send("feedback", name, batch)
        return len(labels)


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
        self.flags: list[list[str]] = []

    def add(
        self,
        subset: Columns,
        members: list[int],
        request_ids: list[str],
        version: int,
        variants: list[str],
        prediction: Prediction,
        latency_ms: float,
        flags: list[list[str]],
    ) -> None:
        n = len(members)
        self.request_id += [request_ids[i] for i in members]
        self.version += [version] * n
        self.variant += variants
        for name, values in subset.items():
            self.features[name] += _json_values(values)
        self.prediction += _json_values(prediction.values)
        self.score += prediction.scores.tolist() if prediction.scores is not None else [None] * n
        self.latency_ms += [latency_ms] * n
        self.flags += [flags[i] for i in members]

    def batch(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "rows": len(self.request_id),
            "columns": {
                "request_id": self.request_id,
                "version": self.version,
                "variant": self.variant,
                "features": self.features,
                "prediction": self.prediction,
                "score": self.score,
                "latency_ms": self.latency_ms,
                "flags": self.flags,
            },
        }


def _json_values(values: np.ndarray) -> list[Any]:
    """Array values as JSON-ready Python values (NaN becomes null)."""
    if values.dtype.kind == "f" and np.isnan(values).any():
        return [None if v != v else v for v in values.tolist()]
    out: list[Any] = values.tolist()
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
