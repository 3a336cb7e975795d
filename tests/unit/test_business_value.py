"""Business value: a classifier's value matrix applied to a labelled window's confusion
counts, exactly; in the drift report, its EMF metrics, and refused where it means nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from steward.adapters.memory import MemoryLogFiles
from steward.domain.errors import ValidationFailed
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.domain.value import BusinessValue, realized
from steward.drift.service import DriftService
from steward.registry.requests import ModelUpdate
from steward.registry.service import Registry
from tests.factories import model_spec, reference_rows, register_body
from tests.unit.conftest import drift_service
from tests.unit.test_drift_report_outcomes import T0, _traffic, _truth

MATRIX = {"matrix": {"tp": 120, "fp": -15, "tn": 0, "fn": -300}, "unit": "USD"}
USERS = UserDirectory()


def valued_service(registry: Registry) -> DriftService:
    """A binary classifier with the value matrix :data:`MATRIX`, hourly windows, labels two
    hours late and a labelled holdout (for the calibration), in production, and its drift
    service on fakes."""
    monitoring = {"schedule": "rate(1 hour)", "window_hours": 1, "label_lag_hours": 2}
    holdout = reference_rows(300, seed=5)
    body = register_body(
        reference_data={"instances": reference_rows(1000)},
        holdout_data={"instances": holdout, "labels": _truth(holdout)},
    )
    spec = model_spec(monitoring=monitoring, value=MATRIX)
    return drift_service(registry, spec, body, T0 + timedelta(hours=6))


@pytest.fixture
def service(registry: Registry) -> DriftService:
    return valued_service(registry)


def test_a_labelled_report_carries_the_realized_value_exactly(
    service: DriftService, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    y, score, _ = _traffic(logs, 2, seed=2)
    report = service.evaluate("churn", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    yhat = (score >= 0.5).astype(int)
    tp = int(np.sum((y == 1) & (yhat == 1)))
    fp = int(np.sum((y == 0) & (yhat == 1)))
    tn = int(np.sum((y == 0) & (yhat == 0)))
    fn = int(np.sum((y == 1) & (yhat == 0)))
    value = report.performance["value"]
    assert value["counts"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert value["realized"] == 120 * tp - 15 * fp - 300 * fn  # integers: exact
    assert value["per_row"] == (120 * tp - 15 * fp - 300 * fn) / 500
    assert value["unit"] == "USD"
    # beside it, the label-free estimate's (CBPE) on the whole window
    expected = report.performance["estimated"]["confusion"]
    assert value["estimated"] == pytest.approx(
        120 * expected["tp"] - 15 * expected["fp"] - 300 * expected["fn"]
    )
    stored = json.loads(service.get("churn", report.report_id))
    assert stored["performance"]["value"] == value
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    overall = [e for e in emf if "DriftShare" in e][-1]
    assert overall["ValueRealized"] == [value["realized"]]
    assert overall["ValuePerRow"] == [pytest.approx(value["per_row"])]


def test_no_labels_no_realized_value(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _traffic(logs, 0, seed=1)
    for key in [k for k in logs.files if k.startswith("feedback/")]:
        del logs.files[key]
    report = service.evaluate("churn", T0, T0 + timedelta(hours=1))
    value = report.performance["value"]
    assert value["realized"] is None and value["counts"] is None
    assert value["estimated"] is not None  # from the estimated confusion counts


WORTH = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(
    st.lists(st.integers(0, 10**9), min_size=4, max_size=4), st.lists(WORTH, min_size=4, max_size=4)
)
def test_realized_is_the_exact_sum_rounded_once(counts: list[int], worth: list[float]) -> None:
    keys = ("tp", "fp", "tn", "fn")
    value = BusinessValue.model_validate({"matrix": dict(zip(keys, worth, strict=True))})
    found = realized(value, dict(zip(keys, counts, strict=True)))
    exact = sum(Fraction(c) * Fraction(w) for c, w in zip(counts, worth, strict=True))
    assert found["realized"] == float(exact)
    assert found["per_row"] == (float(exact / sum(counts)) if sum(counts) else None)


def test_the_matrix_is_validated_and_needs_a_classifier(registry: Registry) -> None:
    with pytest.raises(ValidationError):
        BusinessValue.model_validate({"matrix": {"tp": "lots"}})
    with pytest.raises(ValidationError):
        BusinessValue.model_validate({"matrix": {"tp": float("inf")}})
    with pytest.raises(ValidationError):
        ModelSpec.model_validate(model_spec("reg", task="regression", value=MATRIX))
    registry.create_model(
        ModelSpec.model_validate(model_spec("reg", task="regression")), USERS.identify("alice")
    )
    with pytest.raises(ValidationFailed):
        registry.update_model(
            "reg", ModelUpdate.model_validate({"value": MATRIX}), USERS.identify("alice")
        )
    registry.create_model(ModelSpec.model_validate(model_spec("clf")), USERS.identify("alice"))
    update = ModelUpdate.model_validate({"value": MATRIX, "reason": "margins of 2027"})
    model = registry.update_model("clf", update, USERS.identify("alice"))
    assert model.value is not None and model.value.matrix.fn == -300
    head = registry.audit_log.head("clf")
    assert head is not None and head.action == "model.updated"
    assert head.after == {
        "value": MATRIX | {"matrix": {k: float(v) for k, v in MATRIX["matrix"].items()}}
    }


def test_the_html_report_shows_the_realized_value(service: DriftService) -> None:
    logs = service.logs
    assert isinstance(logs, MemoryLogFiles)
    _traffic(logs, 2, seed=2)
    report = service.evaluate("churn", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    page = service.get("churn", report.report_id, "html")
    assert f"Realized value: <strong>{report.performance['value']['realized']:,.2f} USD" in page
