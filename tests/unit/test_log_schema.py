"""The prediction log's schema: every feature name maps to a column of its own and back, and
the readers (drift, outcomes, retrain, canary) read a feature from that column, never from the
log's own column of the same name."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.adapters.memory import MemoryLogFiles
from steward.domain import log_schema as schema
from steward.domain.models import MonitoringPolicy, Signature, Task
from steward.domain.profile import build_profile
from steward.drift import outcomes
from steward.drift.evaluate import partial_of
from steward.drift.report import report
from steward.logs.reader import LogFile, read_window
from steward.scoring.writer import Group, to_parquet

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=1))
CLASHING = ["score", "version", "ts", "model", "variant", "request_id", "latency_ms", "label"]

reserved = st.sampled_from(sorted(schema.RESERVED))
prefixed = st.builds(lambda n: schema.FEATURE_PREFIX + n, st.text(max_size=20))
names = st.one_of(reserved, prefixed, st.text(min_size=1, max_size=40))


@given(names)
def test_every_feature_round_trips_to_a_column_no_log_column_takes(feature: str) -> None:
    column = schema.column_of(feature)
    assert schema.feature_of(column) == feature
    assert column not in schema.RESERVED


@given(names, names)
def test_two_features_never_share_a_column(one: str, other: str) -> None:
    assert (schema.column_of(one) == schema.column_of(other)) == (one == other)


def test_the_log_s_own_columns_are_no_feature() -> None:
    for column in (*schema.PREDICTION_COLUMNS, *schema.FEEDBACK_COLUMNS):
        assert schema.feature_of(column) is None
    assert schema.column_of("tenure") == "tenure"  # ordinary names stay as they are
    assert schema.column_of("score") == "feature_score"
    assert schema.column_of("feature_score") == "feature_feature_score"


def _written(
    features: dict[str, list[Any]], version: int = 3, ids: list[str] | None = None
) -> bytes:
    """A prediction log file as the writer writes it from one scoring batch."""
    n = len(next(iter(features.values())))
    batch = {
        "kind": "predictions",
        "model": "m",
        "ts": (T0 + timedelta(minutes=5)).isoformat(),
        "rows": n,
        "columns": {
            "request_id": ids or [f"r{i}" for i in range(n)],
            "version": [version] * n,
            "variant": ["champion"] * n,
            "features": features,
            "prediction": [1.0] * n,
            "score": [0.9] * n,
            "latency_ms": [1.0] * n,
        },
    }
    return to_parquet(Group("predictions", "m", T0, [batch]))


def test_the_writer_stores_clashing_features_under_their_own_columns() -> None:
    values = {name: [float(i) for i in range(4)] for name in CLASHING}
    table = pq.read_table(io.BytesIO(_written({**values, "feature_x": [1.0] * 4})))
    for name in CLASHING:
        assert table.column(schema.column_of(name)).to_pylist() == values[name]
    assert table.column("feature_feature_x").to_pylist() == [1.0] * 4
    assert table.column("version").to_pylist() == [3] * 4  # the log's own


def test_drift_reads_a_feature_named_like_a_log_column_from_its_own_column() -> None:
    """A feature ``score`` was counted as the model's output and vanished from the report; a
    feature ``version`` was compared with the version number (a false alarm)."""
    rng = np.random.default_rng(1)
    cols = {name: rng.normal(10 * i + 5, 1, 4000) for i, name in enumerate(CLASHING)}
    signature = Signature.model_validate({"inputs": [{"name": n} for n in CLASHING]})
    reference = build_profile(cols, np.full(4000, 0.9))
    current = {name: values[:2000].tolist() for name, values in cols.items()}
    files = [("k", _written(current))]
    partial = partial_of(files, reference, signature, WINDOW, 3)
    assert partial.profile is not None and partial.profile.rows == 2000
    assert not partial.missing_columns and not partial.extra_columns
    found = report(
        partial,
        reference,
        signature,
        MonitoringPolicy(),
        report_id="r",
        model="m",
        version=3,
        window=WINDOW,
        created_at=T0.isoformat(),
    )
    assert sorted(found.features) == sorted(CLASHING)
    assert found.drifted_features == []
    assert found.prediction is not None and not found.prediction.drift
    for name in CLASHING:
        assert partial.profile.features[name].count == 2000  # type: ignore[union-attr]


def test_outcomes_group_by_a_protected_attribute_named_like_a_log_column() -> None:
    n = 300
    ids = [f"r{i}" for i in range(n)]
    groups = ["a" if i % 2 else "b" for i in range(n)]
    files = [("k", _written({"label": groups, "score": groups}, ids=ids))]
    sink = io.BytesIO()
    pq.write_table(pa.table({"request_id": ids, "label": [1] * n}), sink)
    labels = outcomes.read_labels([("f", sink.getvalue())], Task.CLASSIFICATION, [])
    found = outcomes.read_predictions(files, WINDOW, 3, Task.CLASSIFICATION, ["label"], labels)
    assert found.groups["label"] == {"a": {"1": n // 2}, "b": {"1": n // 2}}
    [labelled] = found.labelled
    assert labelled.column("label").to_pylist() == ["1"] * n  # the ground truth, not the feature


def test_read_window_maps_features_and_keeps_one_row_per_request_id() -> None:
    logs = MemoryLogFiles()
    ids = ["r0", "r1", "r2"]
    folder = "predictions/model=m/date=2026-11-27/hour=10/"
    logs.files[folder + "a.parquet"] = _written({"score": [1.0, 2.0, 3.0]}, ids=ids)
    logs.files[folder + "b.parquet"] = _written({"score": [1.0, 2.0, 3.0]}, ids=ids)  # again
    logs.files[folder + "c.parquet"] = _written({"score": [1.0]}, version=4, ids=["r0"])  # shadow
    table = read_window(logs, "predictions", "m", WINDOW, features=["score"])
    assert sorted(table.column("request_id").to_pylist()) == ids
    assert table.column_names == ["request_id", "feature_score"]
    by_version = read_window(logs, "predictions", "m", WINDOW, [schema.VERSION])
    assert by_version.num_rows == 4  # the shadow's row is its own


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 120), st.integers(1, 3)), min_size=1, max_size=60),
    st.integers(1, 16),
    st.integers(-10, 130),
    st.integers(0, 130),
    st.sampled_from([None, 1, 2, 3]),
    st.booleans(),
)
def test_row_groups_are_the_window_s_and_the_version_s_rows(
    rows: list[tuple[int, int]],
    group: int,
    start: int,
    length: int,
    version: int | None,
    with_version: bool,
) -> None:
    """Whatever the statistics decide per row group, the rows are a plain filter's."""
    minutes = [T0 + timedelta(minutes=m) for m, _ in rows]
    table = pa.table(
        {
            "ts": pa.array(minutes, pa.timestamp("us", tz="UTC")),
            "version": pa.array([v for _, v in rows], pa.int32()),
            "feature_score": pa.array([float(i) for i in range(len(rows))]),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=group)
    window = (T0 + timedelta(minutes=start), T0 + timedelta(minutes=start + length))
    columns = ["feature_score", *(["version"] if with_version else [])]
    read = list(LogFile(sink.getvalue()).row_groups(window, version, columns))
    got = pa.concat_tables(read).to_pylist() if read else []
    expected = [
        {c: row[c] for c in columns}
        for row in table.to_pylist()
        if window[0] <= row["ts"] < window[1] and (version is None or row["version"] == version)
    ]
    assert got == expected
