"""The AWS trainer backends' Steward side, on the in-memory store: the staged input in
SageMaker's channel layout, each backend's request, the Lambda worker's run, the output
collected through the contract, failures in the trainer's own words, extra channels."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from steward.adapters.memory import MemoryArtifactStore
from steward.domain.models import Flavor, RetrainPolicy, Trainer
from steward.lifecycle.retrain import is_holdout
from steward.training import remote, worker
from steward.training.contract import (
    TrainerFailed,
    channel_tables,
    environment,
    extra_path,
    read_result,
)
from tests.unit.test_trainer_contract import FEATURES, _rows, zipped

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"intercept": 0.5, "coefficients": {"x": 0.25}}
WRITES_JSON = f"""
import json, os, pathlib
hps = json.loads(os.environ["SM_HPS"])
channels = json.loads(os.environ["SM_CHANNELS"])
lookup = os.environ.get("SM_CHANNEL_LOOKUP")
names = sorted(p.name for p in pathlib.Path(lookup).rglob("*")) if lookup else []
pathlib.Path(os.environ["SM_MODEL_DIR"], "model.json").write_text(json.dumps({SPEC!r}))
out = pathlib.Path(os.environ["SM_OUTPUT_DIR"], "metrics.json")
seen = int("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in os.environ)  # the build's credentials
out.write_text(json.dumps({{"depth": hps["depth"], "channels": len(channels), "files": len(names),
                           "credentials": seen}}))
"""
FAILS = """
import os, sys
open(os.environ["SM_OUTPUT_DIR"] + "/failure", "w").write("too few positives: 3 < 10")
sys.exit(2)
"""


def _trainer(backend: str, **settings: Any) -> Trainer:
    return Trainer(
        backend=backend,
        hyperparameters={"depth": 3},
        timeout_s=settings.pop("timeout_s", 600),
        sha256="a" * 64,
        uri="s3://artifacts/models/m/trainer/a.zip",
        size=1,
        updated_by="alice",
        updated_at="2026-12-01T00:00:00Z",
        **settings,
    )


def _stage(
    store: MemoryArtifactStore, backend: str, source: bytes, **settings: Any
) -> dict[str, Any]:
    tables = channel_tables(_rows(), FEATURES, is_holdout)
    extra = {"lookup": {"lookup/codes/a.csv": b"code,name\n1,x\n"}}
    return remote.stage(
        store, "churn", "run-1", _trainer(backend, **settings), source, tables, extra
    )


def test_the_input_is_staged_in_sagemakers_channel_layout() -> None:
    store = MemoryArtifactStore()
    staged = _stage(store, "lambda", zipped({"train.py": WRITES_JSON}))
    base = "s3://artifacts/training/churn/run-1/"
    assert staged["input"] == f"{base}input/" and staged["output"] == f"{base}output/"
    train = pq.read_table(io.BytesIO(store.get(f"{base}input/data/train/data.parquet")))
    valid = pq.read_table(io.BytesIO(store.get(f"{base}input/data/validation/data.parquet")))
    assert train.num_rows + valid.num_rows == len(_rows()) and valid.num_rows
    assert store.get(f"{base}input/data/lookup/codes/a.csv").startswith(b"code,name")
    assert json.loads(store.get(f"{base}input/config/hyperparameters.json")) == {"depth": 3}
    assert staged["channels"] == ["train", "validation", "lookup"]
    # The Lambda worker fetches exactly the staged files, nothing by listing.
    files = staged["request"]["files"]
    assert sorted(files) == sorted(
        [
            "input/data/train/data.parquet",
            "input/data/validation/data.parquet",
            "input/data/lookup/codes/a.csv",
            "input/config/hyperparameters.json",
            "input/code/source.zip",
        ]
    )
    assert staged["wait_s"] == remote.LAMBDA_WAIT_S


def test_each_backend_gets_its_request() -> None:
    store = MemoryArtifactStore()
    source = zipped({"train.py": WRITES_JSON})
    build = _stage(store, "codebuild", source, timeout_s=7200)["request"]["env"]
    assert build["STEWARD_INPUT"].endswith("/training/churn/run-1/input/")
    assert build["STEWARD_ENTRY_POINT"] == "python train.py"
    assert build["STEWARD_TIMEOUT_S"] == "7200"
    assert json.loads(build["STEWARD_CHANNELS"]) == ["train", "validation", "lookup"]

    staged = _stage(store, "sagemaker", source, image="123.dkr.ecr/team:1", instance_type=None)
    job = staged["request"]
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", job["TrainingJobName"])
    assert job["TrainingJobName"] == remote.job_name("churn", "run-1")  # a retry: same job
    assert job["AlgorithmSpecification"]["TrainingImage"] == "123.dkr.ecr/team:1"
    uris = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]
    }
    assert uris == {
        name: f"{staged['input']}data/{name}/" for name in ("train", "validation", "lookup")
    }
    assert job["OutputDataConfig"]["S3OutputPath"] == staged["output"]
    assert job["ResourceConfig"]["InstanceType"] == remote.DEFAULT_INSTANCE
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 600
    assert staged["model_uri"] == f"{staged['output']}{job['TrainingJobName']}/output/model.tar.gz"
    assert staged["wait_s"] == 600 + remote.WAIT_MARGIN_S


def test_backend_limits_are_refused_when_the_trainer_is_set() -> None:
    with pytest.raises(ValueError, match="900"):
        _trainer("lambda", timeout_s=3600)
    with pytest.raises(ValueError, match="image"):
        _trainer("sagemaker")
    assert _trainer("codebuild", timeout_s=36 * 3600).timeout_s == 36 * 3600


def test_the_lambda_worker_runs_the_staged_trainer_and_collect_reads_it(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    staged = _stage(store, "lambda", zipped({"train.py": WRITES_JSON}))
    ran = worker.run(store, staged["request"], tmp_path / "ml", tmp_path / "cache")
    assert ran["ok"] is True and ran["seconds"] > 0
    collected = tmp_path / "collected"
    remote.collect(store, staged, collected, None)
    result = read_result(collected, Flavor.LOGISTIC)
    assert json.loads(result.artifact) == SPEC
    # the trainer saw its three channels and the extra channel's file
    assert result.metrics == {"depth": 3.0, "channels": 3.0, "files": 2.0, "credentials": 0.0}
    assert remote.seconds_of(ran) == ran["seconds"]


def test_a_failing_trainer_fails_the_run_in_its_own_words(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    staged = _stage(store, "lambda", zipped({"train.py": FAILS}))
    assert worker.run(store, staged["request"], tmp_path / "ml", tmp_path / "cache")["ok"] is False
    with pytest.raises(TrainerFailed, match=r"^the trainer failed: too few positives: 3 < 10$"):
        remote.collect(store, staged, tmp_path / "out", None)


def test_backend_errors_become_the_cause(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    staged = _stage(store, "sagemaker", b"zip", image="team:1")
    reason = {"FailureReason": "AlgorithmError: too few positives", "TrainingJobStatus": "Failed"}
    error = {"Error": "States.TaskFailed", "Cause": json.dumps(reason)}
    with pytest.raises(TrainerFailed, match="AlgorithmError: too few positives"):
        remote.collect(store, staged, tmp_path / "a", error)
    with pytest.raises(TrainerFailed, match="overran its timeout"):
        remote.collect(store, staged, tmp_path / "b", {"Error": "States.Timeout"})
    build = {
        "Error": "States.TaskFailed",
        "Cause": json.dumps({"Build": {"BuildStatus": "STOPPED"}}),
    }
    with pytest.raises(TrainerFailed, match="the build ended STOPPED"):
        remote.collect(store, staged, tmp_path / "c", build)
    with pytest.raises(TrainerFailed, match=r"no model\.tar\.gz"):
        remote.collect(store, staged, tmp_path / "d", None)


def test_an_output_that_escapes_its_folder_is_refused(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    staged = _stage(store, "lambda", b"zip")
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w:gz") as archive:
        info = tarfile.TarInfo("../../escaped.json")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"{}"))
    store.put(staged["model_uri"].removeprefix("s3://artifacts/"), sink.getvalue())
    with pytest.raises(TrainerFailed, match=r"not a safe tar\.gz"):
        remote.collect(store, staged, tmp_path / "root", None)
    assert not (tmp_path / "escaped.json").exists()


def test_extra_channels_are_named_safely() -> None:
    assert RetrainPolicy(channels={"lookup": "s3://team-data/codes/"}).channels
    for bad in (
        {"train": "s3://team-data/x"},
        {"Lookup": "s3://team-data/x"},
        {"a-b": "s3://x1/y"},
    ):
        with pytest.raises(ValueError):
            RetrainPolicy(channels=bad)
    with pytest.raises(ValueError):
        RetrainPolicy(channels={"lookup": "https://example.com/x"})
    env = environment(Path("/ml"), {}, ["lookup"])
    assert env["SM_CHANNEL_LOOKUP"] == "/ml/input/data/lookup"
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation", "lookup"]
    prefix = "s3://team-data/codes/"
    assert extra_path("lookup", prefix, f"{prefix}2026/a.csv") == "lookup/2026/a.csv"
    assert extra_path("one", "s3://b1/codes.csv", "s3://b1/codes.csv") == "one/codes.csv"
    with pytest.raises(TrainerFailed):
        extra_path("lookup", prefix, f"{prefix}../escape")


@pytest.mark.skipif(not shutil.which("timeout"), reason="coreutils timeout")
@pytest.mark.parametrize("code", [WRITES_JSON, FAILS])
def test_the_codebuild_script_runs_the_contract(tmp_path: Path, code: str) -> None:
    """infra/constructs/codebuild_trainer.sh, run here with an ``aws`` that maps ``s3://``
    to a folder: the same layout in, the same objects out as the Lambda worker."""
    store = MemoryArtifactStore()
    staged = _stage(store, "codebuild", zipped({"train.py": code}))
    s3 = tmp_path / "s3"
    for uri in store.uris_under("s3://", 100):
        target = s3 / uri.removeprefix("s3://")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(uri))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "aws").write_text(_AWS_SHIM.replace("@S3@", str(s3)))
    (shim / "aws").chmod(0o755)
    (shim / "python3").symlink_to(sys.executable)  # the trainer here needs the stdlib only
    env = {
        "PATH": f"{shim}:/usr/bin:/bin",
        "STEWARD_ML_ROOT": str(tmp_path / "ml"),
        "STEWARD_TASK_TOKEN": "token",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/secret",
        **staged["request"]["env"],
        "STEWARD_REQUIREMENTS": "",
        "STEWARD_ENTRY_POINT": "python3 train.py",
    }
    script = ROOT / "infra" / "constructs" / "codebuild_trainer.sh"
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=120)
    output = s3 / staged["output"].removeprefix("s3://")
    if code is FAILS:
        assert done.returncode == 1
        assert (output / "failure").read_text().strip() == "too few positives: 3 < 10"
        assert not (output / "model.tar.gz").exists()
        return
    assert done.returncode == 0, done.stderr
    with tarfile.open(output / "model.tar.gz") as archive:
        assert json.loads(archive.extractfile("./model.json").read()) == SPEC  # type: ignore[union-attr]
    with tarfile.open(output / "output.tar.gz") as archive:
        metrics = json.loads(archive.extractfile("./metrics.json").read())  # type: ignore[union-attr]
    assert metrics == {"depth": 3, "channels": 3, "files": 2, "credentials": 0}


_AWS_SHIM = """#!/bin/sh
# aws s3 cp [--recursive] [--only-show-errors] SRC DST, over a folder standing for S3
S3="@S3@"
if [ "$1" = "stepfunctions" ]; then exit 0; fi
shift 2
RECURSIVE=0
while [ "${1#--}" != "$1" ]; do [ "$1" = "--recursive" ] && RECURSIVE=1; shift; done
map() { case "$1" in s3://*) echo "$S3/${1#s3://}";; *) echo "$1";; esac; }
SRC="$(map "$1")"; DST="$(map "$2")"
if [ "$RECURSIVE" = 1 ]; then mkdir -p "$DST" && cp -R "$SRC"/. "$DST"/
else mkdir -p "$(dirname "$DST")" && cp "$SRC" "$DST"; fi
"""
