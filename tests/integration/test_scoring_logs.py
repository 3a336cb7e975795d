"""Scoring handler -> SQS -> log writer -> Parquet in S3, on moto, with injected failures."""

from __future__ import annotations

import dataclasses
import io
import os
import random
from typing import Any

import boto3
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from steward import wiring
from steward.adapters.aws.s3 import S3ArtifactStore
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.registry.requests import Decision, RegisterVersion
from tests.factories import model_spec, reference_rows, register_body
from tests.integration.conftest import Stack
from tests.integration.support import scoring, wait_status

USERS = UserDirectory()


def _serve(name: str, register: dict[str, Any] | None = None, **spec: Any) -> None:
    registry = wiring.registry()
    registry.create_model(
        ModelSpec.model_validate(model_spec(name, **spec)), USERS.identify("alice")
    )
    body = RegisterVersion.model_validate(register_body(**(register or {})))
    number = registry.register_version(name, body, USERS.identify("alice")).version
    for _ in range(200):
        if registry.get_version(name, number).status.value == "PENDING_APPROVAL":
            break
        import time

        time.sleep(0.02)
    registry.decide(name, number, Decision(decision="approve", comment="ok"), USERS.identify("bob"))
    registry.set_alias(name, "production", number, USERS.identify("alice"))


def _rows_in_s3(prefix: str) -> Any:
    s3 = boto3.client("s3")
    bucket = os.environ.get("STEWARD_LOGS_BUCKET") or stack_logs_bucket()
    tables = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            tables.append((obj["Key"], data))
    return tables


def stack_logs_bucket() -> str:
    return next(
        b["Name"]
        for b in boto3.client("s3").list_buckets()["Buckets"]
        if "scoringlogs" in b["Name"]
    )


def test_thousand_predictions_land_as_thousand_parquet_rows(stack: Stack, tmp_path: Any) -> None:
    _serve("logs-a")
    rows = reference_rows(100)
    ids: list[str] = []
    for _ in range(10):
        code, body = scoring(stack, "/models/logs-a/predict", {"instances": rows})
        assert code == 200, body
        ids += body["request_ids"]
    code, body = scoring(
        stack,
        "/models/logs-a/feedback",
        {"records": [{"request_id": i, "label": 1} for i in ids[:50]]},
    )
    assert code == 200 and body == {"accepted": 50}
    assert stack.flush() >= 10
    files = _rows_in_s3("predictions/model=logs-a/")
    assert files and all("/date=" in k and "/hour=" in k for k, _ in files)
    root = tmp_path / "logs"
    for key, data in files + _rows_in_s3("feedback/model=logs-a/"):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    dataset = ds.dataset(
        root / "predictions",
        format="parquet",
        partitioning="hive",
        filesystem=pafs.LocalFileSystem(),
    )
    table = dataset.to_table()
    assert table.num_rows == 1000
    assert set(table.column("request_id").to_pylist()) == set(ids)
    assert {
        "tenure",
        "charges",
        "plan",
        "prediction",
        "score",
        "variant",
        "version",
        "model",
        "date",
        "hour",
        "latency_ms",
        "flags",
    } <= set(table.column_names)
    feedback = ds.dataset(root / "feedback", format="parquet", partitioning="hive").to_table()
    assert feedback.num_rows == 50
    assert len(files) <= 2  # sized by batch (one per hour touched), not one per request


