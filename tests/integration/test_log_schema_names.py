"""A model whose features are named like the prediction log's own columns, through the
handlers on moto: scored, its logs evaluated for drift, joined with feedback and retrained,
each on the features' own values (a re-delivered log file counts once where it matters)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pyarrow.parquet as pq

from steward.domain.log_schema import column_of
from tests.factories import b64
from tests.integration.conftest import Stack
from tests.integration.support import api, execution_end, scoring, wait_status
from tests.integration.test_scoring_logs import _serve, stack_logs_bucket

NAME = "clashing-names"
NUMERIC = ["score", "version", "ts", "model", "latency_ms"]  # the logistic model's inputs
SIGNATURE = {
    "inputs": [
        *({"name": n, "type": "double"} for n in NUMERIC),
        {"name": "variant", "type": "string", "categories": ["a", "b"]},
        {"name": "request_id", "type": "string"},
    ],
    "outputs": [{"name": "probability", "type": "double"}],
}
# Each feature far from the value the log's column of the same name holds (a model output in
# [0, 1], version 1, today's time, ...), so reading the wrong column cannot pass.
CENTRES = {"score": 50.0, "version": 200.0, "ts": -30.0, "model": 7.0, "latency_ms": 900.0}
COEFFICIENTS = {"score": 0.08, "version": -0.01, "ts": 0.02, "model": 0.3, "latency_ms": -0.002}


def _rows(n: int, seed: int, shift: str | None = None) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {k: float(rng.normal(c, abs(c) / 10)) for k, c in CENTRES.items()}
        row["variant"] = "a" if rng.random() < 0.6 else "b"
        row["request_id"] = ["p", "q", "r"][i % 3]
        rows.append(row)
    if shift:
        for row in rows:
            row[shift] += 3 * abs(CENTRES[shift]) / 10
    return rows


def _truth(rows: list[dict[str, Any]], seed: int) -> list[int]:
    z = np.array([sum(COEFFICIENTS[k] * (r[k] - CENTRES[k]) for k in NUMERIC) for r in rows])
    return (np.random.default_rng(seed).random(len(rows)) < 1 / (1 + np.exp(-z))).astype(int)


def _objects(prefix: str) -> list[str]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=stack_logs_bucket(), Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_features_named_like_log_columns_are_monitored_joined_and_retrained(
    stack: Stack,
) -> None:
    intercept = -sum(COEFFICIENTS[k] * CENTRES[k] for k in NUMERIC)
    artifact = json.dumps({"intercept": intercept, "coefficients": COEFFICIENTS}).encode()
    reference, holdout = _rows(1000, seed=1), _rows(300, seed=2)
    _serve(
        NAME,
        register={
            "artifact_b64": b64(artifact),
            "signature": SIGNATURE,
            "reference_data": {"instances": reference},
            "holdout_data": {"instances": holdout, "labels": _truth(holdout, 3).tolist()},
        },
        monitoring={
            "schedule": "rate(1 hour)",
            "window_hours": 1,
            "protected_attributes": ["variant"],
        },
        retrain={"on_drift": False, "cooldown_hours": 0, "min_labels": 100},
    )
    rows = _rows(1000, seed=8, shift="latency_ms")  # only the feature latency_ms moves
    ids: list[str] = []
    for start in range(0, len(rows), 250):
        code, body = scoring(
            stack, f"/models/{NAME}/predict", {"instances": rows[start : start + 250]}
        )
        assert code == 200, body
        ids += body["request_ids"]
    truth = _truth(rows, seed=5)
    feedback = [{"request_id": i, "label": int(t)} for i, t in zip(ids, truth, strict=True)]
    assert scoring(stack, f"/models/{NAME}/feedback", {"records": feedback})[0] in (200, 202)
    stack.flush()
    # At-least-once delivery: one prediction file is delivered again, under another name.
    s3, bucket = boto3.client("s3"), stack_logs_bucket()
    first = _objects(f"predictions/model={NAME}/")[0]
    again = first.replace(".parquet", "-again.parquet")
    s3.copy_object(Bucket=bucket, Key=again, CopySource={"Bucket": bucket, "Key": first})
    written = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=first)["Body"].read()))
    assert written.column(column_of("score")).to_pylist()[:3] == [r["score"] for r in rows[:3]]

    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(minutes=5)).isoformat(),
    }
    code, report = api(stack, "POST", f"/models/{NAME}/drift/evaluate", window)
    assert code == 200, report
    assert sorted(report["features"]) == sorted(CENTRES.keys() | {"variant", "request_id"})
    assert report["drifted_features"] == ["latency_ms"]  # its own shift; no alarm from version
    quality = report["data_quality"]
    assert quality["missing_columns"] == quality["type_mismatches"] == []
    assert quality["unseen_categories"] == {}
    performance = report["performance"]
    assert performance["rows_labelled"] == len(rows)  # the re-delivered rows count once
    groups = report["fairness"]["attributes"]["variant"]["groups"]
    assert set(groups) == {"a", "b"}  # the feature's values, not the log's variant

    code, started = api(stack, "POST", f"/models/{NAME}/retrain")
    assert code == 202, started
    finished = execution_end(started["execution"], timeout_s=30)
    assert finished["status"] == "SUCCEEDED", finished
    lineage = wait_status(stack, NAME, 2, "PENDING_APPROVAL")["lineage"]
    uri = lineage["training_data"]["uri"]
    training_bucket, key = uri.removeprefix("s3://").split("/", 1)
    data = s3.get_object(Bucket=training_bucket, Key=key)["Body"].read()
    training = pq.read_table(io.BytesIO(data)).to_pylist()
    assert sorted(r["request_id"] for r in training) == sorted(ids)  # once each
    sent = dict(zip(ids, rows, strict=True))
    labels = dict(zip(ids, truth.tolist(), strict=True))
    for row in training:
        features = {f: row[column_of(f)] for f in sent[row["request_id"]]}
        assert features == sent[row["request_id"]]
        assert row["label"] == labels[row["request_id"]]
