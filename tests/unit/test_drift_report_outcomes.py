"""The drift service with feedback and protected attributes, on fakes: performance and
fairness in the JSON and HTML reports, drift over past reports, EMF metrics on stdout."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as sk

from steward.adapters.memory import MemoryLogFiles
from steward.drift.html import render
from steward.drift.service import DriftService
from steward.registry.service import Registry
from tests.factories import logistic_probability, model_spec, reference_rows, register_body
from tests.unit.conftest import drift_service

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


def _write(columns: dict[str, Any]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def _truth(rows: list[dict[str, Any]]) -> list[int]:
    rng = np.random.default_rng(4)
    return (rng.random(len(rows)) < logistic_probability(rows)).astype(int).tolist()


def test_validation_measures_the_holdout_baseline(service: DriftService) -> None:
    holdout = reference_rows(300, seed=5)
    y, p = np.array(_truth(holdout)), logistic_probability(holdout)
    validation = service.store.get_version("churn", 1).validation
    assert validation is not None and "holdout" in validation.checks
    measured = validation.holdout_metrics
    assert measured["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-9)
    assert measured["log_loss"] == pytest.approx(sk.log_loss(y, p), rel=1e-9)
    assert measured["f1"] == pytest.approx(sk.f1_score(y, (p >= 0.5).astype(int)))


@pytest.fixture
def service(registry: Registry) -> DriftService:
    monitoring = {
        "schedule": "rate(1 hour)",
        "window_hours": 1,
        "label_lag_hours": 2,
        "protected_attributes": ["plan"],
    }
    holdout = reference_rows(300, seed=5)
    body = register_body(
        reference_data={"instances": reference_rows(1000)},
        holdout_data={"instances": holdout, "labels": _truth(holdout)},
    )
    return drift_service(registry, model_spec(monitoring=monitoring), body, T0 + timedelta(hours=6))


def _traffic(logs: MemoryLogFiles, hour: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    rows = reference_rows(800, seed=seed)
    n = len(rows)
    score = rng.random(n)
    at = T0 + timedelta(hours=hour)
    ids = [f"{seed}-{i}" for i in range(n)]
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    columns.update(
        request_id=ids,
        ts=pa.array([at] * n, pa.timestamp("us", tz="UTC")),
        version=pa.array([1] * n, pa.int32()),
        prediction=(score >= 0.5).astype(float).tolist(),
        score=score.tolist(),
    )
    day = f"date={at:%Y-%m-%d}/hour={at:%H}"
    logs.files[f"predictions/model=churn/{day}/a.parquet"] = _write(columns)
    truth = (rng.random(n) < score).astype(int)
    labelled = slice(0, 500)
    later = at + timedelta(hours=1)  # labels arrive an hour later, inside the lag
    logs.files[f"feedback/model=churn/date={later:%Y-%m-%d}/hour={later:%H}/f.parquet"] = _write(
        {"request_id": ids[labelled], "label": truth[labelled].tolist()}
    )
    plan = np.array(columns["plan"])
    return truth[labelled], score[labelled], plan[labelled]


def test_performance_fairness_history_and_metrics(
    service: DriftService, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _traffic(logs, 0, seed=1)
    first = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    y, score, plan = _traffic(logs, 2, seed=2)
    report = service.evaluate("churn", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    yhat = (score >= 0.5).astype(int)

    perf = report.performance
    assert perf["rows_labelled"] == 500 and perf["rows_scored"] == 800
    assert perf["metrics"]["roc_auc"] == pytest.approx(sk.roc_auc_score(y, score))
    assert perf["metrics"]["f1"] == pytest.approx(sk.f1_score(y, yhat))
    holdout = service.store.get_version("churn", 1).validation.holdout_metrics  # type: ignore[union-attr]
    assert perf["baseline"] == "holdout" and perf["registered"] == holdout  # not the 0.81 claimed
    assert perf["verdict"] in ("ok", "degraded")
    groups = report.fairness["attributes"]["plan"]["groups"]
    assert groups["pro"]["tpr"] == pytest.approx(
        sk.recall_score(y[plan == "pro"], yhat[plan == "pro"])
    )
    assert set(groups) == {"basic", "pro"}

    stored = json.loads(service.get("churn", report.report_id))
    assert stored["performance"]["metrics"] == perf["metrics"] and stored["fairness"]
    page = service.get("churn", report.report_id, "html")
    assert "<h2>Performance</h2>" in page and "<h2>Fairness</h2>" in page
    assert "<polyline" in page  # drift over the past report and this one
    assert "<polyline" not in service.get("churn", first.report_id, "html")  # no past yet
    summary = service.list("churn").items[0]
    assert summary["features"]["tenure"]["statistic"] == pytest.approx(
        report.features["tenure"].statistic, abs=1e-6
    )
    latest = service.store.get_model("churn").latest_drift
    assert latest is not None and "features" not in latest  # the model item stays small

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    per_feature = [e for e in emf if e.get("feature") == "tenure"]
    assert len(per_feature) == 2 and "Drift.psi" in per_feature[-1] and "Drifted" in per_feature[-1]
    overall = [e for e in emf if "DriftShare" in e][-1]
    assert overall["model"] == "churn"
    assert overall["Performance.roc_auc"] == [pytest.approx(perf["metrics"]["roc_auc"])]
    directive = overall["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Steward" and ["model"] in [
        [d for d in ds if d != "service"] for ds in directive["Dimensions"]
    ]
    assert any(e.get("attribute") == "plan" and "DisparateImpact" in e for e in emf)


def test_history_charts_tolerate_rows_from_before_the_series(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _traffic(logs, 0, seed=3)
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    old = {"report_id": "0" * 16, "drift_share": 0.5, "created_at": "2026-11-01T00:00:00+00:00"}
    page = render(report, [old, {**old, "features": {"tenure": {"statistic": "bad"}}}])
    assert page.count("<polyline") >= 1  # the drifted share: two past points and this one
    assert "<h3>tenure — ok</h3>" in page or "<h3>tenure — drift</h3>" in page
