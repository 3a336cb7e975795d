"""The client takes pandas DataFrames where the user has pandas (predict, register's
reference and holdout) without depending on it: what it sends is what the API reads back
as the frame's records, missing values as null."""

from __future__ import annotations

import base64
import hashlib
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.client import Client
from steward.records import plain, read_csv, tabular
from steward.registry.requests import RegisterVersion, TabularData
from steward.registry.tabular import rows_of

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")


class Recording(Client):
    def __init__(self) -> None:
        super().__init__(url="http://steward.invalid")
        self.sent: list[tuple[str, Any]] = []

    def post(self, path: str, body: Any) -> Any:
        self.sent.append((path, body))
        return {"ok": True}


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]


def test_predict_sends_a_dataframe_as_a_split_with_json_values() -> None:
    frame = pd.DataFrame(
        {
            "tenure": np.array([3, 40], dtype="int64"),
            "charges": [float("nan"), 70.25],
            "plan": pd.Categorical(["basic", None]),
            "seen": pd.to_datetime(["2026-11-27T10:00:00Z", None]),
            "active": pd.array([True, None], dtype="boolean"),
        }
    )
    client = Recording()
    client.predict("churn", frame, keys=pd.Series(["a", "b"]), alias="production")
    path, body = client.sent[0]
    assert path == "/models/churn/predict?alias=production"
    assert body == {
        "dataframe_split": {
            "columns": ["tenure", "charges", "plan", "seen", "active"],
            "data": [
                [3, None, "basic", "2026-11-27T10:00:00+00:00", True],
                [40, 70.25, None, None, None],
            ],
        },
        "keys": ["a", "b"],
    }
    assert all(
        type(v) in (int, float, str, bool, type(None)) for v in body["dataframe_split"]["data"][0]
    )


def test_register_sends_reference_and_holdout_frames_with_their_labels() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    holdout = pd.DataFrame({"x": [3.0, 4.0], "y": ["c", "d"], "churned": [0, 1]})
    client = Recording()
    client.register(
        "churn",
        flavor="logistic",
        artifact=b"{}",
        reference=reference,
        holdout=holdout,
        labels="churned",
        metrics={"auc": 0.9},
    )
    path, body = client.sent[0]
    assert path == "/models/churn/versions"
    request = RegisterVersion.model_validate(body)  # what the API validates
    assert request.sha256 == hashlib.sha256(b"{}").hexdigest()
    assert base64.b64decode(request.artifact_b64 or "") == b"{}"
    assert rows_of(request.reference_data, None) == _records(reference)  # type: ignore[arg-type]
    assert request.holdout_data is not None
    assert rows_of(request.holdout_data, None) == _records(holdout[["x", "y"]])  # type: ignore[arg-type]
    assert request.holdout_data.labels == [0, 1]
    # labels as a Series, the holdout as records
    client.register(
        "churn",
        flavor="logistic",
        artifact="s3://bucket/model.json",
        holdout=_records(holdout[["x"]]),
        labels=holdout["churned"],
    )
    body = client.sent[1][1]
    assert body["artifact_uri"] == "s3://bucket/model.json" and "sha256" not in body
    assert body["holdout_data"] == {"instances": [{"x": 3.0}, {"x": 4.0}], "labels": [0, 1]}


cell = st.one_of(
    st.none(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_infinity=False),
    st.text(max_size=5),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=8))
def test_a_frame_reads_back_as_its_records(rows: list[tuple[Any, Any, Any]]) -> None:
    frame = pd.DataFrame(rows, columns=["a", "b", "c"])
    data = TabularData.model_validate(tabular(frame))
    expected = _records(frame)
    got = rows_of(data, None)  # type: ignore[arg-type]
    assert got == expected
    for row in got:
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in row.values())


def test_records_are_sent_as_instances() -> None:
    stamp = datetime(2026, 11, 27, tzinfo=UTC)
    assert tabular({"x": np.float32(1.5), "at": stamp}) == {
        "instances": [{"x": 1.5, "at": "2026-11-27T00:00:00+00:00"}]
    }
    with pytest.raises(TypeError):
        tabular("x,y")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-1000, 1000)),
            st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
            st.one_of(st.none(), st.sampled_from(["basic", "pro", "x y"])),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_csv_columns_are_typed_as_pandas_types_them(
    rows: list[tuple[Any, Any, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The CLI reads CSV with the standard library: the same values pandas reads."""
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    pd.DataFrame(rows, columns=["n", "f", "s"]).to_csv(path, index=False)
    ours = read_csv(path)
    theirs = _records(pd.read_csv(path))
    assert len(ours) == len(theirs)
    for mine, pandas_row in zip(ours, theirs, strict=True):
        for key, value in mine.items():
            other = pandas_row[key]
            if isinstance(value, int | float) and isinstance(other, int | float):
                assert value == pytest.approx(other, rel=1e-12, abs=0), key
            else:
                assert value == other, key