def test_failing_writes_are_retried_and_lose_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve("logs-b")
    rows = reference_rows(20)
    ids: list[str] = []
    for _ in range(50):
        ids += scoring(stack, "/models/logs-b/predict", {"instances": rows})[1]["request_ids"]
    original = S3ArtifactStore.put
    rng = random.Random(5)
    failures = {"n": 0}

    def flaky(self: S3ArtifactStore, key: str, data: bytes) -> Any:
        if rng.random() < 0.05:
            failures["n"] += 1
            raise OSError("injected S3 failure")
        return original(self, key, data)

    monkeypatch.setattr(S3ArtifactStore, "put", flaky)
    for poller in stack.pollers:  # one message per batch, so that 5 % of writes fail
        monkeypatch.setattr(poller, "source", dataclasses.replace(poller.source, batch_size=1))
    for _ in range(4):  # failed messages come back at once; a few rounds drain them
        stack.flush()
    seen: list[str] = []
    import pyarrow.parquet as pq

    for _, data in _rows_in_s3("predictions/model=logs-b/"):
        seen += pq.read_table(io.BytesIO(data)).column("request_id").to_pylist()
    dlq = next(q for q in boto3.client("sqs").list_queues()["QueueUrls"] if "LogDlq" in q)
    dead = boto3.client("sqs").get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )
    in_dlq = int(dead["Attributes"]["ApproximateNumberOfMessages"])
    assert failures["n"] > 0 and in_dlq == 0
    assert sorted(seen) == sorted(ids)  # 1,000 rows, each once


def test_poison_messages_end_in_the_dlq(stack: Stack) -> None:
    sqs = boto3.client("sqs")
    queue = stack.pollers[0].source.queue_url
    sqs.send_message(QueueUrl=queue, MessageBody="{not json")
    for _ in range(6):  # maxReceiveCount is 5: the sixth receive moves it
        stack.flush()
    dlq = next(q for q in sqs.list_queues()["QueueUrls"] if "LogDlq" in q)
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert any(m["Body"] == "{not json" for m in messages)


def test_a_multiclass_canary_logs_what_it_answered(stack: Stack) -> None:
    """A wine forest (v1) and its challenger (v2) taking all traffic: the handler's answer
    names v2 and carries every class's probability; the Parquet log in S3 says the same per
    record (version, variant, probabilities)."""
    import pyarrow.parquet as pq

    from steward.domain.models import TrafficPolicy
    from tests.factories import b64, multiclass_data, multiclass_rows, onnx_forest

    x, y, signature = multiclass_data("wine")
    rows = multiclass_rows(x)
    registry = wiring.registry()
    spec = model_spec("logs-wine", deployment={"auto_deploy": False})
    registry.create_model(ModelSpec.model_validate(spec), USERS.identify("alice"))
    for seed in (0, 1):
        graph, _ = onnx_forest(x, y, seed=seed)
        body = register_body(
            flavor="onnx", signature=signature, reference_data={"instances": rows[::2]}
        )
        body["artifact_b64"] = b64(graph)
        request = RegisterVersion.model_validate(body)
        number = registry.register_version("logs-wine", request, USERS.identify("alice")).version
        wait_status(stack, "logs-wine", number, "PENDING_APPROVAL")
        decision = Decision(decision="approve", comment="ok")
        registry.decide("logs-wine", number, decision, USERS.identify("bob"))
    registry.set_alias("logs-wine", "production", 1, USERS.identify("alice"))
    policy = TrafficPolicy(champion=1, challenger=2, challenger_percent=100)
    registry.set_traffic("logs-wine", policy, USERS.identify("alice"))

    code, answer = scoring(stack, "/models/logs-wine/predict", {"instances": rows[:50]})
    assert code == 200, answer
    assert answer["version"] == 2 and answer.get("versions") is None
    for prediction in answer["predictions"]:
        assert set(prediction["probabilities"]) == {"0", "1", "2"}
        assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-12
    assert stack.flush() >= 1
    logged = {}
    for _, data in _rows_in_s3("predictions/model=logs-wine/"):
        table = pq.read_table(io.BytesIO(data))
        for r in table.select(["request_id", "version", "variant", "probabilities"]).to_pylist():
            logged[r["request_id"]] = (r["version"], r["variant"], dict(r["probabilities"]))
    assert [logged[rid] for rid in answer["request_ids"]] == [
        (2, "challenger", p["probabilities"]) for p in answer["predictions"]
    ]
