"""Scoring over HTTP on the local platform: same answers as the model's own library,
pinned versions, 4xx for malformed payloads, and the records in Parquet."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from steward.client import Client
from steward.local.platform import LocalPlatform
from steward.scoring.service import MODEL_TTL_S

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["tenure", "charges", "usage"]


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def _onnx(seed: int) -> tuple[bytes, np.ndarray]:
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    model = GradientBoostingClassifier(n_estimators=20, random_state=seed).fit(
        x, (x[:, 0] > 0).astype(int)
    )
    return to_onnx(model, x[:1], options={id(model): {"zipmap": False}}).SerializeToString(), x


def _deploy(client: Client, name: str) -> tuple[list[bytes], np.ndarray]:
    alice, bob = client.as_user("alice"), client.as_user("bob")
    # Deployed by hand below: approving version 2 must not start a canary by policy.
    manual = {"auto_deploy": False}
    alice.post("/models", {"name": name, "task": "classification", "deployment": manual})
    artifacts = []
    x = np.zeros((0, 3))
    for seed in (1, 2):
        artifact, x = _onnx(seed)
        artifacts.append(artifact)
        v = alice.post(
            f"/models/{name}/versions",
            {
                "flavor": "onnx",
                "artifact_b64": base64.b64encode(artifact).decode(),
                "signature": {"inputs": [{"name": n, "type": "double"} for n in NAMES]},
                "reference_data": {
                    "instances": [dict(zip(NAMES, map(float, r), strict=True)) for r in x[:200]]
                },
            },
        )
        path = f"/models/{name}/versions/{v['version']}"
        for _ in range(200):
            if alice.get(path)["status"] == "PENDING_APPROVAL":
                break
        bob.post(f"{path}/decision", {"decision": "approve", "comment": "ok"})
    alice.put(f"/models/{name}/aliases/production", {"version": 1})
    return artifacts, x


def _raw(platform: LocalPlatform, path: str, data: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        platform.url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_predictions_equal_the_runtime_and_versions_pin(platform: LocalPlatform) -> None:
    client = Client(url=platform.url)
    artifacts, x = _deploy(client, "http-gbm")
    rows = [dict(zip(NAMES, map(float, r), strict=True)) for r in x[:100]]
    for version, artifact in ((None, artifacts[0]), (2, artifacts[1])):
        query = f"?version={version}" if version else ""
        answer = client.post(f"/models/http-gbm/predict{query}", {"instances": rows})
        session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
        expected = session.run(None, {"X": x[:100].astype(np.float32)})[1][:, 1]
        got = np.array([p["probability"] for p in answer["predictions"]])
        assert np.allclose(got, expected, atol=1e-6)
        assert answer["version"] == (version or 1) and len(answer["request_ids"]) == 100
    assert platform.flush() >= 2
    info = client.get("/_local/info")
    assert info["queues"][0]["batches"] >= 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 422),
        (b"", 422),
        (b"{}", 422),
        (b'{"instances": []}', 422),
        (b'{"instances": [{"tenure": 1}]}', 422),
        (b'{"instances": [{"tenure": "a", "charges": 1, "usage": 2}]}', 422),
        (b'{"instances": [{"tenure": 1, "charges": 1, "usage": 2}], "extra": 1}', 422),
        (
            json.dumps(
                {"instances": [{"tenure": 1.0, "charges": 1.0, "usage": 1.0}] * 10_001}
            ).encode(),
            413,
        ),
    ],
)
def test_malformed_payloads_get_clear_4xx(
    platform: LocalPlatform, body: bytes, status: int
) -> None:
    client = Client(url=platform.url)
    if not any(m["name"] == "http-bad" for m in client.get("/models")["items"]):
        _deploy(client, "http-bad")
    code, payload = _raw(platform, "/models/http-bad/predict", body)
    assert code == status, payload
    assert set(payload) == {"error", "message"} and payload["message"]


def test_sklearn_models_answer_through_the_image_function(platform: LocalPlatform) -> None:
    """sklearn (skops) is served by the scoring image function in AWS; locally the zip
    function forwards to it through the emulator's Lambda Invoke, as it would in AWS."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    client = Client(url=platform.url)
    alice, bob = client.as_user("alice"), client.as_user("bob")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3))
    model = LogisticRegression().fit(x, (x[:, 1] > 0).astype(int))
    rows = [dict(zip(NAMES, map(float, r), strict=True)) for r in x]
    alice.post("/models", {"name": "http-sk", "task": "classification"})
    v = alice.post(
        "/models/http-sk/versions",
        {
            "flavor": "sklearn",
            "artifact_b64": base64.b64encode(sio.dumps(model)).decode(),
            "signature": {"inputs": [{"name": n, "type": "double"} for n in NAMES]},
            "reference_data": {"instances": rows},
        },
    )
    path = f"/models/http-sk/versions/{v['version']}"
    for _ in range(200):
        if alice.get(path)["status"] == "PENDING_APPROVAL":
            break
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "ok"})
    alice.put("/models/http-sk/aliases/production", {"version": v["version"]})
    before = platform.runtime.invocations["scoring"] if platform.runtime else 0
    answer = client.post("/models/http-sk/predict", {"instances": rows[:50]})
    got = np.array([p["probability"] for p in answer["predictions"]])
    assert np.allclose(got, model.predict_proba(x[:50])[:, 1], atol=1e-6)
    assert platform.runtime is not None
    assert platform.runtime.invocations["scoring"] - before == 2  # zip, then image function


