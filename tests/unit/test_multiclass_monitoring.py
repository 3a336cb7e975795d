"""A multiclass model monitored end to end on fakes: scored, logged through the writer,
labelled, evaluated; its holdout metrics, its window's performance and its prediction drift
(the class distribution) against scikit-learn."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from steward.adapters.memory import (
    InProcessDriftRuns,
    MemoryLogFiles,
    MemoryLogSink,
    MemoryRunStore,
)
from steward.domain.deployment import canary_verdict
from steward.domain.identity import UserDirectory
from steward.domain.models import DeploymentPolicy, ModelSpec
from steward.drift.runs import DriftJobs
from steward.drift.service import DriftService
from steward.lifecycle.canary import canary_evidence
from steward.lifecycle.deploy import Deployer
from steward.ports.notify import Notifier
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from steward.scoring.inputs import PredictRequest
from steward.scoring.service import Scorer
from steward.scoring.writer import write_batch
from steward.stats import performance
from steward.stats.distributions import js_distance
from tests.factories import b64, model_spec, multiclass_data, multiclass_rows, onnx_forest
from tests.unit.conftest import drift_service

NOW = datetime.now(UTC)


@pytest.fixture
def wine(registry: Registry) -> tuple[DriftService, Any, np.ndarray, np.ndarray]:
    x, y, signature = multiclass_data("wine")
    rng = np.random.default_rng(3)
    order = rng.permutation(len(y))
    train, test = order[:100], order[100:]
    graph, forest = onnx_forest(x[train], y[train])
    body = {
        "flavor": "onnx",
        "artifact_b64": b64(graph),
        "signature": signature,
        "reference_data": {"instances": multiclass_rows(x[train])},
        "holdout_data": {"instances": multiclass_rows(x[test]), "labels": y[test].tolist()},
    }
    spec = model_spec("wine", monitoring={"schedule": "rate(1 hour)", "window_hours": 1})
    service = drift_service(registry, spec, body, NOW + timedelta(hours=2))
    return service, forest, x[test], y[test]


def _land(service: DriftService, sink: MemoryLogSink) -> None:
    """The log writer's Parquet files, in the fake bucket."""
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    messages = [
        (f"m{i}", json.dumps({"kind": kind, "model": model, **batch}))
        for i, (kind, model, batch) in enumerate(sink.batches)
    ]
    assert write_batch(messages, logs.files.__setitem__) == []


def test_holdout_metrics_are_the_multiclass_set(
    wine: tuple[DriftService, Any, np.ndarray, np.ndarray],
) -> None:
    service, forest, x, y = wine
    validation = service.store.get_version("wine", 1).validation
    assert validation is not None
    measured = validation.holdout_metrics
    p = forest.predict_proba(x)
    assert measured["log_loss"] == pytest.approx(sk.log_loss(y, p), rel=1e-4)
    assert measured["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p, multi_class="ovr"), abs=1e-6)
    assert measured["f1_weighted"] == pytest.approx(
        sk.f1_score(y, forest.predict(x), average="weighted")
    )


def test_a_window_reports_multiclass_performance_and_class_drift(
    registry: Registry, wine: tuple[DriftService, Any, np.ndarray, np.ndarray]
) -> None:
    service, _, x, y = wine
    sink = MemoryLogSink()
    scorer = Scorer(registry.store, registry.artifacts, sink)
    answer = scorer.predict("wine", PredictRequest(instances=multiclass_rows(x)))
    labels = list(zip(answer.request_ids, y.tolist(), strict=True))
    scorer.feedback("wine", labels, UserDirectory().identify("alice"))
    _land(service, sink)

    report = service.evaluate("wine", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    perf = report.performance
    assert perf["rows_labelled"] == len(y) and perf["average"] == "macro"
    p = np.array([list(a["probabilities"].values()) for a in answer.predictions])
    yhat = np.array([a["label"] for a in answer.predictions])
    metrics = perf["metrics"]
    assert metrics["log_loss"] == pytest.approx(sk.log_loss(y, p), rel=1e-9)
    assert metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p, multi_class="ovr"))
    assert metrics["f1_macro"] == pytest.approx(sk.f1_score(y, yhat, average="macro"))
    assert metrics["f1_weighted"] == pytest.approx(sk.f1_score(y, yhat, average="weighted"))
    recall = sk.recall_score(y, yhat, average=None)
    assert perf["per_class"]["recall"] == pytest.approx({str(c): r for c, r in enumerate(recall)})
    page = service.get("wine", report.report_id, "html")
    assert "<h3>Recall per class</h3>" in page
    # the prediction's drift is over the classes chosen, not the top probability
    prediction = report.prediction
    assert prediction is not None and "chi2" in prediction.statistics
    assert set(prediction.labels) == {"0", "1", "2"}
    shares = np.bincount(yhat, minlength=3) / len(yhat)
    assert prediction.current == pytest.approx(shares.tolist())


def _logged(version: int, variant: str, classes: list[int]) -> dict[str, Any]:
    """A log batch of a three-class model choosing ``classes`` (its probabilities logged)."""
    n = len(classes)
    probabilities = [{str(c): 0.8 if c == k else 0.1 for c in range(3)} for k in classes]
    return {
        "ts": NOW.isoformat(),
        "rows": n,
        "columns": {
            "request_id": [f"{variant}-{i}" for i in range(n)],
            "version": [version] * n,
            "variant": [variant] * n,
            "features": {"f0": [1.0] * n},
            "prediction": classes,
            "score": [0.8] * n,
            "probabilities": probabilities,
            "latency_ms": [0.2] * n,
        },
    }


