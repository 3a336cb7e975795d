"""Attribution drift (issue 17.4): Clarify's NDCG on its documented example, the window's
profile equal to the explainer's own on the sampled rows, a deterministic sample that a
distributed run's children take exactly as one pass does, the verdict when the most important
feature stops varying, and a null with a reason for models nothing explains."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.adapters.memory import InProcessDriftRuns, MemoryLogFiles, MemoryRunStore
from steward.domain import log_schema
from steward.domain.errors import RuntimeUnavailable
from steward.domain.frames import column, columns_from_records
from steward.domain.models import Flavor, Signature, Task
from steward.drift import attributions, partials
from steward.drift.attributions import Attributions, GraphRuntime, ndcg
from steward.drift.runs import DriftJobs
from steward.drift.service import DriftService
from steward.explain.explainer import Explainer
from steward.explain.profile import attribution_profile
from steward.registry.service import Registry
from steward.runtimes.loader import load_runtime
from tests.factories import (
    TENURE_PLAN_SCORECARD,
    b64,
    logistic_artifact,
    model_spec,
    parquet_log,
    reference_rows,
    register_body,
)
from tests.unit.conftest import drift_service

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
HOUR = "predictions/model={}/date=2026-11-27/hour={:02d}/{}.parquet"


# -- NDCG as Clarify defines it --------------------------------------------------------------


def test_ndcg_gives_clarifys_documented_example() -> None:
    """SageMaker Clarify's college-admission example: the ranking reversed, NDCG 0.69."""
    training = {"SAT score": 0.70, "GPA": 0.50, "Class rank": 0.05}
    live = {"SAT score": 0.10, "GPA": 0.20, "Class rank": 0.70}
    score = ndcg(training, live)
    assert score is not None and round(score, 2) == 0.69
    # DCG: a(Class rank)/log2 2 + a(GPA)/log2 3 + a(SAT)/log2 4; iDCG in the training order
    dcg = 0.05 / 1 + 0.50 / math.log2(3) + 0.70 / 2
    idcg = 0.70 / 1 + 0.50 / math.log2(3) + 0.05 / 2
    assert score == pytest.approx(dcg / idcg, rel=1e-15)


def test_ndcg_edge_cases() -> None:
    assert ndcg({"a": 2.0, "b": 1.0}, {"a": 5.0, "b": 0.1}) == 1.0  # same order, any scale
    assert ndcg({"a": 1.0, "b": 1.0}, {"a": 0.0, "b": 3.0}) == 1.0  # reference ties
    assert ndcg({"a": 1.0, "b": 0.5}, {"a": 0.2, "b": 0.2}) == 1.0  # window ties: reference
    assert ndcg({"a": 1.0, "b": 0.5}, {}) == 1.0  # nothing in the window: every tie
    assert ndcg({"a": 0.0, "b": 0.0}, {"a": 1.0}) is None  # nothing to rank


values = st.floats(0, 1e6, allow_nan=False)


@given(st.dictionaries(st.sampled_from("abcdefgh"), st.tuples(values, values), min_size=1))
def test_ndcg_lies_in_0_1_and_is_1_for_the_reference_itself(
    pairs: dict[str, tuple[float, float]],
) -> None:
    reference = {k: v[0] for k, v in pairs.items()}
    current = {k: v[1] for k, v in pairs.items()}
    score = ndcg(reference, current)
    if not sum(reference.values()) > 0:
        assert score is None
        return
    assert score is not None and 0 < score <= 1 + 1e-12
    assert ndcg(reference, reference) == pytest.approx(1.0, rel=1e-12)


# -- sums and counts merge -------------------------------------------------------------------


def test_attribution_sums_merge_and_cross_the_wire() -> None:
    a = Attributions(2, {"x": 1.0, "y": 2.0}, {"c": {"x": 1.0}}, {"c": 2}, "tree_shap", "log_odds")
    b = Attributions(1, {"x": 0.5}, {"d": {"x": 3.0}}, {"d": 1}, "tree_shap", "log_odds")
    merged = a.merge(b)
    assert merged.rows == 3 and merged.sums == {"x": 1.5, "y": 2.0}
    assert merged.classes == {"c": {"x": 1.0}, "d": {"x": 3.0}}
    assert merged.class_rows == {"c": 2, "d": 1} and merged.method == "tree_shap"
    child = partials.Child(attributions=merged)
    assert partials.loads(partials.dumps(child)).attributions == merged
    assert Attributions().merge(Attributions(unavailable="why")).unavailable == "why"


