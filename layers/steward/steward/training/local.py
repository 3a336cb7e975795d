"""The ``local`` trainer backend: the entry point in a subprocess, in a virtual environment
built from the trainer's ``requirements`` and cached by their hash (no Docker).

The environment is created with ``--system-site-packages`` and, when Steward itself runs in
a virtual environment, a ``.pth`` file that adds that environment's ``site-packages``: the
requirements the platform already satisfies (scikit-learn, skl2onnx, pyarrow in the test
and demo environments) are not downloaded again, and ``pip`` installs only what is missing.
A run that outlives its timeout is killed with its whole process group.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from steward.training.contract import TrainerFailed, failure_text

LOG_TAIL = 1500
LAST_LINE = 300  # of the trainer's log, when it wrote no output/failure
PIP_TIMEOUT_S = 900


def requirements_key(requirements: list[str]) -> str:
    """The cache key of an environment: the sorted requirements and this Python."""
    text = json.dumps({"python": sys.version, "requirements": sorted(requirements)})
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def environment(cache: Path, requirements: list[str]) -> Path:
    """The interpreter of the cached environment for ``requirements``: built once, in a
    folder of its own renamed into place, so concurrent runs never share a half-built one."""
    folder = cache / requirements_key(requirements)
    if not (folder / ".ready").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=cache))
        try:
            _build(building, requirements)
            os.rename(building, folder)
        except OSError:
            if not (folder / ".ready").is_file():  # not another run's rename that won
                raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return folder / "bin" / "python"


def _build(folder: Path, requirements: list[str]) -> None:
    python = folder / "bin" / "python"
    subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(folder)],
        check=True,
        capture_output=True,
    )
    if sys.prefix != sys.base_prefix:  # reuse the packages of the environment Steward runs in
        purelib = subprocess.run(  # noqa: S603
            [str(python), "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        parents = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
        Path(purelib, "steward-parent.pth").write_text("\n".join(sorted(parents)) + "\n")
    if requirements:
        done = subprocess.run(  # noqa: S603 - pip on the requirements the model's owner set
            [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *requirements],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise TrainerFailed(f"installing the requirements failed: {done.stderr[-LOG_TAIL:]}")
    (folder / ".ready").write_text("\n".join(sorted(requirements)))


def unpack(source: bytes, into: Path) -> None:
    """Extract the trainer's zip; a member that would land outside ``into`` is refused."""
    try:
        archive = zipfile.ZipFile(BytesIO(source))
    except zipfile.BadZipFile:
        raise TrainerFailed("the trainer's source is not a zip file") from None
    into.mkdir(parents=True, exist_ok=True)
    base = into.resolve()
    for member in archive.infolist():
        target = (into / member.filename).resolve()
        if not target.is_relative_to(base):
            raise TrainerFailed(f"the trainer's zip names a path outside it: {member.filename!r}")
    archive.extractall(into)


def run(
    source: bytes,
    entry_point: list[str],
    requirements: list[str],
    env: dict[str, str],
    root: Path,
    cache: Path,
    timeout_s: float,
) -> dict[str, Any]:
    """Run the trainer to completion under ``root`` (the layout already written); raises
    :class:`TrainerFailed` with ``output/failure``'s text on a non-zero exit or timeout.
    ``entry_point[0] == "python"`` runs the environment's interpreter."""
    python = environment(cache, requirements)
    code = root / "code"
    unpack(source, code)
    argv = [str(python) if entry_point[0] in ("python", "python3") else entry_point[0]]
    argv += entry_point[1:]
    variables = {
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(root),
        "PYTHONHASHSEED": "0",
        "LANG": "C.UTF-8",
        **env,
    }  # no credentials of the platform reach the trainer
    log = root / "output" / "trainer.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - the governed trainer's entry point
            argv,
            cwd=code,
            env=variables,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            status = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise TrainerFailed(f"the trainer overran its timeout of {timeout_s:g} s") from None
    if status != 0:
        lines = log.read_text(errors="replace").strip().splitlines()
        last = lines[-1][:LAST_LINE] if lines else "no output"
        text = failure_text(root) or f"exit status {status}, no output/failure ({last})"
        raise TrainerFailed(f"the trainer failed: {text}")
    return {"exit": status}
