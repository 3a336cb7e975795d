"""The AWS trainer backends (``lambda``, ``codebuild``, ``sagemaker``) as Steward sees them:
the run's input staged in S3 in SageMaker's channel layout, the request each backend's
state takes, and the output collected back into the contract's folders.

Every run has one prefix in the artifacts bucket, ``training/<model>/<run>/``:

- ``input/data/<channel>/...``: ``train`` and ``validation`` (``data.parquet``) and the
  retrain policy's extra channels, copied there by Steward so that a trainer's role reads
  only ``training/*/input/*`` and never the sources themselves;
- ``input/config/hyperparameters.json`` and ``input/code/source.zip`` (the governed zip);
- ``output/``: what the trainer leaves, as SageMaker leaves it: ``model.tar.gz`` (the
  ``model/`` folder), ``output.tar.gz`` (``output/``: ``metrics.json``, ``failure``) and
  ``failure`` as text. SageMaker itself writes ``output/<job>/output/model.tar.gz``, puts
  ``/opt/ml/output/failure`` in the job's ``FailureReason`` and uploads neither
  ``metrics.json`` nor ``output.tar.gz``'s ``failure``: its runs carry Steward's holdout
  metrics only.

The trainer's role may write only ``training/*/output/*``. Standard library only, plus the
artifact store port.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from steward.domain.errors import NotFound
from steward.domain.models import Trainer
from steward.ports import ArtifactStore
from steward.training.contract import CHANNELS, MAX_FAILURE, TrainerFailed

REMOTE = ("lambda", "codebuild", "sagemaker")
PREFIX = "training"
WAIT_MARGIN_S = 900  # provisioning an instance or a build container, uploading the output
LAMBDA_WAIT_S = 15 * 60 + 60
MAX_OUTPUT_BYTES = 200 * 1024 * 1024  # a model.tar.gz Steward will unpack
DEFAULT_INSTANCE = "ml.m5.large"
CODE_ZIP = "input/code/source.zip"


def run_prefix(model: str, run: str) -> str:
    return f"{PREFIX}/{model}/{run}"


def job_name(model: str, run: str) -> str:
    """A SageMaker training job name (≤ 63 characters, ``[a-zA-Z0-9-]``), the same for the
    same run: a retried state does not start a second job."""
    digest = hashlib.sha256(f"{model}/{run}".encode()).hexdigest()[:12]
    return f"steward-{model[:40]}-{digest}"


def _base(uri: str, key: str) -> str:
    """The ``s3://bucket/`` of an object the store wrote at ``key``."""
    assert uri.endswith(key), (uri, key)
    return uri[: len(uri) - len(key)]


def stage(
    artifacts: ArtifactStore,
    model: str,
    run: str,
    trainer: Trainer,
    source: bytes,
    tables: dict[str, bytes],
    extra: dict[str, dict[str, bytes]],
) -> dict[str, Any]:
    """Write the run's input under its prefix; answer what the backend's state needs (the
    state machine's ``$.staged``). ``tables``: Steward's channels' Parquet files;
    ``extra``: each extra channel's files by their path below ``input/data``."""
    prefix = run_prefix(model, run)
    first = f"{prefix}/{CODE_ZIP}"
    base = _base(artifacts.put(first, source)[0], first)
    for name, data in tables.items():
        artifacts.put(f"{prefix}/input/data/{name}/data.parquet", data)
    for files in extra.values():
        for relative, data in files.items():
            artifacts.put(f"{prefix}/input/data/{relative}", data)
    hps = json.dumps(trainer.hyperparameters, sort_keys=True).encode()
    artifacts.put(f"{prefix}/input/config/hyperparameters.json", hps)
    channels = [*CHANNELS, *sorted(extra)]
    bucket = base.removeprefix("s3://").rstrip("/")
    staged: dict[str, Any] = {
        "backend": trainer.backend,
        "bucket": bucket,
        "prefix": prefix,
        "input": f"{base}{prefix}/input/",
        "output": f"{base}{prefix}/output/",
        "channels": channels,
        "model_uri": f"{base}{prefix}/output/model.tar.gz",
        "output_uri": f"{base}{prefix}/output/output.tar.gz",
        "failure_uri": f"{base}{prefix}/output/failure",
        "wait_s": trainer.timeout_s + WAIT_MARGIN_S,
        "trainer_sha256": trainer.sha256,
    }
    settings = {
        "entry_point": trainer.entry_point,
        "requirements": trainer.requirements,
        "timeout_s": trainer.timeout_s,
    }
    if trainer.backend == "lambda":
        staged["wait_s"] = LAMBDA_WAIT_S
        staged["request"] = {"input": staged["input"], "output": staged["output"], **settings}
        staged["request"]["channels"] = channels
        staged["request"]["files"] = _files(prefix, tables, extra)
    elif trainer.backend == "codebuild":
        staged["request"] = codebuild_request(staged, settings)
    elif trainer.backend == "sagemaker":
        job = job_name(model, run)
        staged["model_uri"] = f"{base}{prefix}/output/{job}/output/model.tar.gz"
        staged["output_uri"] = f"{base}{prefix}/output/{job}/output/output.tar.gz"
        staged["request"] = sagemaker_request(staged, trainer, job)
    return staged


def _files(prefix: str, tables: dict[str, bytes], extra: dict[str, dict[str, bytes]]) -> list[str]:
    """The input's keys below the run's prefix (the Lambda trainer fetches exactly these)."""
    files = [f"input/data/{name}/data.parquet" for name in tables]
    files += [f"input/data/{relative}" for found in extra.values() for relative in found]
    return [*files, "input/config/hyperparameters.json", CODE_ZIP]


