"""The trainer contract (layout, result) and the ``local`` backend (subprocess, cached
environment, timeout)."""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
import time
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from steward.domain import log_schema as schema
from steward.domain.models import Flavor
from steward.lifecycle.retrain import is_holdout
from steward.training import local
from steward.training.contract import TrainerFailed, channel_rows, read_result, write_layout

FEATURES = ["x", "label"]  # a feature named like the label keeps its own column


def _rows(n: int = 50) -> list[dict[str, object]]:
    return [
        {
            schema.REQUEST_ID: f"r{i:03d}",
            "x": float(i),
            schema.column_of("label"): float(-i),
            schema.LABEL: i % 2,
        }
        for i in range(n)
    ]


def zipped(files: dict[str, str]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return sink.getvalue()


def test_channels_hold_every_row_once_split_by_request_id(tmp_path: Path) -> None:
    rows = _rows()
    env = write_layout(tmp_path, rows[::-1], FEATURES, {"depth": 3}, is_holdout)
    train = pq.read_table(Path(env["SM_CHANNEL_TRAIN"]) / "data.parquet").to_pylist()
    valid = pq.read_table(Path(env["SM_CHANNEL_VALIDATION"]) / "data.parquet").to_pylist()
    assert len(train) + len(valid) == len(rows) and valid
    assert [r["x"] for r in valid] == [r["x"] for r in rows if is_holdout(str(r["request_id"]))]
    assert set(train[0]) == {"x", "label"}  # the feature 'label' is not the label
    assert json.loads(env["SM_HPS"]) == {"depth": 3}
    config = tmp_path / "input" / "config" / "hyperparameters.json"
    assert json.loads(config.read_text()) == {"depth": 3}
    assert env["SM_MODEL_DIR"] == str(tmp_path / "model")


def test_channel_rows_use_the_feature_names() -> None:
    split = channel_rows(_rows(5), ["x"], is_holdout)
    assert sorted(r["x"] for part in split.values() for r in part) == [0.0, 1.0, 2.0, 3.0, 4.0]


def _model(tmp_path: Path, files: dict[str, bytes]) -> Path:
    (tmp_path / "model").mkdir(exist_ok=True)
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_result_reads_one_artifact_signature_and_metrics(tmp_path: Path) -> None:
    root = _model(
        tmp_path,
        {
            "model/model.onnx": b"onnx-bytes",
            "model/signature.json": b'{"inputs": []}',
            "output/metrics.json": b'{"auc": 0.9, "rows": 10}',
        },
    )
    result = read_result(root)
    assert result.flavor is Flavor.ONNX and result.artifact == b"onnx-bytes"
    assert result.signature == {"inputs": []}
    assert result.metrics == {"auc": 0.9, "rows": 10.0}


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({}, "exactly one"),
        ({"model/model.pkl": b"\x80\x04K."}, "model.pkl"),
        ({"model/model.skops": b"\x80\x04K\x01."}, "pickle"),
        ({"model/model.onnx": b"a", "model/model.skops": b"b"}, "found 2"),
        ({"model/model.json": b"{}"}, "decision model"),
        ({"model/model.onnx": b"a", "output/metrics.json": b'{"auc": "high"}'}, "finite"),
    ],
)
def test_result_outside_the_contract_is_refused(
    tmp_path: Path, files: dict[str, bytes], says: str
) -> None:
    with pytest.raises(TrainerFailed, match=says):
        read_result(_model(tmp_path, files))


def test_json_artifact_takes_the_champion_decision_flavor(tmp_path: Path) -> None:
    result = read_result(_model(tmp_path, {"model/model.json": b"{}"}), Flavor.LOGISTIC)
    assert result.flavor is Flavor.LOGISTIC


DETERMINISTIC = """
import json, os, pyarrow.parquet as pq
rows = pq.read_table(os.environ["SM_CHANNEL_TRAIN"] + "/data.parquet").to_pylist()
hps = json.loads(os.environ["SM_HPS"])
mean = sum(r["x"] for r in rows) / len(rows)
spec = {"intercept": mean * hps["scale"], "coefficients": {"x": 1.0}}
with open(os.environ["SM_MODEL_DIR"] + "/model.json", "w") as f:
    json.dump(spec, f, sort_keys=True)
with open(os.environ["SM_OUTPUT_DIR"] + "/metrics.json", "w") as f:
    json.dump({"train_rows": len(rows)}, f)
"""

FAILING = """
import os, sys
open(os.environ["SM_OUTPUT_DIR"] + "/failure", "w").write("not enough positives: 0 < 10")
sys.exit(2)
"""

OVERRUNNING = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
time.sleep(60)
"""


def _run(tmp_path: Path, code: str, timeout_s: float = 60) -> Path:
    root = tmp_path / "run"
    env = write_layout(root, _rows(), ["x"], {"scale": 2}, is_holdout)
    source = zipped({"train.py": code})
    local.run(source, ["python", "train.py"], [], env, root, tmp_path / "venvs", timeout_s)
    return root


def test_a_deterministic_trainer_gives_the_same_artifact_twice(tmp_path: Path) -> None:
    first = read_result(_run(tmp_path / "a", DETERMINISTIC), Flavor.LINEAR)
    second = read_result(_run(tmp_path / "b", DETERMINISTIC), Flavor.LINEAR)
    digest = hashlib.sha256(first.artifact).hexdigest()
    assert digest == hashlib.sha256(second.artifact).hexdigest()
    assert first.metrics["train_rows"] == sum(not is_holdout(f"r{i:03d}") for i in range(50))


def test_a_failing_trainer_says_why(tmp_path: Path) -> None:
    with pytest.raises(TrainerFailed, match="not enough positives: 0 < 10"):
        _run(tmp_path, FAILING)


def test_a_crash_without_failure_file_names_the_last_line(tmp_path: Path) -> None:
    with pytest.raises(TrainerFailed, match=r"exit status 1.*ZeroDivisionError"):
        _run(tmp_path, "1 / 0\n")


def test_an_overrunning_trainer_is_stopped_with_its_children(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(TrainerFailed, match="overran its timeout of 1 s"):
        _run(tmp_path, OVERRUNNING, timeout_s=1)
    assert time.monotonic() - started < 10


def test_the_environment_is_cached_by_the_requirements(tmp_path: Path) -> None:
    first = local.environment(tmp_path, [])
    marker = first.parent.parent / ".ready"
    stamp = marker.stat().st_mtime_ns
    assert local.environment(tmp_path, []) == first and marker.stat().st_mtime_ns == stamp
    assert local.requirements_key(["a", "b"]) == local.requirements_key(["b", "a"])
    assert local.requirements_key(["a"]) != local.requirements_key(["a==1"])


def test_a_zip_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainerFailed, match="outside"):
        local.unpack(zipped({"../evil.py": "x"}), tmp_path / "code")
    with pytest.raises(TrainerFailed, match="not a zip"):
        local.unpack(b"plain", tmp_path / "code")
