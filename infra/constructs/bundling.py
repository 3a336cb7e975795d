"""Local bundling: every asset builds on this machine, no Docker.

Functions and the ``steward`` layer are copied and byte-compiled; dependency layers are
``pip install``-ed for the Lambda platform (manylinux wheels only). The ``.pyc`` files are
compiled with ``unchecked-hash`` invalidation so that Lambda never recompiles on a cold start.
"""

from __future__ import annotations

import compileall
import hashlib
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
STEWARD_SRC = ROOT / "layers" / "steward" / "steward"
DEPS = ROOT / "layers" / "deps"

LAMBDA_PYTHON = "3.11"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# Modules of the steward package that never run in Lambda (they import moto, the CDK, a CLI).
LOCAL_ONLY = ("local", "cli")
# Provided by the Lambda Python runtime; shipping them again only adds size.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
JUNK_DIRS = ("__pycache__", "tests", "test", "include")
# Parts of dependencies no Steward function imports, dropped to stay far below 250 MB.
# tests/infra/test_bundles.py imports every layer as bundled, so a wrong trim fails there.
TRIM: dict[str, tuple[str, ...]] = {
    "arrow": (
        "pyarrow/libarrow_flight.so*",
        "pyarrow/_flight*.so",
        "pyarrow/*.pxd",
        "pyarrow/*.pyx",
        "pyarrow/src",
        "pyarrow/includes",
        *("numpy", "numpy.libs", "numpy-*.dist-info"),  # the numpy layer provides it
    ),
    "onnx": ("numpy", "numpy.libs", "numpy-*.dist-info"),
}


def compile_tree(root: Path) -> None:
    ok = compileall.compile_dir(
        str(root),
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise RuntimeError(f"byte-compiling {root} failed")


def _drop(root: Path, names: Iterable[str]) -> None:
    wanted = set(names)
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and path.name in wanted and "dist-info" not in str(path.parent):
            shutil.rmtree(path, ignore_errors=True)


def _dummy_image() -> cdk.DockerImage:
    # Never used: try_bundle always succeeds locally. CDK requires an image all the same.
    return cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.11")


@jsii.implements(cdk.ILocalBundling)
class _CopyTree:
    def __init__(self, source: Path, prefix: str, exclude: tuple[str, ...] = ()) -> None:
        self._source = source
        self._prefix = prefix
        self._exclude = exclude

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        target = Path(output_dir) / self._prefix
        shutil.copytree(
            self._source,
            target,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *self._exclude),
            dirs_exist_ok=True,
        )
        compile_tree(Path(output_dir))
        return True


@jsii.implements(cdk.ILocalBundling)
class _PipInstall:
    def __init__(self, requirements: Path, trim: tuple[str, ...] = ()) -> None:
        self._requirements = requirements
        self._trim = trim

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        target = Path(output_dir) / "python"
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
        cmd += ["--target", str(target), "--only-binary=:all:", "--implementation", "cp"]
        cmd += ["--python-version", LAMBDA_PYTHON, "-r", str(self._requirements)]
        for platform in PLATFORMS:
            cmd += ["--platform", platform]
        subprocess.run(cmd, check=True)  # noqa: S603 - fixed argv, no shell
        for name in RUNTIME_PROVIDED:
            shutil.rmtree(target / name, ignore_errors=True)
        _drop(target, JUNK_DIRS)
        shutil.rmtree(target / "bin", ignore_errors=True)
        for pattern in self._trim:
            for path in target.glob(pattern):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        compile_tree(target)
        return True


def function_code(source: str) -> cdk.aws_lambda.Code:
    """The handler folder ``functions/<source>`` as a zip asset."""
    path = FUNCTIONS / source
    return cdk.aws_lambda.Code.from_asset(
        str(path),
        asset_hash_type=cdk.AssetHashType.SOURCE,
        bundling=cdk.BundlingOptions(image=_dummy_image(), local=_CopyTree(path, ".")),
        exclude=["__pycache__", "*.pyc"],
    )


# What an image build reads from the repository (Docker ignore syntax: all, then exceptions).
IMAGE_CONTEXT = (
    "*",
    "!layers/deps/*.txt",
    "!layers/steward/steward",
    "!functions",
    "functions/*/__pycache__",
    "**/__pycache__",
    "**/*.pyc",
)


IMAGE_DOCKERFILE = "functions/image/Dockerfile"


def image_code(source: str) -> cdk.aws_lambda.DockerImageCode:
    """``functions/image/Dockerfile`` built with the handler of ``functions/<source>`` (build
    argument ``HANDLER``), with the repository as its build context. ``cdk synth`` only
    stages the context (no Docker); the image is built when the assets are published
    (`cdk deploy`)."""
    return cdk.aws_lambda.DockerImageCode.from_image_asset(
        str(ROOT),
        file=IMAGE_DOCKERFILE,
        build_args={"HANDLER": source},
        cmd=["handler.handler"],
        platform=cdk.aws_ecr_assets.Platform.LINUX_AMD64,
        exclude=list(IMAGE_CONTEXT),
        ignore_mode=cdk.IgnoreMode.DOCKER,
    )


def steward_layer_code() -> cdk.aws_lambda.Code:
    """The shared ``steward`` library as a layer (``python/steward``), without local-only parts."""
    return cdk.aws_lambda.Code.from_asset(
        str(STEWARD_SRC),
        asset_hash_type=cdk.AssetHashType.SOURCE,
        bundling=cdk.BundlingOptions(
            image=_dummy_image(),
            local=_CopyTree(STEWARD_SRC, "python/steward", exclude=LOCAL_ONLY),
        ),
        exclude=["__pycache__", "*.pyc", *LOCAL_ONLY],
    )


def deps_layer_code(name: str) -> cdk.aws_lambda.Code:
    """A dependency layer from ``layers/deps/<name>.txt``.

    The asset hash is the requirements file itself, so an unchanged file reuses the bundle
    already staged in ``cdk.out``.
    """
    requirements = DEPS / f"{name}.txt"
    return cdk.aws_lambda.Code.from_asset(
        str(DEPS),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=_layer_hash(requirements, TRIM.get(name, ())),
        bundling=cdk.BundlingOptions(
            image=_dummy_image(), local=_PipInstall(requirements, TRIM.get(name, ()))
        ),
    )


def _layer_hash(requirements: Path, trim: tuple[str, ...]) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(repr((LAMBDA_PYTHON, PLATFORMS, RUNTIME_PROVIDED, JUNK_DIRS, trim)).encode())
    return digest.hexdigest()
