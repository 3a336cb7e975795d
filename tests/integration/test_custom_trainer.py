"""Retraining with the model's own code: the retrain state machine, as synthesized by CDK,
on moto, with the real task handlers and the ``local`` trainer backend running
``examples/trainers/gbm`` (scikit-learn gradient boosting exported to ONNX)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from steward.client import zip_folder
from steward.lifecycle.retrain import is_holdout, start_retrain
from steward.local.demo_models import onnx_classifier
from tests.integration.conftest import Stack
from tests.integration.support import api, execution_end, scoring, wait_status
from tests.integration.test_lifecycle_workflows import _create, _decide, _states

GBM = Path(__file__).resolve().parents[2] / "examples" / "trainers" / "gbm"
FAILING = b"""import os, sys
open(os.environ["SM_OUTPUT_DIR"] + "/failure", "w").write("too few malignant cases: 0 < 10")
sys.exit(3)
"""


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return sink.getvalue()


def _trainer(source: bytes, **settings: Any) -> dict[str, Any]:
    requirements = (GBM / "requirements.txt").read_text().split()
    return {
        "source_b64": base64.b64encode(source).decode(),
        "requirements": requirements,
        **settings,
    }


def _retrain(stack: Stack, name: str, key: str) -> dict[str, Any]:
    from steward import wiring

    run = start_retrain(wiring.registry().workflows, name, "manual", key)
    return execution_end(run["execution"], timeout_s=120)


@pytest.fixture(scope="module")
def gbm(stack: Stack) -> str:
    """A production breast-cancer GBM (ONNX) with a window of scored, labelled rows."""
    name = "life-gbm"
    _create(stack, name, retrain={"trainer": "custom", "min_labels": 0, "cooldown_hours": 0})
    demo = onnx_classifier()
    body = {
        "flavor": "onnx",
        "artifact_b64": base64.b64encode(demo.artifact).decode(),
        "signature": demo.signature,
        "metrics": demo.metrics,
        "reference_data": {"instances": demo.reference},
        "holdout_data": {"instances": demo.holdout, "labels": demo.labels},
    }
    code, out = api(stack, "POST", f"/models/{name}/versions", body)
    assert code == 201, out
    _decide(stack, name, 1)
    execution_end(wait_status(stack, name, 1, "APPROVED")["execution_arn"], timeout_s=20)
    rows = demo.reference + demo.holdout
    labels = [int(r["concave_points"] > 0.1) for r in rows]
    code, scored = scoring(stack, f"/models/{name}/predict", {"instances": rows})
    assert code == 200, scored
    records = [
        {"request_id": r, "label": y} for r, y in zip(scored["request_ids"], labels, strict=True)
    ]
    for _ in range(2):  # every label twice: the channels hold each request id once
        assert scoring(stack, f"/models/{name}/feedback", {"records": records})[0] in (200, 202)
    stack.flush()
    global REQUEST_IDS
    REQUEST_IDS = list(scored["request_ids"])
    return name


REQUEST_IDS: list[str] = []
COUNTING = b"""import os, sys, pyarrow.parquet as pq
train = pq.read_table(os.environ["SM_CHANNEL_TRAIN"])
valid = pq.read_table(os.environ["SM_CHANNEL_VALIDATION"])
text = f"rows {train.num_rows} {valid.num_rows} columns {','.join(train.column_names)}"
open(os.environ["SM_OUTPUT_DIR"] + "/failure", "w").write(text)
sys.exit(4)
"""


def test_trainer_is_governed(stack: Stack, gbm: str) -> None:
    assert api(stack, "GET", f"/models/{gbm}/trainer")[0] == 404
    source = zip_folder(str(GBM))
    assert api(stack, "PUT", f"/models/{gbm}/trainer", _trainer(source), user="bob")[0] == 403
    code, bad = api(stack, "PUT", f"/models/{gbm}/trainer", _trainer(b"not a zip"))
    assert code == 422 and "zip" in bad["message"]
    code, set_ = api(stack, "PUT", f"/models/{gbm}/trainer", _trainer(source, timeout_s=600))
    assert code == 200, set_
    assert set_["sha256"] == hashlib.sha256(source).hexdigest() and set_["timeout_s"] == 600
    assert api(stack, "GET", f"/models/{gbm}/trainer")[1]["sha256"] == set_["sha256"]
    events = api(stack, "GET", f"/models/{gbm}/audit")[1]["items"]
    [event] = [e for e in events if e["action"] == "trainer.set"]
    assert event["actor"] == "alice" and event["before"] == {"sha256": None}
    assert event["after"]["sha256"] == set_["sha256"]


def test_custom_trainer_registers_an_onnx_version_with_its_lineage(stack: Stack, gbm: str) -> None:
    source = zip_folder(str(GBM))
    assert api(stack, "PUT", f"/models/{gbm}/trainer", _trainer(source))[0] == 200
    run = _retrain(stack, gbm, "custom-ok")
    assert run["status"] == "SUCCEEDED", _states(run["executionArn"])
    new = wait_status(stack, gbm, 2, "PENDING_APPROVAL")
    assert new["flavor"] == "onnx" and new["created_by"] == "steward-retrain"
    lineage = new["lineage"]
    assert lineage["trainer_sha256"] == hashlib.sha256(source).hexdigest()
    assert lineage["code_ref"] == f"trainer:{lineage['trainer_sha256']}"
    assert lineage["parent_version"] == 1 and lineage["data_window"]
    assert lineage["training_data"]["sha256"] and lineage["training_data"]["rows"] > 100
    assert 0.5 < new["metrics"]["validation_accuracy"] <= 1  # the trainer's own, merged
    assert "accuracy" in new["metrics"]  # Steward's, on the holdout
    events = api(stack, "GET", f"/models/{gbm}/audit")[1]["items"]
    [trained] = [e for e in events if e["action"] == "retrain.trained"]
    assert trained["after"]["trainer_sha256"] == lineage["trainer_sha256"]
    assert trained["after"]["sha256"] == new["sha256"] and trained["after"]["seconds"] > 0


def test_a_failing_trainer_leaves_no_version_and_says_why(stack: Stack, gbm: str) -> None:
    latest = api(stack, "GET", f"/models/{gbm}")[1]["latest_version"]
    failing = _trainer(_zip({"train.py": FAILING}), requirements=[])
    assert api(stack, "PUT", f"/models/{gbm}/trainer", failing)[0] == 200
    run = _retrain(stack, gbm, "custom-fail")
    assert run["status"] == "FAILED"
    assert run["error"] == "RetrainFailed"
    assert "too few malignant cases: 0 < 10" in run["cause"]
    assert api(stack, "GET", f"/models/{gbm}")[1]["latest_version"] == latest
    executions = api(stack, "GET", f"/models/{gbm}/executions")[1]["items"]
    [failed] = [e for e in executions if e["name"] == run["name"]]
    assert failed["status"] == "FAILED" and "too few malignant cases" in failed["cause"]
    events = api(stack, "GET", f"/models/{gbm}/audit")[1]["items"]
    assert any(
        e["action"] == "retrain.failed" and "too few malignant cases" in e["reason"] for e in events
    )


def test_channels_hold_the_window_joined_and_deduplicated(stack: Stack, gbm: str) -> None:
    counting = _trainer(_zip({"train.py": COUNTING}), requirements=[])
    assert api(stack, "PUT", f"/models/{gbm}/trainer", counting)[0] == 200
    run = _retrain(stack, gbm, "custom-count")
    held = sum(is_holdout(r) for r in REQUEST_IDS)
    columns = "radius,texture,concave_points,area,label"  # the signature's order, then label
    assert f"rows {len(REQUEST_IDS) - held} {held} columns {columns}" in run["cause"]