def test_onnx_trees_are_explained_without_onnxruntime() -> None:
    """The drift function ships no onnxruntime: the graph's bytes are enough for TreeSHAP,
    and the attributions are the ones the loaded model gives."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_wine(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y)
    data = to_onnx(forest, x[:1].astype(np.float32), options={"zipmap": False}).SerializeToString()
    signature = Signature.model_validate({"inputs": [{"name": f"f{i}"} for i in range(13)]})
    columns = {f"f{i}": x[:40, i] for i in range(13)}
    graph = Explainer(GraphRuntime(data, signature, Task.CLASSIFICATION), columns)
    loaded = Explainer(load_runtime(Flavor.ONNX, data, signature, Task.CLASSIFICATION), columns)
    rows = {k: v[:7] for k, v in columns.items()}
    ours, theirs = graph.explain(rows), loaded.explain(rows)
    assert ours.classes == theirs.classes and ours.attributions == theirs.attributions


# -- the service: window profile, verdict, distributed == inline ------------------------------


@pytest.fixture
def service(registry: Registry) -> DriftService:
    body = register_body(reference_data={"instances": reference_rows(2000)})
    return drift_service(registry, model_spec(), body, T0 + timedelta(hours=3))


def _set_policy(service: DriftService, model: str = "churn", **update: object) -> None:
    record = service.store.get_model(model)
    monitoring = record.monitoring.model_copy(update=update)
    service.store.save_model(record.model_copy(update={"monitoring": monitoring}), record.rev)


def _mean_abs(service: DriftService, rows: list[dict[str, object]]) -> dict[str, float]:
    version = service.store.get_version("churn", 1)
    runtime = load_runtime(
        version.flavor, logistic_artifact(), version.signature, Task.CLASSIFICATION
    )
    background = columns_from_records(reference_rows(2000)[:100], version.signature)
    explained = Explainer(runtime, background).explain(
        columns_from_records(rows, version.signature)
    )
    names = list(explained.attributions[0])
    matrix = np.abs([[a[f] for f in names] for a in explained.attributions])
    return dict(zip(names, matrix.mean(axis=0).tolist(), strict=True))


def test_a_window_smaller_than_the_sample_is_explained_whole(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    rows = reference_rows(300, seed=5)
    logs.files[HOUR.format("churn", 10, "a")] = parquet_log(rows, T0)
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    found = report.attribution_drift
    assert found is not None and report.attribution_drift_reason is None
    assert found["rows"] == 300 and found["method"] == "linear"
    expected = _mean_abs(service, rows)
    for name, feature in found["features"].items():
        assert feature["current"] == pytest.approx(expected[name], rel=1e-12)
        assert feature["shift"] == pytest.approx(feature["current"] - feature["reference"])
    profile = service.store.get_version("churn", 1).attribution_profile
    assert profile is not None
    assert {f: v["reference"] for f, v in found["features"].items()} == profile["features"]
    assert found["ndcg"] > 0.99 and not found["drift"] and found["verdict"] == "no_drift"
    assert found["threshold"] == 0.9 and not report.drift_detected


def test_attribution_drift_falls_when_the_most_important_feature_stops_varying(
    service: DriftService, capsys: pytest.CaptureFixture[str]
) -> None:
    """tenure carries most of the churn model's attribution; held at its reference mean it
    carries none, charges ranks first, NDCG falls under 0.9: drift, and DriftDetected says
    the attributions drifted."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    profile = service.store.get_version("churn", 1).attribution_profile
    assert profile is not None and max(profile["features"], key=profile["features"].get) == "tenure"
    mean = float(np.mean([r["tenure"] for r in reference_rows(2000)[:100]]))
    still = [{**r, "tenure": mean} for r in reference_rows(3000, seed=11)]
    logs.files[HOUR.format("churn", 10, "a")] = parquet_log(still, T0)
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    found = report.attribution_drift
    assert found is not None
    assert 350 <= found["rows"] <= 650  # about the policy's 500 of 3,000 rows
    assert found["ndcg"] < 0.9 and found["drift"] and found["verdict"] == "drift"
    tenure = found["features"]["tenure"]
    assert tenure["current"] == pytest.approx(0.0, abs=1e-9) and tenure["current_rank"] == 3
    assert found["features"]["charges"]["current_rank"] == 1
    assert report.drift_detected and report.verdict == "drift"
    kind, detail = service.events.events[-1]  # type: ignore[attr-defined]
    assert kind == "DriftDetected" and "attributions" in detail["reasons"]
    stored = json.loads(service.get("churn", report.report_id))
    assert stored["attribution_drift"]["ndcg"] == found["ndcg"]
    html = service.get("churn", report.report_id, "html")
    assert "Attribution drift" in html and "tenure" in html
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    overall = [e for e in emf if "AttributionNDCG" in e][-1]
    assert overall["AttributionNDCG"] == [found["ndcg"]] and overall["AttributionDrift"] == [1.0]


