"""The real `cdk synth` (pinned CLI, local bundling, no Docker) and what it ships:
every zip function with its layers under 250 MB unzipped, byte-compiled, and importable,
and every task importable (with what it needs) from the function it is routed to."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.infra.routes import function_names, task_routes

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".cache" / "cdk.out"
LIMIT = 250 * 1024 * 1024
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture(scope="module")
def cloud_assembly() -> dict[str, Any]:
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("the pinned CDK CLI is missing: run `make install`")
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    env.pop("DOCKER_HOST", None)
    started = time.perf_counter()
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "-o", str(OUT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    print(f"cdk synth took {elapsed:.1f} s")
    template: dict[str, Any] = json.loads((OUT / "Steward.template.json").read_text())
    return template


def _asset_dir(resource: dict[str, Any]) -> Path:
    return OUT / resource["Metadata"]["aws:asset:path"]


def _is_steward(fn: dict[str, Any]) -> bool:
    return any(t["Key"] == "steward:source" for t in fn["Properties"].get("Tags", []))


def _bundles(
    template: dict[str, Any], steward_only: bool = True
) -> dict[str, tuple[Path, list[Path]]]:
    """Zip functions with their layers; ``steward_only`` leaves out the CDK's own handlers
    (the console's BucketDeployment), which ship as AWS builds them."""
    resources = template["Resources"]
    bundles = {}
    for name, fn in resources.items():
        if fn["Type"] != "AWS::Lambda::Function" or "ImageUri" in fn["Properties"]["Code"]:
            continue
        if steward_only and not _is_steward(fn):
            continue
        layers = [_asset_dir(resources[ref["Ref"]]) for ref in fn["Properties"].get("Layers", [])]
        bundles[name] = (_asset_dir(fn), layers)
    return bundles


def test_every_zip_function_with_its_layers_is_under_250_mb(cloud_assembly: dict[str, Any]) -> None:
    bundles = _bundles(cloud_assembly, steward_only=False)
    assert len(bundles) > len(_bundles(cloud_assembly))  # the console's deployment handler too
    for name, (code, layers) in bundles.items():
        total = _size(code) + sum(_size(layer) for layer in layers)
        print(f"{name}: {total / 2**20:.1f} MB unzipped")
        assert total < LIMIT, f"{name} is {total / 2**20:.0f} MB"


def test_bundles_ship_bytecode_for_the_lambda_python(cloud_assembly: dict[str, Any]) -> None:
    for code, layers in _bundles(cloud_assembly).values():
        for root in [code, *layers]:
            sources = [p for p in root.rglob("*.py") if "dist-info" not in str(p)]
            compiled = {p.name.split(".")[0] for p in root.rglob("*.cpython-311.pyc")}
            missing = [p for p in sources if p.stem not in compiled]
            assert not missing, missing[:5]


def _runtime_site(tmp_path: Path) -> Path:
    """Only what the Lambda Python runtime itself provides (boto3 and its dependencies)."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    provided = tmp_path / "runtime"
    provided.mkdir()
    for name in RUNTIME_PROVIDED:
        if (site / name).exists():
            (provided / name).symlink_to(site / name)
    return provided


def _in_bundle(
    bundle: tuple[Path, list[Path]], provided: Path, script: str
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with only the bundle (code, layers) and the runtime's own packages."""
    code, layers = bundle
    path = os.pathsep.join([str(code), *(str(layer / "python") for layer in layers), str(provided)])
    env = {
        "PYTHONPATH": path,
        "PATH": os.environ["PATH"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "-S", "-c", script],  # -S: no site-packages, only the bundle
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_handlers_import_and_answer_from_their_bundles(
    cloud_assembly: dict[str, Any], tmp_path: Path
) -> None:
    provided = _runtime_site(tmp_path)
    probe = (
        "import json, time, importlib\n"
        "t = time.perf_counter()\n"
        "import handler\n"
        "print(json.dumps({'import_ms': (time.perf_counter() - t) * 1000}))\n"
    )
    health = {"path": "/health", "httpMethod": "GET", "headers": {}, "requestContext": {}}
    for name, (code, layers) in _bundles(cloud_assembly).items():
        packages = sorted(
            d.name
            for layer in layers
            for d in (layer / "python").iterdir()
            if (d / "__init__.py").exists()
        )
        script = probe + "".join(f"import {p}\n" for p in packages)
        if "pyarrow" in packages:
            script += "import pyarrow.parquet, pyarrow.dataset, pyarrow.compute, pyarrow.csv\n"
        if "Api" in name:
            script += (
                "from types import SimpleNamespace as C\n"
                "ctx = C(function_name='api', memory_limit_in_mb=1024, aws_request_id='r',"
                " invoked_function_arn='arn:aws:lambda:us-east-1:1:function:api')\n"
                "r = handler.handler(" + json.dumps(health) + ", ctx)\n"
                "assert r['statusCode'] == 200, r\n"
            )
        result = _in_bundle((code, layers), provided, script)
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        print(name, result.stdout.strip().splitlines()[0])


def _task_probe(tasks: list[str]) -> str:
    """Import each task's module and what it declares it needs; name every task that
    cannot, and fail."""
    return (
        "import importlib, sys\n"
        "import handler\n"
        "from steward.dispatch import TASKS\n"
        "failed = []\n"
        f"for name in {tasks!r}:\n"
        "    task = TASKS[name]\n"
        "    try:\n"
        "        task.resolve()\n"
        "        for module in task.needs:\n"
        "            importlib.import_module(module)\n"
        "    except ImportError as exc:\n"
        "        failed.append(f'{name}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )


def _routed(template: dict[str, Any]) -> dict[str, list[str]]:
    """Function logical id -> the tasks the template sends it."""
    routed: dict[str, list[str]] = defaultdict(list)
    for function, task in sorted(task_routes(template)):
        routed[function].append(task)
    return routed


def test_each_task_imports_from_the_bundle_it_is_routed_to(
    cloud_assembly: dict[str, Any], tmp_path: Path
) -> None:
    """Every task a state machine, rule or schedule sends to a function: its module and
    the libraries it declares (steward.dispatch) import from that function's bundle."""
    provided = _runtime_site(tmp_path)
    bundles = _bundles(cloud_assembly)
    # The image function (models) is built at deploy: tests/infra/test_governance.py reads
    # what its Dockerfile installs instead.
    routed = {f: tasks for f, tasks in _routed(cloud_assembly).items() if f in bundles}
    assert len(routed) == 3
    for function, tasks in routed.items():
        result = _in_bundle(bundles[function], provided, _task_probe(tasks))
        assert result.returncode == 0, f"{function}: {result.stdout}{result.stderr[-3000:]}"


def test_a_task_routed_to_a_bundle_without_its_libraries_fails(
    cloud_assembly: dict[str, Any], tmp_path: Path
) -> None:
    """The canary analysis (pyarrow) and validation (scikit-learn: how sklearn versions
    failed validation in AWS while the Validate step ran here) probed in the tasks function's
    bundle (onnxruntime); the approval wait runs there."""
    names = {name: fn for fn, name in function_names(cloud_assembly).items()}
    result = _in_bundle(
        _bundles(cloud_assembly)[names["tasks"]],
        _runtime_site(tmp_path),
        _task_probe(["request_approval", "analyze_canary", "validate"]),
    )
    assert result.returncode == 1
    failed = result.stdout.strip().splitlines()
    assert failed[0].startswith("analyze_canary: No module named 'pyarrow'")
    assert failed[1].startswith("validate: No module named 'sklearn'"), failed


def test_cdk_out_is_not_committed() -> None:
    assert shutil.which("git")
    tracked = subprocess.run(
        ["git", "ls-files", "cdk.out", ".cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert tracked.stdout == ""