def test_the_canary_compares_class_distributions() -> None:
    logs = MemoryLogFiles()
    champion = _logged(1, "champion", [0, 1, 2] * 100)
    challenger = _logged(2, "challenger", [0] * 250 + [1] * 50)
    messages = [
        (f"m{i}", json.dumps({"kind": "predictions", "model": "wine", **batch}))
        for i, batch in enumerate((champion, challenger))
    ]
    assert write_batch(messages, logs.files.__setitem__) == []
    window = (NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    theirs, ours, shift = canary_evidence(logs, "wine", 1, 2, *window)
    assert ours.classes == pytest.approx({"0": 1 / 3, "1": 1 / 3, "2": 1 / 3})
    assert theirs.classes == pytest.approx({"0": 250 / 300, "1": 50 / 300})
    # every champion and challenger row chose a class with the same top probability (0.8):
    # the score distributions are equal, the class distributions are not
    expected = js_distance(np.array([100.0, 100, 100]), np.array([250.0, 50, 0]))
    assert shift == pytest.approx(expected)
    verdict = canary_verdict(DeploymentPolicy(min_canary_rows=10), theirs, ours, shift)
    assert not verdict.passed and "class distribution moved" in verdict.reasons[0]


class _Quiet(Notifier):
    def publish(self, subject: str, message: dict[str, Any]) -> None:
        pass


def test_gates_judge_a_multiclass_candidate_against_its_champion(registry: Registry) -> None:
    x, y, signature = multiclass_data("wine")
    rng = np.random.default_rng(5)
    order = rng.permutation(len(y))
    train, test = order[:100], order[100:]
    holdout = {"instances": multiclass_rows(x[test]), "labels": y[test].tolist()}
    gates = {"min_f1_weighted": 0.9, "log_loss": 0.05, "roc_auc": 0.01}
    spec = model_spec("wine", deployment={"gates": gates, "auto_deploy": False})
    users = UserDirectory()
    admin, alice, bob = (users.identify(u) for u in ("admin", "alice", "bob"))
    registry.create_model(ModelSpec.model_validate(spec), admin)
    deployer = Deployer(registry, MemoryLogFiles(), _Quiet())
    reports = []
    for labels in (y[train], rng.permutation(y[train])):  # the challenger learnt noise
        graph, _ = onnx_forest(x[train], labels)
        body = {
            "flavor": "onnx",
            "artifact_b64": b64(graph),
            "signature": signature,
            "reference_data": {"instances": multiclass_rows(x[train])},
            "holdout_data": holdout,
        }
        request = RegisterVersion.model_validate(body)
        number = registry.register_version("wine", request, alice).version
        registry.validate("wine", number, hold=True)
        reports.append(deployer.gates("wine", number))
        if number == 1:
            registry.decide("wine", 1, Decision(decision="approve", comment="ok"), bob)
            registry.set_alias("wine", "production", 1, alice)
    first, second = reports
    assert first.verdict == "human" and first.passed
    assert {g.metric for g in first.gates} == {"f1_weighted", "log_loss", "roc_auc"}
    assert second.verdict == "reject" and second.champion_version == 1
    failed = {g.metric for g in second.gates if not g.passed}
    assert failed == {"f1_weighted", "log_loss", "roc_auc"}


def test_a_falling_weighted_f1_is_a_breach() -> None:
    found = performance.checks({"f1_weighted": 0.6, "f1_macro": 0.6}, {"f1_weighted": 0.9}, {})
    assert [c["breach"] for c in found] == [True]
    bounded = performance.checks({"f1_macro": 0.6}, {}, {"f1_macro": 0.8})
    assert bounded[0]["kind"] == "min" and bounded[0]["breach"]


def test_a_distributed_run_reports_the_multiclass_performance_of_one_pass(
    registry: Registry, wine: tuple[DriftService, Any, np.ndarray, np.ndarray]
) -> None:
    """Children join the class probabilities of their own files; the reduce merges their
    labelled rows: the same performance as one pass over the window."""
    service, _, x, y = wine
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    sink = MemoryLogSink()
    scorer = Scorer(registry.store, registry.artifacts, sink)
    alice = UserDirectory().identify("alice")
    for part in np.array_split(np.arange(len(y)), 3):  # three requests, three files
        answer = scorer.predict("wine", PredictRequest(instances=multiclass_rows(x[part])))
        scorer.feedback("wine", list(zip(answer.request_ids, y[part].tolist(), strict=True)), alice)
    for i, (kind, model, batch) in enumerate(sink.batches):
        body = json.dumps({"kind": kind, "model": model, **batch})
        assert write_batch([(f"m{i}", body)], logs.files.__setitem__) == []
    window = ((NOW - timedelta(hours=1)).isoformat(), (NOW + timedelta(hours=1)).isoformat())
    inline = DriftJobs(service, MemoryRunStore()).evaluate("wine", *window)
    one_pass = json.loads(service.get("wine", inline["report_id"]))

    service.batch_rows = 30  # one file per child
    runner = InProcessDriftRuns()
    jobs = DriftJobs(service, MemoryRunStore(), runner)
    runner.jobs = jobs
    plan = jobs.plan("wine", *window)
    assert plan["count"] == 3
    results = [jobs.map("wine", plan["run"], i, plan["inline_bytes"]) for i in range(3)]
    summary = jobs.reduce("wine", plan["run"], results)
    distributed = json.loads(service.get("wine", summary["report_id"]))
    assert distributed["performance"] == one_pass["performance"]
    assert {"log_loss", "roc_auc", "f1_weighted"} <= set(distributed["performance"]["metrics"])
