"""Predictions joined with feedback by request id: windows, versions, duplicates, types,
bad files, blocks and merges; the numbers equal scikit-learn's on the joined rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from steward.domain.models import MonitoringPolicy, Task
from steward.drift import outcomes
from steward.stats import performance

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=1))


def _parquet(columns: dict[str, Any]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink, row_group_size=50)
    return sink.getvalue()


def _predictions(n: int, seed: int = 1, at: datetime = T0, version: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    return {
        "request_id": [f"r{seed}-{i}" for i in range(n)],
        "ts": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
        "version": pa.array([version] * n, pa.int32()),
        "plan": rng.choice(["basic", "pro"], n).tolist(),
        "prediction": (score >= 0.5).astype(float).tolist(),  # the writer stores 1.0 / 0.0
        "score": score.tolist(),
    }


def _feedback(ids: list[str], labels: list[Any]) -> bytes:
    return _parquet({"request_id": ids, "label": labels})


def test_labels_are_normalized_and_the_latest_wins() -> None:
    skipped: list[dict[str, str]] = []
    files = [
        ("a", _feedback(["x", "y", "z"], [1.0, 0.0, 2.5])),
        ("b", _feedback(["x"], [False])),  # a later correction for x
        ("c", _feedback(["w"], ["1"])),
        ("d", b"not parquet"),
        ("e", _parquet({"request_id": ["q"]})),
        ("f", _parquet({"request_id": ["q"], "label": [[1, 2]]})),  # not a class
    ]
    labels = outcomes.read_labels(files, Task.CLASSIFICATION, skipped)
    found = dict(
        zip(
            labels.column("request_id").to_pylist(), labels.column("label").to_pylist(), strict=True
        )
    )
    assert found == {"x": "0", "y": "0", "z": "2.5", "w": "1"}
    assert [s["key"] for s in skipped] == ["d", "e", "f"]


def test_join_keeps_window_and_version_and_counts_every_scored_row() -> None:
    inside = _predictions(300, seed=1)
    late = _predictions(100, seed=2, at=T0 + timedelta(hours=2))
    other = _predictions(100, seed=3, version=2)
    files = [("p1", _parquet(inside)), ("p2", _parquet(late)), ("p3", _parquet(other))]
    ids = inside["request_id"][:200] + late["request_id"][:50] + other["request_id"][:50]
    labels = outcomes.read_labels([("f", _feedback(ids, [1] * len(ids)))], Task.CLASSIFICATION, [])
    found = outcomes.read_predictions(files, WINDOW, 1, Task.CLASSIFICATION, ["plan"], labels)
    assert found.rows == 300
    joined = pa.concat_tables(found.labelled)
    assert sorted(joined.column("request_id").to_pylist()) == sorted(inside["request_id"][:200])
    assert sum(sum(c.values()) for c in found.groups["plan"].values()) == 300


def test_blocks_and_merged_files_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _predictions(400, seed=4), _predictions(300, seed=5)
    ids = a["request_id"][::2] + b["request_id"][::3]
    labels = outcomes.read_labels(
        [("f", _feedback(ids, [0, 1] * (len(ids) // 2) + [1] * (len(ids) % 2)))],
        Task.CLASSIFICATION,
        [],
    )
    files = [("a", _parquet(a)), ("b", _parquet(b))]
    policy = MonitoringPolicy(protected_attributes=["plan"])

    def run(parts: list[list[tuple[str, bytes]]]) -> tuple[dict[str, Any], dict[str, Any]]:
        merged = outcomes.Outcomes()
        for part in parts:
            merged = merged.merge(
                outcomes.read_predictions(part, WINDOW, 1, Task.CLASSIFICATION, ["plan"], labels)
            )
        return outcomes.assess(merged, Task.CLASSIFICATION, policy, {}, labels.num_rows)

    single = run([files])
    monkeypatch.setattr(outcomes, "JOIN_BLOCK", 64)  # many small blocks
    assert run([files]) == single
    assert run([[f] for f in files]) == single  # map per file, then merge
    assert single[0]["rows_labelled"] == len(ids)


def test_assess_equals_scikit_learn_on_the_joined_rows() -> None:
    rng = np.random.default_rng(9)
    p = _predictions(1000, seed=6)
    truth = np.where(rng.random(1000) < np.array(p["score"]), 1, 0)  # calibrated-ish labels
    ids = p["request_id"][:600]
    duplicate = {k: (v[:10] if isinstance(v, list) else v.slice(0, 10)) for k, v in p.items()}
    labels = outcomes.read_labels(
        [("f", _feedback(ids, truth[:600].tolist()))], Task.CLASSIFICATION, []
    )
    files = [("p", _parquet(p)), ("dup", _parquet(duplicate))]  # at-least-once delivery
    policy = MonitoringPolicy(protected_attributes=["plan"], thresholds={"roc_auc": 0.99})
    found = outcomes.read_predictions(files, WINDOW, 1, Task.CLASSIFICATION, ["plan"], labels)
    perf, fair = outcomes.assess(found, Task.CLASSIFICATION, policy, {"auc": 0.8}, 600)
    y, score = truth[:600], np.array(p["score"][:600])
    yhat = (score >= 0.5).astype(int)
    assert perf["rows_labelled"] == 600 and perf["positive_class"] == "1"
    m = perf["metrics"]
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, yhat))
    assert m["precision"] == pytest.approx(sk.precision_score(y, yhat))
    assert m["recall"] == pytest.approx(sk.recall_score(y, yhat))
    assert m["f1"] == pytest.approx(sk.f1_score(y, yhat))
    assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, score))
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, score))
    assert perf["verdict"] == "degraded"  # under the policy's floor of 0.99
    # selection rates count every scored row as logged: the 10 re-delivered rows twice
    plan = np.array(p["plan"] + p["plan"][:10])
    chosen = np.array(p["prediction"] + p["prediction"][:10]) == 1.0
    for group in ("basic", "pro"):
        rows = fair["attributes"]["plan"]["groups"][group]
        assert rows["selection_rate"] == pytest.approx(np.mean(chosen[plan == group]))
        members = plan[:600] == group  # labelled rows count once
        assert rows["tpr"] == pytest.approx(sk.recall_score(y[members], yhat[members]))


def test_regression_and_nothing_to_read() -> None:
    n = 200
    rng = np.random.default_rng(2)
    value = rng.normal(size=n)
    p = {**_predictions(n, seed=7), "prediction": value.tolist(), "score": [None] * n}
    truth = value + rng.normal(scale=0.3, size=n)
    labels = outcomes.read_labels(
        [("f", _feedback(p["request_id"], truth.tolist()))], Task.REGRESSION, []
    )
    found = outcomes.read_predictions([("p", _parquet(p))], WINDOW, 1, Task.REGRESSION, [], labels)
    perf, fair = outcomes.assess(found, Task.REGRESSION, MonitoringPolicy(), {"rmse": 0.1}, n)
    assert perf["metrics"]["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(truth, value)))
    assert perf["metrics"]["mae"] == pytest.approx(sk.mean_absolute_error(truth, value))
    assert perf["verdict"] == "degraded" and fair == {}  # 3x the registered RMSE
    empty, none = outcomes.assess(
        outcomes.Outcomes(), Task.CLASSIFICATION, MonitoringPolicy(), {}, 0
    )
    assert empty["verdict"] == "no_labels" and empty["metrics"] == {} and none == {}


def test_positive_class_is_the_one_with_the_higher_mean_score() -> None:
    assert performance.positive_class({"no": [10, 10, 2.0], "yes": [5, 5, 4.0]}, set()) == "yes"
    assert performance.positive_class({"stay": [10, 10, 1.0]}, {"churn", "stay"}) == "churn"
    assert performance.positive_class({"a": [1, 0, 0.0], "b": [1, 0, 0.0]}, {"c"}) is None
    assert performance.positive_class({"0": [3, 0, 0.0]}, {"1"}) == "1"


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1),
        st.lists(st.integers(-(2**53), 2**53), min_size=1),
        st.lists(st.booleans(), min_size=1),
        st.lists(st.text(max_size=5), min_size=1),
    )
)
def test_the_log_reader_and_the_holdout_spell_classes_alike(values: list[Any]) -> None:
    """Two spellings of one rule: Arrow on log columns, Python on holdout labels."""
    arrow = outcomes._class_keys(pa.array(values)).to_pylist()
    assert arrow == [performance.class_key(v) for v in values]