def _approved(client: Client, name: str, body: dict[str, Any]) -> int:
    """Registered by alice, approved by bob: the version's number."""
    alice, bob = client.as_user("alice"), client.as_user("bob")
    v = alice.post(f"/models/{name}/versions", body)
    path = f"/models/{name}/versions/{v['version']}"
    for _ in range(200):
        if alice.get(path)["status"] == "PENDING_APPROVAL":
            break
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "ok"})
    return int(v["version"])


def test_a_multiclass_forest_answers_every_class_and_the_challenger_is_named(
    platform: LocalPlatform,
) -> None:
    """A 30-tree forest on wine exported by skl2onnx (float32 sums: 1.0000004 before the
    rounding tolerance) answers {class: p} summing to 1; with all traffic on the challenger,
    the answer names the challenger, and so does the Parquet log."""
    import boto3
    import pyarrow.parquet as pq

    from tests.factories import multiclass_data, multiclass_rows, onnx_forest

    x, y, signature = multiclass_data("wine")
    rows = multiclass_rows(x)
    client = Client(url=platform.url)
    alice = client.as_user("alice")
    alice.post(
        "/models",
        {"name": "http-wine", "task": "classification", "deployment": {"auto_deploy": False}},
    )
    forests = []
    for seed in (0, 1):
        graph, forest = onnx_forest(x, y, seed=seed)
        forests.append(forest)
        body = {
            "flavor": "onnx",
            "artifact_b64": base64.b64encode(graph).decode(),
            "signature": signature,
            "reference_data": {"instances": rows[::2]},
        }
        assert _approved(client, "http-wine", body) == seed + 1
    alice.put("/models/http-wine/aliases/production", {"version": 1})
    answer = client.post("/models/http-wine/predict", {"instances": rows[:60]})
    assert answer["version"] == 1 and answer.get("versions") is None
    for got, want in zip(answer["predictions"], forests[0].predict_proba(x[:60]), strict=True):
        assert list(got["probabilities"]) == ["0", "1", "2"]
        assert abs(sum(got["probabilities"].values()) - 1) < 1e-12
        assert np.allclose(list(got["probabilities"].values()), want, atol=1e-5)

    alice.put(
        "/models/http-wine/traffic",
        {"champion": 1, "challenger": 2, "challenger_percent": 100, "mode": "canary"},
    )
    time.sleep(MODEL_TTL_S)  # the traffic policy reaches the warm scorer within its TTL
    canary = client.post("/models/http-wine/predict", {"instances": rows[:40]})
    assert canary["version"] == 2 and canary.get("versions") is None
    assert platform.flush() >= 1
    s3 = boto3.client("s3")  # the emulator
    bucket = os.environ["STEWARD_LOGS_BUCKET"]
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="predictions/model=http-wine/"
        )
        for o in page.get("Contents", [])
    ]
    logged: dict[str, tuple[int, str, dict[str, float]]] = {}
    for key in keys:
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        for r in table.select(["request_id", "version", "variant", "probabilities"]).to_pylist():
            logged[r["request_id"]] = (r["version"], r["variant"], dict(r["probabilities"]))
    for rid, got in zip(canary["request_ids"], canary["predictions"], strict=True):
        assert logged[rid] == (2, "challenger", got["probabilities"])