def test_the_threshold_and_sample_come_from_the_policy(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    still = [{**r, "tenure": 36.0} for r in reference_rows(1000, seed=11)]
    logs.files[HOUR.format("churn", 10, "a")] = parquet_log(still, T0)
    window = (T0, T0 + timedelta(hours=1))
    _set_policy(service, attribution_ndcg_threshold=0.5, attribution_sample_rows=1000)
    lenient = service.evaluate("churn", *window).attribution_drift
    assert lenient is not None and lenient["rows"] == 1000 and not lenient["drift"]
    assert lenient["threshold"] == 0.5
    _set_policy(service, attribution_sample_rows=50, min_rows=100)
    few = service.evaluate("churn", *window).attribution_drift
    assert few is not None and 20 <= few["rows"] <= 90 and few["ndcg"] is not None
    _set_policy(service, attribution_sample_rows=0)
    off = service.evaluate("churn", *window)
    assert off.attribution_drift is None and "off" in str(off.attribution_drift_reason)


def test_a_model_nothing_explains_gets_null_with_a_reason(registry: Registry) -> None:
    rules = {
        "rules": [
            {
                "id": "long",
                "when": [{"feature": "tenure", "op": ">=", "value": 24}],
                "outcome": "keep",
            }
        ],
        "default": "call",
    }
    body = register_body(flavor="rules", artifact_b64=b64(json.dumps(rules).encode()))
    service = drift_service(
        registry, model_spec("rules", task="decision"), body, T0 + timedelta(hours=3)
    )
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    logs.files[HOUR.format("rules", 10, "a")] = parquet_log(reference_rows(400, seed=3), T0)
    report = service.evaluate("rules", T0, T0 + timedelta(hours=1))
    assert report.rows == 400 and report.attribution_drift is None
    assert "no attribution profile" in str(report.attribution_drift_reason)
    assert "Attribution drift" in service.get("rules", report.report_id, "html")


def test_distributed_children_sample_and_sum_what_one_pass_does(service: DriftService) -> None:
    """Six files over two hours, evaluated inline and as three map children (one of them
    returning its result through the scratch store): the same rows are explained, and the
    merged sums give the same attribution drift."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    for i in range(6):
        rows = reference_rows(700, seed=20 + i)
        if i % 2:
            rows = [{**r, "tenure": 30.0 + (r["tenure"] % 5)} for r in rows]
        logs.files[HOUR.format("churn", 10 + i % 2, f"f{i}")] = parquet_log(
            rows, T0 + timedelta(hours=i % 2)
        )
    window = (T0.isoformat(), (T0 + timedelta(hours=2)).isoformat())
    inline = DriftJobs(service, MemoryRunStore()).evaluate("churn", *window)
    one_pass = json.loads(service.get("churn", inline["report_id"]))["attribution_drift"]

    service.batch_rows = 1400  # two files per child
    scratch, runner = MemoryRunStore(), InProcessDriftRuns()
    jobs = DriftJobs(service, scratch, runner)
    runner.jobs = jobs
    plan = jobs.plan("churn", *window)
    assert plan["count"] == 3
    results = [
        jobs.map("churn", plan["run"], 0, inline_bytes=0),
        jobs.map("churn", plan["run"], 1, inline_bytes=10**6),
        jobs.map("churn", plan["run"], 2, plan["inline_bytes"]),
    ]
    children = [jobs._child(r) for r in results]
    assert all(c.attributions.rows for c in children)
    summary = jobs.reduce("churn", plan["run"], results)
    distributed = json.loads(service.get("churn", summary["report_id"]))["attribution_drift"]
    assert distributed["rows"] == one_pass["rows"] == sum(c.attributions.rows for c in children)
    assert 350 <= one_pass["rows"] <= 650
    assert distributed["ndcg"] == pytest.approx(one_pass["ndcg"], rel=1e-12)
    for name, feature in one_pass["features"].items():
        other = distributed["features"][name]
        assert other["current"] == pytest.approx(feature["current"], rel=1e-12, abs=1e-15)
        assert other["current_rank"] == feature["current_rank"]
    assert distributed["drift"] == one_pass["drift"]


def test_the_sample_does_not_depend_on_row_groups() -> None:
    """A file read in row groups of any size gives the same picks (the ordinal is the row's
    position among the file's window rows)."""
    import pyarrow as pa

    signature = Signature.model_validate({"inputs": [{"name": "x"}]})
    values = np.arange(10_000, dtype=np.float64)

    def picked(sizes: list[int]) -> list[float]:
        sampler = attributions.Sampler(signature, object(), 0.01, 10**6)  # type: ignore[arg-type]

        class File:
            names: ClassVar[set[str]] = {"x"}

            def type_of(self, column: str) -> pa.DataType:
                return pa.float64()

        sampler.wants(File(), "predictions/model=m/a.parquet")  # type: ignore[arg-type]
        start = 0
        for size in sizes:
            sampler.add(pa.table({"x": values[start : start + size]}))
            start += size
        return sampler.rows()["x"].tolist()

    whole = picked([10_000])
    assert 60 <= len(whole) <= 140
    assert picked([1000] * 10) == whole == picked([7, 3000, 993, 6000])


def test_footers_count_the_rows_of_row_groups_in_the_window() -> None:
    """The sample's rate divides by the window's rows: row groups whose ts statistics lie
    wholly outside the window are not counted (a file's hour holds other windows too)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from steward.drift.plan import footer_rows

    ts = [T0 + timedelta(minutes=m) for m in range(60) for _ in range(10)]  # 600 rows
    sink = io.BytesIO()
    table = pa.table({"ts": pa.array(ts, pa.timestamp("us", tz="UTC")), "x": range(600)})
    pq.write_table(table, sink, row_group_size=100)  # ten minutes per row group
    data = sink.getvalue()
    assert footer_rows(data) == 600
    assert footer_rows(data, (T0, T0 + timedelta(hours=1))) == 600
    assert footer_rows(data, (T0 + timedelta(minutes=20), T0 + timedelta(minutes=30))) == 100
    assert footer_rows(data, (T0 + timedelta(minutes=25), T0 + timedelta(minutes=35))) == 200
    assert footer_rows(data, (T0 + timedelta(hours=2), T0 + timedelta(hours=3))) == 0


def test_a_multiclass_model_is_compared_per_explained_class(registry: Registry) -> None:
    """A wine forest (ONNX): each sampled row explains its predicted class; the report has
    an NDCG per class of the version's profile, the class counts add up to the rows."""
    from tests.factories import multiclass_data, multiclass_rows, onnx_forest

    x, y, signature = multiclass_data("wine")
    graph, _ = onnx_forest(x, y, trees=5)
    rows = multiclass_rows(x)
    body = register_body(flavor="onnx", signature=signature, reference_data={"instances": rows})
    body["artifact_b64"] = b64(graph)
    spec = model_spec("wine", monitoring={"attribution_sample_rows": 1000, "min_rows": 20})
    service = drift_service(registry, spec, body, T0 + timedelta(hours=3))
    profile = service.store.get_version("wine", 1).attribution_profile
    assert profile is not None and set(profile["classes"]) == {"0", "1", "2"}
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    logs.files[HOUR.format("wine", 10, "a")] = parquet_log(rows, T0)
    found = service.evaluate("wine", T0, T0 + timedelta(hours=1)).attribution_drift
    assert found is not None and found["rows"] == len(rows)  # a sample above the window
    assert found["method"] == "tree_shap" and set(found["classes"]) == {"0", "1", "2"}
    assert sum(c["rows"] for c in found["classes"].values()) == len(rows)
    for c in found["classes"].values():
        assert c["ndcg"] > 0.9 and c["verdict"] == "no_drift"
    assert found["ndcg"] > 0.9 and not found["drift"]


def test_an_altered_artifact_leaves_the_verdicts_and_says_why(service: DriftService) -> None:
    """Attribution drift is not worth losing the drift verdicts for: an artifact that no
    longer matches its sha256 is refused (never explained), and the report says so."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    logs.files[HOUR.format("churn", 10, "a")] = parquet_log(reference_rows(300, seed=5), T0)
    artifact = service.store.get_version("churn", 1).artifact
    assert service.artifacts is not None
    service.artifacts.overwrite(artifact.uri, artifact.s3_version_id, b"{}")  # type: ignore[attr-defined]
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    assert report.rows == 300 and report.features and report.attribution_drift is None
    assert "sha256" in str(report.attribution_drift_reason)


def test_a_graph_only_sampling_explains_is_sampled_less_or_not_at_all(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-tree ONNX graph is explained by sampling_shap, thousands of model calls a row:
    the window's sample is capped as the profile's is (50 rows); where onnxruntime is
    missing (the drift function) it gets null and the reason, never an error."""
    from tests.factories import onnx_logistic

    signature = {"inputs": [{"name": "tenure"}, {"name": "charges"}]}
    rows = [{"tenure": r["tenure"], "charges": r["charges"]} for r in reference_rows(400)]
    body = register_body(flavor="onnx", signature=signature, reference_data={"instances": rows})
    body["artifact_b64"] = b64(onnx_logistic())
    service = drift_service(registry, model_spec(), body, T0 + timedelta(hours=3))
    profile = service.store.get_version("churn", 1).attribution_profile
    assert profile is not None and profile["method"] == "sampling_shap"
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    window = [{"tenure": r["tenure"], "charges": r["charges"]} for r in reference_rows(2000, 4)]
    logs.files[HOUR.format("churn", 10, "a")] = parquet_log(window, T0)
    found = service.evaluate("churn", T0, T0 + timedelta(hours=1)).attribution_drift
    assert found is not None and found["method"] == "sampling_shap"
    assert 20 <= found["rows"] <= 90  # about 50 of 2,000, not the policy's 500

    def unavailable(*args: object) -> object:
        raise RuntimeUnavailable("onnxruntime is not installed here")

    monkeypatch.setattr("steward.runtimes.loader.load_runtime", unavailable)
    service._explainers.clear()  # a cold drift function
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    assert report.attribution_drift is None and report.rows == 2000
    assert "sampling_shap" in str(report.attribution_drift_reason)


# -- the sampled rows as one matrix: the sums the per-record explanations give -----------------


def _sampler(signature: Signature, explainer: Explainer, table: pa.Table) -> attributions.Sampler:
    """Every row of ``table`` picked (rate 1), handed over in two row groups."""

    class File:
        names: ClassVar[set[str]] = set(table.column_names)

        def type_of(self, column: str) -> pa.DataType:
            return table.schema.field(column).type

    sampler = attributions.Sampler(signature, explainer, 1.0, 10**6)
    assert sampler.wants(File(), "predictions/model=m/a.parquet") is not None  # type: ignore[arg-type]
    sampler.add(table.slice(0, 7))
    sampler.add(table.slice(7))
    return sampler


def _per_record(signature: Signature, explainer: Explainer, table: pa.Table) -> Attributions:
    """What the sampler computed before it took the attributions as a matrix: each feature
    through ``column`` from Python values, a dict per record, the matrix rebuilt from them."""
    columns = {
        spec.name: column(spec, table.column(log_schema.column_of(spec.name)).to_pylist())
        for spec in signature.inputs
    }
    explanation = explainer.explain(columns)
    found = Attributions(method=explanation.method, output_space=explanation.output_space)
    names = list(explanation.attributions[0])
    matrix = np.abs(np.array([[a[f] for f in names] for a in explanation.attributions]))
    kept = np.isfinite(matrix).all(axis=1)
    found.rows = int(kept.sum())
    found.sums = dict(zip(names, matrix[kept].sum(axis=0).tolist(), strict=True))
    if explanation.classes is not None:
        labels = np.array(explanation.classes, dtype=object)
        for c in sorted(set(explanation.classes)):
            mask = kept & (labels == c)
            found.class_rows[c] = int(mask.sum())
            found.classes[c] = dict(zip(names, matrix[mask].sum(axis=0).tolist(), strict=True))
    return found


def _trees(kind: str) -> tuple[Signature, Explainer, pa.Table]:
    """An ONNX tree ensemble read as bytes (as the drift function does), its background, and
    60 rows of its data with missing values in two features."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    from tests.factories import onnx_forest

    if kind == "multiclass":  # a forest: each row explains its predicted class
        x, y = load_wine(return_X_y=True)
        data, _ = onnx_forest(x, y, trees=5)
    else:
        load = load_diabetes if kind == "regression" else load_breast_cancer
        x, y = load(return_X_y=True)
        x = x[:, :8]
        boosted = (
            GradientBoostingRegressor if kind == "regression" else GradientBoostingClassifier
        )(n_estimators=20, max_depth=3, random_state=0)
        data = to_onnx(boosted.fit(x, y), x[:1].astype(np.float32)).SerializeToString()
    names = [f"f{i}" for i in range(x.shape[1])]
    signature = Signature.model_validate({"inputs": [{"name": n} for n in names]})
    task = Task.REGRESSION if kind == "regression" else Task.CLASSIFICATION
    explainer = Explainer(
        GraphRuntime(data, signature, task), dict(zip(names, x[:100].T, strict=True))
    )
    window = x[::3][:60].copy()  # every class of the sorted wine data
    window[::5, 0] = np.nan
    window[1::7, 2] = np.nan
    return signature, explainer, pa.table(dict(zip(names, window.T, strict=True)))


def _decision(kind: str) -> tuple[Signature, Explainer, pa.Table]:
    """The churn logistic (linear: a missing value leaves its row out) or a scorecard (its
    points explained per record; a string feature)."""
    signature = Signature.model_validate(
        {
            "inputs": [
                {"name": "tenure", "type": "integer"},
                {"name": "charges"},
                {"name": "plan", "type": "string"},
            ]
        }
    )
    rows = reference_rows(60, seed=9)
    background = columns_from_records(reference_rows(100), signature)
    table = pa.table(
        {
            "tenure": pa.array(
                [None if i % 6 == 0 else int(r["tenure"]) for i, r in enumerate(rows)]
            ),
            "charges": pa.array([r["charges"] for r in rows]),
            "plan": pa.array([r["plan"] for r in rows]),
        }
    )
    if kind == "linear":
        runtime = load_runtime(Flavor.LOGISTIC, logistic_artifact(), signature, Task.CLASSIFICATION)
    else:
        data = json.dumps(TENURE_PLAN_SCORECARD).encode()
        runtime = load_runtime(Flavor.SCORECARD, data, signature, Task.DECISION)
    return signature, Explainer(runtime, background), table


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("multiclass", "tree_shap"),
        ("regression", "tree_shap"),
        ("binary", "tree_shap"),
        ("linear", "linear"),
        ("scorecard", "points"),
    ],
)
def test_the_sampled_rows_sum_what_the_per_record_explanations_give(kind: str, method: str) -> None:
    """The sampler reads number columns straight from Arrow and takes the attributions as
    one matrix (``Explainer.attribute``): the same rows, sums and per-class sums as the
    per-record path it replaces (each value through ``column``, a dict per record), and
    the version's attribution profile as before too."""
    signature, explainer, table = (
        _decision(kind) if kind in ("linear", "scorecard") else _trees(kind)
    )
    assert explainer.method == method
    found = _sampler(signature, explainer, table).result()
    expected = _per_record(signature, explainer, table)
    assert (found.method, found.output_space) == (expected.method, expected.output_space)
    assert found.rows == expected.rows and found.rows == (50 if kind == "linear" else 60)
    assert found.sums == expected.sums and list(found.sums) == list(expected.sums)  # exactly
    assert found.classes == expected.classes and found.class_rows == expected.class_rows
    if kind == "multiclass":
        assert len(found.classes) == 3 and sum(found.class_rows.values()) == 60

    columns = _sampler(signature, explainer, table).rows()
    explanation = explainer.explain(columns)
    attributed = explainer.attribute(columns)
    names = list(explanation.attributions[0])
    matrix = np.array([[a[f] for f in names] for a in explanation.attributions])
    assert attributed.names == names and attributed.classes == explanation.classes
    np.testing.assert_array_equal(attributed.values, matrix)
    assert (attributed.method, attributed.output_space) == (method, explanation.output_space)

    profile = attribution_profile(explainer.runtime, columns)  # the rows as the reference
    explanation = Explainer(explainer.runtime, columns).explain(columns)
    assert profile is not None
    matrix = np.abs(np.array([[a[f] for f in names] for a in explanation.attributions]))
    mean = dict(zip(names, matrix.mean(axis=0).tolist(), strict=True))
    assert profile["features"] == pytest.approx(mean, rel=0, abs=0, nan_ok=True)  # exactly
    if explanation.classes is not None:
        labels = np.array(explanation.classes, dtype=object)
        assert profile["classes"] == {
            c: dict(zip(names, matrix[labels == c].mean(axis=0).tolist(), strict=True))
            for c in sorted(set(explanation.classes))
        }


def test_the_sampled_numbers_are_the_ones_column_gives() -> None:
    """Integers with nulls, booleans, floats with NaN: straight from Arrow as ``column``
    gives them from Python values (NaN where missing); an integer feature that is not
    whole makes the sample unavailable, with the reason, as before."""
    signature = Signature.model_validate(
        {
            "inputs": [
                {"name": "i", "type": "integer"},
                {"name": "b", "type": "boolean"},
                {"name": "d"},
                {"name": "s", "type": "string"},
            ]
        }
    )
    table = pa.table(
        {
            "i": pa.array([1, None, 3, 2**40, -5, 0, 7, 8, 9, None], pa.int64()),
            "b": pa.array([True, False, None, True, True, False, False, True, None, True]),
            "d": pa.array([0.5, None, float("nan"), -1e300, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            "s": pa.array(["a", None, "b", "c", "a", "a", "b", "c", "a", "b"]),
        }
    )
    explainer = Explainer(
        load_runtime(
            Flavor.LINEAR,
            json.dumps({"intercept": 0.0, "coefficients": {"i": 1.0}}).encode(),
            signature,
            Task.REGRESSION,
        ),
        {
            "i": np.array([1.0]),
            "b": np.array([1.0]),
            "d": np.array([1.0]),
            "s": np.array(["a"], dtype=object),
        },
    )
    rows = _sampler(signature, explainer, table).rows()
    for spec in signature.inputs:
        expected = column(spec, table.column(spec.name).to_pylist())
        assert rows[spec.name].dtype == expected.dtype
        if spec.numeric:
            np.testing.assert_array_equal(rows[spec.name], expected)
        else:
            assert rows[spec.name].tolist() == expected.tolist()

    halves = table.set_column(0, "i", pa.array([1.5] * 10))
    found = _sampler(signature, explainer, halves).result()
    assert found.unavailable == "i must be an integer" and not found.rows
