"""Over HTTP on the local platform: the team's own trainer (examples/trainers/gbm) retrains
the breast-cancer gradient-boosted ONNX model into a new version that goes through the
approval workflow, with lineage naming the trainer and the data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.client import Client, zip_folder
from steward.local.demo_models import onnx_classifier
from steward.local.platform import LocalPlatform
from steward.polling import until
from tests.factories import model_spec

ROOT = Path(__file__).resolve().parents[2]
GBM = ROOT / "examples" / "trainers" / "gbm"
NAME = "e2e-gbm-trainer"


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def _status(alice: Client, version: int, status: str) -> None:
    def reached() -> bool:
        versions = alice.get(f"/models/{NAME}/versions")["items"]
        return any(v["version"] == version and v["status"] == status for v in versions)

    try:
        until(reached, 120, step_s=0.2, what=f"v{version} {status}")
    except TimeoutError:
        raise AssertionError(alice.get(f"/models/{NAME}/executions")["items"]) from None


def test_set_a_trainer_retrain_and_approve_the_new_onnx_version(platform: LocalPlatform) -> None:
    alice = Client(url=platform.url, user="alice")
    bob = alice.as_user("bob")
    retrain = {"trainer": "custom", "on_drift": False, "cooldown_hours": 0, "min_labels": 100}
    alice.post("/models", model_spec(NAME, retrain=retrain))
    demo = onnx_classifier()
    alice.register(
        NAME,
        flavor="onnx",
        artifact=demo.artifact,
        signature=demo.signature,
        reference=demo.reference,
        holdout=demo.holdout,
        labels=demo.labels,
        metrics=demo.metrics,
    )
    _status(alice, 1, "PENDING_APPROVAL")
    bob.post(f"/models/{NAME}/versions/1/decision", {"decision": "approve", "comment": "ok"})
    _status(alice, 1, "APPROVED")
    alice.put(f"/models/{NAME}/aliases/production", {"version": 1})

    rows = demo.reference + demo.holdout
    ids = alice.predict(NAME, rows)["request_ids"]
    labels = [int(r["concave_points"] > 0.1) for r in rows]
    records = [{"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
    alice.post(f"/models/{NAME}/feedback", {"records": records})
    platform.flush()

    requirements = (GBM / "requirements.txt").read_text().split()
    trainer = alice.set_trainer(
        NAME, str(GBM), requirements=requirements, hyperparameters={"n_estimators": 40}
    )
    assert trainer["sha256"] == hashlib.sha256(zip_folder(str(GBM))).hexdigest()
    assert alice.get(f"/models/{NAME}/trainer")["hyperparameters"] == {"n_estimators": 40}

    run = alice.post(f"/models/{NAME}/retrain", {})
    _status(alice, 2, "PENDING_APPROVAL")
    new = alice.get(f"/models/{NAME}/versions/2")
    assert new["flavor"] == "onnx" and new["created_by"] == "steward-retrain"
    lineage = new["lineage"]
    assert lineage["trainer_sha256"] == trainer["sha256"]
    assert lineage["trainer_run"] == run["run"] and lineage["data_window"]
    assert lineage["training_data"]["rows"] == len(rows) and lineage["training_data"]["sha256"]
    assert "validation_accuracy" in new["metrics"]
    bob.post(f"/models/{NAME}/versions/2/decision", {"decision": "approve", "comment": "ok"})
    _status(alice, 2, "APPROVED")
    executions = alice.get(f"/models/{NAME}/executions")["items"]
    assert any(e["kind"] == "retrain" and e["status"] == "SUCCEEDED" for e in executions)