def codebuild_request(staged: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The build's environment overrides (the buildspec is the construct's): the input and
    output prefixes, the entry point (shell words), the requirements (one a line), the
    timeout the buildspec enforces and the channels."""
    env = {
        "STEWARD_INPUT": staged["input"],
        "STEWARD_OUTPUT": staged["output"],
        "STEWARD_ENTRY_POINT": " ".join(_quote(a) for a in settings["entry_point"]),
        "STEWARD_REQUIREMENTS": "\n".join(settings["requirements"]),
        "STEWARD_TIMEOUT_S": str(settings["timeout_s"]),
        "STEWARD_CHANNELS": json.dumps(staged["channels"]),
    }
    return {"env": env}


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def sagemaker_request(staged: dict[str, Any], trainer: Trainer, job: str) -> dict[str, Any]:
    """``CreateTrainingJob``'s parameters but the role (the construct's): the team's image,
    one S3 channel per folder of the input, the output under the run's prefix."""
    return {
        "TrainingJobName": job,
        "AlgorithmSpecification": {"TrainingImage": trainer.image, "TrainingInputMode": "File"},
        "HyperParameters": {k: json.dumps(v) for k, v in sorted(trainer.hyperparameters.items())},
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"{staged['input']}data/{name}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for name in staged["channels"]
        ],
        "OutputDataConfig": {"S3OutputPath": staged["output"]},
        "ResourceConfig": {
            "InstanceType": trainer.instance_type or DEFAULT_INSTANCE,
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": trainer.timeout_s},
        "Tags": [{"Key": "steward:trainer", "Value": trainer.sha256[:64]}],
    }


def _unpack(data: bytes, into: Path, what: str) -> None:
    """A ``tar.gz`` from the trainer, extracted with tarfile's ``data`` filter (no links
    out, no absolute paths, no devices)."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        kind = type(exc).__name__
        raise TrainerFailed(f"the trainer's {what} is not a safe tar.gz ({kind})") from None


def _get(artifacts: ArtifactStore, uri: str) -> bytes | None:
    try:
        return artifacts.get(uri)
    except NotFound:
        return None


def seconds_of(ran: dict[str, Any] | None) -> float:
    """The trainer's own time from its backend state's result: the Lambda worker's
    ``seconds``, SageMaker's ``TrainingTimeInSeconds``, a build's start to end."""
    if not isinstance(ran, dict):
        return 0.0
    for key in ("seconds", "TrainingTimeInSeconds"):
        if isinstance(ran.get(key), int | float):
            return float(ran[key])
    build = ran.get("Build")
    if isinstance(build, dict):
        from datetime import datetime

        try:
            start, end = (build[k] for k in ("StartTime", "EndTime"))
            if isinstance(start, int | float) and isinstance(end, int | float):
                return float(end - start)
            return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        except (KeyError, TypeError, ValueError):
            return 0.0
    return 0.0


def failure_of(error: dict[str, Any] | None) -> str | None:
    """A backend state's error in words: SageMaker's ``FailureReason`` (its copy of
    ``/opt/ml/output/failure``), a build's phase error, a timeout."""
    if not error:
        return None
    kind = str(error.get("Error") or "")
    if kind in ("States.Timeout", "States.HeartbeatTimeout"):
        return "the trainer overran its timeout (or stopped sending heartbeats)"
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        cause = {}
    if isinstance(cause, dict):
        for key in ("FailureReason", "errorMessage"):
            if isinstance(cause.get(key), str):
                return str(cause[key])[:MAX_FAILURE]
        build = cause.get("Build") if isinstance(cause.get("Build"), dict) else cause
        status = build.get("BuildStatus") if isinstance(build, dict) else None
        if status:
            return f"the build ended {status}"
    return f"the trainer's backend failed ({kind[:100] or 'error'})"


def collect(
    artifacts: ArtifactStore, staged: dict[str, Any], root: Path, error: dict[str, Any] | None
) -> None:
    """Bring the run's output into ``root`` (``model/``, ``output/``) for the contract's
    checks; a run that failed raises :class:`TrainerFailed` with the trainer's own
    ``output/failure`` text when it left one, else the backend's reason."""
    text = _get(artifacts, staged["failure_uri"])
    if text is not None and text.strip():
        raise TrainerFailed(f"the trainer failed: {text.decode(errors='replace').strip()}")
    if error:
        raise TrainerFailed(f"the trainer failed: {failure_of(error)}")
    model = _get(artifacts, staged["model_uri"])
    if model is None:
        raise TrainerFailed("the trainer left no model.tar.gz: model/ was empty or not uploaded")
    if len(model) > MAX_OUTPUT_BYTES:
        raise TrainerFailed(f"the trainer's model.tar.gz is over {MAX_OUTPUT_BYTES} bytes")
    _unpack(model, root / "model", "model.tar.gz")
    output = _get(artifacts, staged["output_uri"])
    if output is not None and len(output) <= MAX_OUTPUT_BYTES:
        _unpack(output, root / "output", "output.tar.gz")


def pack(folder: Path) -> bytes:
    """A folder as SageMaker uploads it: ``tar.gz`` of its contents, sorted, no owners."""
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if path.is_file():
                with path.open("rb") as file:
                    archive.addfile(info, file)
            elif path.is_dir():
                archive.addfile(info)
    return sink.getvalue()
