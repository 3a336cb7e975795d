"""Scored traffic and feedback through the handlers on moto, then a drift evaluation over the
API: performance and fairness equal scikit-learn's on the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn import metrics as sk

from tests.factories import api_event, logistic_probability, reference_rows
from tests.integration.conftest import Stack
from tests.integration.support import scoring
from tests.integration.test_scoring_logs import _serve


def test_report_has_performance_and_fairness_equal_to_scikit_learn(stack: Stack) -> None:
    monitoring = {"schedule": "rate(1 hour)", "protected_attributes": ["plan"]}
    holdout = reference_rows(200, seed=8)
    held = (np.random.default_rng(12).random(200) < logistic_probability(holdout)).astype(int)
    holdout_data = {"instances": holdout, "labels": held.tolist()}
    _serve("outcomes-a", register={"holdout_data": holdout_data}, monitoring=monitoring)
    rng = np.random.default_rng(11)
    rows = reference_rows(400, seed=3)
    ids, labels, scores, plans = [], [], [], []
    for start in range(0, len(rows), 100):
        batch = rows[start : start + 100]
        code, body = scoring(stack, "/models/outcomes-a/predict", {"instances": batch})
        assert code == 200, body
        ids += body["request_ids"]
        labels += [p["label"] for p in body["predictions"]]
        scores += [p["probability"] for p in body["predictions"]]
        plans += [r["plan"] for r in batch]
    score = np.array(scores)
    truth = (rng.random(len(ids)) < score).astype(int)  # ground truth, for 300 of 400 rows
    feedback = [{"request_id": i, "label": int(t)} for i, t in zip(ids[:300], truth, strict=False)]
    code, _ = scoring(stack, "/models/outcomes-a/feedback", {"records": feedback})
    assert code == 200
    assert stack.flush() >= 5

    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(minutes=5)).isoformat(),
    }
    event = api_event("POST", "/models/outcomes-a/drift/evaluate", window, user="alice")
    result = stack.invoke("api", event)
    assert result["statusCode"] == 200, result["body"]
    report = json.loads(result["body"])

    y, yhat, p = truth[:300], np.array(labels[:300]), score[:300]
    perf = report["performance"]
    assert perf["rows_labelled"] == 300 and perf["rows_scored"] == 400
    assert perf["positive_class"] == "1"
    m = perf["metrics"]
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, yhat), abs=1e-12)
    assert m["precision"] == pytest.approx(sk.precision_score(y, yhat, zero_division=0), abs=1e-12)
    assert m["recall"] == pytest.approx(sk.recall_score(y, yhat), abs=1e-12)
    assert m["f1"] == pytest.approx(sk.f1_score(y, yhat), abs=1e-12)
    assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-9)
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, p), rel=1e-9)
    # the baseline: what the approval workflow's validation measured on the holdout rows
    assert perf["baseline"] == "holdout"
    expected = sk.roc_auc_score(held, logistic_probability(holdout))
    assert perf["registered"]["roc_auc"] == pytest.approx(expected, abs=1e-9)

    plan, yhat_all = np.array(plans), np.array(labels)
    fairness = report["fairness"]["attributes"]["plan"]
    rates = {g: float(np.mean(yhat_all[plan == g] == 1)) for g in ("basic", "pro")}
    for group, rate in rates.items():
        assert fairness["groups"][group]["selection_rate"] == pytest.approx(rate)
        members = plan[:300] == group
        tpr = sk.recall_score(y[members], yhat[members])
        assert fairness["groups"][group]["tpr"] == pytest.approx(tpr)
    assert fairness["disparate_impact"] == pytest.approx(min(rates.values()) / max(rates.values()))

    html = stack.invoke(
        "api",
        api_event(
            "GET",
            f"/models/outcomes-a/drift/{report['report_id']}",
            user="alice",
            headers={"Accept": "text/html"},
        ),
    )
    assert "<h2>Performance</h2>" in html["body"] and "<h2>Fairness</h2>" in html["body"]
