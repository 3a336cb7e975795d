"""Over HTTP on the local platform: the team's own trainer (examples/trainers/gbm) retrains
the breast-cancer gradient-boosted ONNX model into a new version that goes through the
approval workflow, with lineage naming the trainer and the data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.client import Client, zip_folder
from steward.local.platform import LocalPlatform
from steward.polling import until
from tests.factories import gbm_in_production

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
    ids = gbm_in_production(alice, NAME, retrain, platform.flush, lambda c: until(c, 120))

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
    assert lineage["training_data"]["rows"] == len(ids) and lineage["training_data"]["sha256"]
    assert "validation_accuracy" in new["metrics"]
    bob.post(f"/models/{NAME}/versions/2/decision", {"decision": "approve", "comment": "ok"})
    _status(alice, 2, "APPROVED")
    executions = alice.get(f"/models/{NAME}/executions")["items"]
    assert any(e["kind"] == "retrain" and e["status"] == "SUCCEEDED" for e in executions)


DRIFTED = "e2e-gbm-drift"


def test_drift_retrains_with_the_teams_trainer_on_the_lambda_backend(
    platform: LocalPlatform,
) -> None:
    """DriftDetected -> the retrain rule -> the custom trainer, run by the ``lambda``
    backend's branch (StageTrainer, TrainOnLambda: the trainer function in-process on the
    emulator, CollectTrainerOutput) -> a new ONNX version whose lineage names the drift
    report, the trainer's sha256 and the data window."""
    from datetime import UTC, datetime, timedelta

    from steward.local.demo_models import onnx_classifier

    alice = Client(url=platform.url, user="alice")
    retrain = {"trainer": "custom", "on_drift": True, "cooldown_hours": 0, "min_labels": 100}
    start = datetime.now(UTC) - timedelta(minutes=1)
    gbm_in_production(alice, DRIFTED, retrain, platform.flush, lambda c: until(c, 120))
    requirements = (GBM / "requirements.txt").read_text().split()
    trainer = alice.set_trainer(
        DRIFTED, str(GBM), requirements=requirements, backend="lambda", timeout_s=600
    )
    # two of four features shift: over the policy's drift_share (0.3)
    shifted = [
        {**r, "radius": r["radius"] * 1.6, "texture": r["texture"] * 1.6}
        for r in onnx_classifier().reference
    ]
    alice.predict(DRIFTED, shifted)
    platform.flush()
    end = datetime.now(UTC) + timedelta(minutes=1)
    report = alice.post(
        f"/models/{DRIFTED}/drift/evaluate", {"start": start.isoformat(), "end": end.isoformat()}
    )
    assert report["drift_detected"], report.get("features")

    def registered() -> bool:
        return bool(alice.get(f"/models/{DRIFTED}")["latest_version"] >= 2)

    try:
        until(registered, 240, step_s=0.5, what="the drift-triggered retrain")
    except TimeoutError:
        raise AssertionError(alice.get(f"/models/{DRIFTED}/executions")["items"]) from None
    new = alice.get(f"/models/{DRIFTED}/versions/2")
    lineage = new["lineage"]
    assert new["flavor"] == "onnx" and new["created_by"] == "steward-retrain"
    assert lineage["trigger"] == f"drift:{report['report_id']}"
    assert lineage["trainer_sha256"] == trainer["sha256"]
    assert lineage["code_ref"] == f"trainer:{trainer['sha256']}"
    window = lineage["data_window"]
    assert datetime.fromisoformat(window["start"]) < datetime.fromisoformat(window["end"])
    events = alice.get(f"/models/{DRIFTED}/audit?limit=200")["items"]
    [trained] = [e for e in events if e["action"] == "retrain.trained"]
    assert trained["after"]["backend"] == "lambda" and trained["after"]["seconds"] > 0
