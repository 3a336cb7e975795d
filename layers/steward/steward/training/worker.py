"""The ``lambda`` trainer backend's worker: the trainer function fetches a run's staged
input from S3 into ``$STEWARD_ML_ROOT`` (``/tmp/ml``), runs the entry point exactly as the
``local`` backend does (an environment cached by the requirements' hash in ``/tmp``, a
minimal environment, the process group killed at the timeout) and uploads ``model/`` and
``output/`` as SageMaker does (``model.tar.gz``, ``output.tar.gz``; ``failure`` as text).

A failing trainer is a result, not an error of the function: the collect step reads the
failure text and fails the run with it.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from steward.ports import ArtifactStore
from steward.training import local
from steward.training.contract import CHANNELS, TrainerFailed, environment, model_dir
from steward.training.remote import CODE_ZIP, pack

FAILED = "the trainer failed: "


def _key(uri: str) -> str:
    """The key of an ``s3://bucket/key`` URI (the store writes to its own bucket)."""
    return uri.removeprefix("s3://").split("/", 1)[1]


def run(
    artifacts: ArtifactStore, request: dict[str, Any], root: Path, cache: Path
) -> dict[str, Any]:
    """Run one staged trainer request (``$.staged.request`` of the retrain machine)."""
    base = str(request["input"]).removesuffix("input/")
    shutil.rmtree(root, ignore_errors=True)
    for relative in request["files"]:
        target = root / relative
        if not target.resolve().is_relative_to(root.resolve()):
            raise TrainerFailed(f"the staged input names a path outside the run: {relative!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifacts.get(f"{base}{relative}"))
    source = (root / CODE_ZIP).read_bytes()
    hyperparameters = json.loads((root / "input/config/hyperparameters.json").read_text())
    extra = [c for c in request.get("channels", CHANNELS) if c not in CHANNELS]
    for folder in (model_dir(root), root / "output" / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    env = environment(root, hyperparameters, extra)
    started = time.monotonic()
    failure: str | None = None
    try:
        local.run(
            source,
            list(request["entry_point"]),
            list(request["requirements"]),
            env,
            root,
            cache,
            float(request["timeout_s"]),
        )
    except TrainerFailed as exc:
        failure = str(exc).removeprefix(FAILED)
    seconds = time.monotonic() - started
    output = _key(str(request["output"]))
    artifacts.put(f"{output}output.tar.gz", pack(root / "output"))
    if failure is not None:
        artifacts.put(f"{output}failure", failure.encode())
        return {"ok": False, "seconds": seconds}
    artifacts.put(f"{output}model.tar.gz", pack(model_dir(root)))
    return {"ok": True, "seconds": round(seconds, 3)}
