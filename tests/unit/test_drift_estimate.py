"""Label-free performance in drift reports (CBPE): the calibration fitted at validation, the
report's ``performance.estimated`` without labels, estimate and realized side by side with
them, the estimated business value, and the distributed run's answer equal to inline."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from steward.adapters.memory import InProcessDriftRuns, MemoryLogFiles, MemoryRunStore
from steward.drift.runs import DriftJobs
from steward.drift.service import DriftService
from steward.registry.service import Registry
from steward.stats import cbpe
from steward.stats.performance import roc_auc
from tests.unit.test_business_value import valued_service
from tests.unit.test_drift_report_outcomes import T0, _traffic


@pytest.fixture
def service(registry: Registry) -> DriftService:
    return valued_service(registry)


def _unlabel(logs: MemoryLogFiles) -> None:
    for key in [k for k in logs.files if k.startswith("feedback/")]:
        del logs.files[key]


def test_validation_keeps_a_calibration_and_its_check(service: DriftService) -> None:
    validation = service.store.get_version("churn", 1).validation
    assert validation is not None and validation.calibration is not None
    record = validation.calibration
    assert record["positive_class"] == "1" and record["rows"] == 300
    assert record["method"] in {"isotonic", "identity"}
    check = record["check"]
    assert check["improves"] == (record["method"] == "isotonic")
    assert {"ece", "ece_raw", "brier", "brier_raw", "folds"} <= check.keys()
    assert "calibration" in validation.checks
    steps = cbpe.steps_of(record)
    assert np.all(np.diff(steps.probabilities) >= 0) and steps.support.sum() == 300


def test_a_report_without_labels_carries_the_estimate_and_its_value(
    service: DriftService, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _traffic(logs, 0, seed=1)
    _unlabel(logs)
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    performance = report.performance
    assert performance["rows_labelled"] == 0
    estimated = performance["estimated"]
    assert estimated["method"] == "cbpe" and estimated["rows"] == 800
    for metric in ("roc_auc", "accuracy", "f1"):
        band = estimated[metric]
        assert 0 <= band["lower"] <= band["value"] <= band["upper"] <= 1
    assert "comparison" not in estimated
    value = performance["value"]
    assert value["realized"] is None and value["unit"] == "USD"
    expected = estimated["confusion"]
    worth = 120 * expected["tp"] - 15 * expected["fp"] - 300 * expected["fn"]
    assert value["estimated"] == pytest.approx(worth)
    assert value["per_row"] == pytest.approx(worth / 800)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    overall = [e for e in emf if "DriftShare" in e][-1]
    assert overall["Estimated.roc_auc"] == [estimated["roc_auc"]["value"]]
    assert overall["ValueEstimated"] == [pytest.approx(worth)]
    assert "ValueRealized" not in overall and "EstimateError.roc_auc" not in overall


def test_with_labels_estimate_and_realized_stand_side_by_side(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    y, score, _ = _traffic(logs, 2, seed=2)
    report = service.evaluate("churn", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    performance = report.performance
    estimated = performance["estimated"]
    assert estimated["rows"] == 800  # the whole window
    comparison = estimated["comparison"]
    assert comparison["rows"] == 500  # the labelled rows, estimated on their own
    auc = comparison["metrics"]["roc_auc"]
    assert auc["realized"] == pytest.approx(roc_auc(y == 1, score))
    assert auc["error"] == pytest.approx(auc["estimated"] - auc["realized"])
    steps = cbpe.steps_of(service.store.get_version("churn", 1).validation.calibration)  # type: ignore[union-attr]
    counted, _ = cbpe.count(steps, score, score >= 0.5)
    mine = cbpe.estimate(cbpe.Blocks(counted.tolist()), steps)
    assert mine is not None and auc["estimated"] == mine["roc_auc"]["value"]
    # both values: realized exactly from the labelled counts, estimated from the window
    value = performance["value"]
    assert value["realized"] is not None and value["estimated"] is not None


def test_the_distributed_run_gives_the_inline_estimate(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    for hour, seed in ((0, 11), (0, 12), (1, 13)):
        _traffic(logs, hour, seed=seed)
        # one file per call: rename the last written prediction file
        key = next(k for k in logs.files if k.endswith("/a.parquet"))
        logs.files[key.replace("/a.parquet", f"/s{seed}.parquet")] = logs.files.pop(key)
    window = (T0.isoformat(), (T0 + timedelta(hours=2)).isoformat())
    inline = DriftJobs(service, MemoryRunStore()).evaluate("churn", *window)
    one_pass = json.loads(service.get("churn", inline["report_id"]))

    service.batch_rows = 800  # a file per child
    runner = InProcessDriftRuns()
    jobs = DriftJobs(service, MemoryRunStore(), runner)
    runner.jobs = jobs
    plan = jobs.plan("churn", *window)
    assert plan["count"] == 3
    results = [jobs.map("churn", plan["run"], i, plan["inline_bytes"]) for i in range(3)]
    summary = jobs.reduce("churn", plan["run"], results)
    distributed = json.loads(service.get("churn", summary["report_id"]))
    assert distributed["performance"]["estimated"] == one_pass["performance"]["estimated"]
    assert distributed["performance"]["value"] == one_pass["performance"]["value"]
    assert one_pass["performance"]["estimated"]["rows"] == 2400


def test_the_audit_event_carries_what_the_practice_kpis_read(service: DriftService) -> None:
    from steward.drift.service import _practice

    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _traffic(logs, 2, seed=2)
    report = service.evaluate("churn", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    found = _practice(report.performance)
    value = report.performance["value"]
    error = report.performance["estimated"]["comparison"]["metrics"]["roc_auc"]["error"]
    assert found == {
        "value_realized": value["realized"],
        "value_estimated": value["estimated"],
        "value_unit": "USD",
        "estimate_error_auc": abs(error),
    }
