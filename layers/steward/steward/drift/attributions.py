"""Attribution drift: how the model's reasons moved in a window.

A sample of the window's rows is explained with the version's own explainer and background
(:mod:`steward.explain`); the mean |attribution| per feature (and per explained class, for a
multiclass model) is compared with the version's attribution profile, computed the same way
on its reference sample at registration. The comparison is NDCG exactly as SageMaker Clarify
defines it for feature attribution drift: with ``F`` the features sorted by their reference
attribution ``a(f)`` and ``F'`` sorted by their attribution in the window,
``NDCG = Σ a(F'_i) / log2(i + 1) / Σ a(F_i) / log2(i + 1)`` (Clarify's college-admission
example gives 0.69); below the policy's threshold (0.90, Clarify's) is drift. Each feature's
shift (the window's mean |attribution| minus the reference's, in the output space's units)
and its rank on both sides are reported too: Clarify reports the score only.

The sample is deterministic and independent of how the window is split: a row is taken by
its position among its file's window rows, with gaps drawn from a generator seeded by the
file's key, at the rate ``sample / planned rows`` (the plan's footer counts). Files are
never split between map children, so the children of a distributed run take exactly the
rows one inline pass takes; each returns sums and counts (:class:`Attributions`), which add.
Picking costs nothing per row (only the picked rows are touched): no column is read for it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steward.domain import log_schema as schema
from steward.domain.errors import RuntimeUnavailable, StewardError
from steward.domain.frames import Columns, column, whole_numbers
from steward.domain.models import Flavor, MonitoringPolicy, Signature, Task
from steward.explain.explainer import Explainer
from steward.logs.reader import LogFile, Wanted, is_number
from steward.runtimes.base import Prediction, Runtime
from steward.runtimes.onnx_classes import class_labels
from steward.stats.performance import class_key

CHILD_CAP = 4  # a child explains at most this many times the sample (footers undercounted)


@dataclass
class Attributions:
    """What a set of files contributed: Σ|attribution| per feature over the sampled rows,
    per explained class too (multiclass), with the counts; mergeable (the sums add).
    ``unavailable`` says why nothing was explained (the same in every child)."""

    rows: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    classes: dict[str, dict[str, float]] = field(default_factory=dict)
    class_rows: dict[str, int] = field(default_factory=dict)
    method: str | None = None
    output_space: str | None = None
    unavailable: str | None = None

    def merge(self, other: Attributions) -> Attributions:
        classes = {
            c: _add(self.classes.get(c, {}), other.classes.get(c, {}))
            for c in self.classes.keys() | other.classes.keys()
        }
        counts = {
            c: self.class_rows.get(c, 0) + other.class_rows.get(c, 0)
            for c in self.class_rows.keys() | other.class_rows.keys()
        }
        return Attributions(
            rows=self.rows + other.rows,
            sums=_add(self.sums, other.sums),
            classes=classes,
            class_rows=counts,
            method=self.method or other.method,
            output_space=self.output_space or other.output_space,
            unavailable=self.unavailable or other.unavailable,
        )


def _add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in a.keys() | b.keys()}


def sample_rate(sample_rows: int, planned_rows: int) -> float:
    """The share of rows to explain for about ``sample_rows`` of ``planned_rows``."""
    if sample_rows <= 0:
        return 0.0
    return min(1.0, sample_rows / max(planned_rows, 1))


def _seed(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


class Sampler:
    """A reader of :func:`steward.logs.reader.stream`: picks rows at ``rate`` (see the
    module), keeps their features, and explains them at the end (:meth:`result`)."""

    def __init__(
        self,
        signature: Signature,
        explainer: Explainer | None,
        rate: float,
        cap: int,
        unavailable: str | None = None,
    ) -> None:
        self.signature = signature
        self.explainer = explainer
        self.rate = rate
        self.cap = cap
        self.unavailable = unavailable
        self.columns = [schema.column_of(f.name) for f in signature.inputs]
        self.tables: list[Any] = []
        self.taken = 0
        self.position = 0
        self.next = 0
        self.rng = np.random.default_rng(0)

    def _gap(self) -> int:
        return int(self.rng.geometric(self.rate))

    def wants(self, file: LogFile, key: str) -> Wanted | None:
        """Every feature's column (a file without one, or of the wrong type, is not
        sampled: the explainer needs them all)."""
        if self.explainer is None or self.rate <= 0:
            return None
        for spec, name in zip(self.signature.inputs, self.columns, strict=True):
            if name not in file.names or (spec.numeric and not is_number(file.type_of(name))):
                return None
        self.rng = np.random.default_rng(_seed(key))
        self.position = 0
        self.next = self._gap() - 1
        return Wanted(list(self.columns))

    def add(self, table: Any) -> None:
        import pyarrow as pa

        end = self.position + table.num_rows
        picks: list[int] = []
        while self.next < end:
            picks.append(self.next - self.position)
            self.next += self._gap()
        self.position = end
        picks = picks[: max(0, self.cap - self.taken)]
        if picks:
            self.taken += len(picks)
            self.tables.append(table.select(self.columns).take(pa.array(picks, pa.int64())))

    def read(self, key: str) -> None:
        return None

    def skip(self, key: str, reason: str) -> None:
        return None  # the drift partial reports skipped files

    def rows(self) -> Columns:
        """The picked rows' features: a number column straight from Arrow as float64 (NaN
        where missing, an integer feature's values checked whole, as :func:`column` gives
        it), any other through :func:`column`."""
        import pyarrow as pa

        table = pa.concat_tables(self.tables)
        columns: Columns = {}
        for spec, name in zip(self.signature.inputs, self.columns, strict=True):
            values = table.column(name)
            if spec.numeric:
                floats = values.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
                columns[spec.name] = whole_numbers(spec, np.array(floats, dtype=np.float64))
            else:
                columns[spec.name] = column(spec, values.to_pylist())
        return columns

    def result(self) -> Attributions:
        if self.explainer is None:
            return Attributions(unavailable=self.unavailable)
        found = Attributions(method=self.explainer.method)
        if not self.tables:
            return found
        try:
            attributed = self.explainer.attribute(self.rows())
        except StewardError as exc:  # e.g. a runtime this function does not ship
            return Attributions(unavailable=exc.message)
        found.output_space = attributed.output_space
        if not len(attributed.values):
            return found
        names = attributed.names
        matrix = np.abs(attributed.values)
        kept = np.isfinite(matrix).all(axis=1)  # a missing value a linear model cannot explain
        found.rows = int(kept.sum())
        found.sums = dict(zip(names, matrix[kept].sum(axis=0).tolist(), strict=True))
        if attributed.classes is not None:
            labels = np.array(attributed.classes, dtype=object)
            for c in sorted(set(attributed.classes)):
                mask = kept & (labels == c)
                found.class_rows[c] = int(mask.sum())
                found.classes[c] = dict(zip(names, matrix[mask].sum(axis=0).tolist(), strict=True))
        return found


class GraphRuntime(Runtime):
    """An ONNX graph read as bytes, without onnxruntime (the drift function does not ship
    it): enough for TreeSHAP, which reads the trees from the graph itself. It predicts
    nothing."""

    flavor = "onnx"

    def __init__(self, data: bytes, signature: Signature, task: Task) -> None:
        super().__init__(signature, task)
        self.artifact = data
        classes = class_labels(data) if task is Task.CLASSIFICATION else None
        self.class_names = None if classes is None else [class_key(c) for c in classes]

    def predict(self, columns: Columns) -> Prediction:
        raise RuntimeUnavailable("onnxruntime is not installed here")


def runtime_for(flavor: Flavor, data: bytes, signature: Signature, task: Task) -> Runtime:
    """The version's runtime; an ONNX graph without onnxruntime here as a
    :class:`GraphRuntime` (its trees are explained all the same)."""
    from steward.runtimes.loader import load_runtime

    try:
        return load_runtime(flavor, data, signature, task)
    except RuntimeUnavailable:
        if flavor is not Flavor.ONNX:
            raise
        return GraphRuntime(data, signature, task)


def ndcg(reference: Mapping[str, float], current: Mapping[str, float]) -> float | None:
    """Clarify's NDCG of the window's attribution ranking against the reference's (module
    docstring); ties in the window keep the reference's order. ``None`` when every reference
    attribution is zero (nothing to rank)."""
    ranked = sorted(reference, key=lambda f: -reference[f])
    live = sorted(ranked, key=lambda f: -current.get(f, 0.0))  # stable: ties by reference
    discounts = [1.0 / math.log2(i + 2) for i in range(len(ranked))]
    ideal = sum(reference[f] * d for f, d in zip(ranked, discounts, strict=True))
    if not ideal > 0:
        return None
    return sum(reference[f] * d for f, d in zip(live, discounts, strict=True)) / ideal


def _ranks(values: Mapping[str, float]) -> dict[str, int]:
    return {f: i + 1 for i, f in enumerate(sorted(values, key=lambda f: (-values[f], f)))}


def _compare(
    reference: Mapping[str, float], sums: Mapping[str, float], rows: int, enough: int, bar: float
) -> dict[str, Any]:
    current = {f: sums.get(f, 0.0) / rows for f in reference} if rows else {}
    score = ndcg(reference, current) if rows else None
    tested = rows >= enough and score is not None
    drift = bool(tested and score is not None and score < bar)
    verdict = ("drift" if drift else "no_drift") if tested else "insufficient_data"
    return {"ndcg": score, "drift": drift, "verdict": verdict, "rows": rows, "current": current}


def assess(
    found: Attributions,
    profile: Mapping[str, Any] | None,
    policy: MonitoringPolicy,
    number: int,
) -> tuple[dict[str, Any] | None, str | None]:
    """The report's ``attribution_drift`` (or ``None``) and, when ``None``, why."""
    if policy.attribution_sample_rows <= 0:
        return None, "attribution drift is off (attribution_sample_rows is 0)"
    if not profile or not profile.get("features"):
        return None, (
            f"version {number} has no attribution profile: rule sets and models no method "
            "explains have none, nor has a version registered without a reference sample"
        )
    if found.unavailable:
        return None, found.unavailable
    bar = policy.attribution_ndcg_threshold
    enough = min(policy.min_rows, policy.attribution_sample_rows)
    reference: dict[str, float] = dict(profile["features"])
    overall = _compare(reference, found.sums, found.rows, enough, bar)
    current = overall.pop("current")
    ref_rank, cur_rank = _ranks(reference), _ranks(current) if current else {}
    features = {
        f: {
            "reference": a,
            "current": current.get(f),
            "shift": current[f] - a if current else None,
            "reference_rank": ref_rank[f],
            "current_rank": cur_rank.get(f),
        }
        for f, a in reference.items()
    }
    result: dict[str, Any] = {
        **overall,
        "threshold": bar,
        "method": found.method or profile.get("method"),
        "output_space": found.output_space or profile.get("output_space"),
        "reference_rows": profile.get("rows"),
        "features": features,
    }
    if profile.get("classes"):
        classes = {}
        for c, ref in profile["classes"].items():
            compared = _compare(
                ref, found.classes.get(c, {}), found.class_rows.get(c, 0), enough, bar
            )
            compared.pop("current")
            classes[c] = compared
        result["classes"] = classes
        result["drift"] = overall["drift"] or any(v["drift"] for v in classes.values())
        if result["drift"]:
            result["verdict"] = "drift"
    return result, None
