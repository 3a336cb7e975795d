"""The import contracts of ``.importlinter`` (run by ``make lint``): they hold on the tree, and
each one breaks when a copy of the tree gets the import it forbids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # the dev extra's import-linter


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root / 'layers' / 'steward'}{os.pathsep}{root}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / ".importlinter")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package, the handlers and the contracts."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(
        ROOT / "layers" / "steward" / "steward", tmp_path / "layers/steward/steward", ignore=ignore
    )
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=ignore)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # the domain reaching up to a service (as domain/deployment.py once did to drift)
        (
            "layers/steward/steward/domain/metric_names.py",
            "from steward.drift import plan",
            "Layers",
        ),
        # a port reaching an adapter
        ("layers/steward/steward/ports/adapter.py", "import steward.adapters.memory", "Layers"),
        # the domain reaching for AWS
        ("layers/steward/steward/domain/aws_call.py", "import boto3", "Domain, stats and ports"),
        # a handler importing the local platform
        ("functions/api/local.py", "import steward.local.paths", "No production module"),
        # the client importing a server module
        ("layers/steward/steward/client_extra.py", "import steward.registry.requests", "The CLI"),
        # explanations reaching for storage (they are numpy over loaded runtimes)
        ("layers/steward/steward/explain/store.py", "import pyarrow", "Explanations import"),
        # the offline verifier reaching for the server's domain (the CLI would need it)
        ("layers/steward/steward/packs_extra.py", "import steward.domain.audit", "The evidence"),
        # the task table reaching for the services it names (the CDK app imports the table)
        ("layers/steward/steward/dispatch_extra.py", "import steward.wiring", "The task table"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, module: str, line: str, contract: str
) -> None:
    path = tree / module
    path.write_text(f"{line}\n")
    if module.endswith("_extra.py"):  # a helper of the client, the verifier or the task table
        user = (
            tree
            / "layers/steward/steward"
            / (module.rsplit("/", 1)[1][: -len("_extra.py")] + ".py")
        )
        user.write_text(user.read_text() + f"\nimport steward.{path.stem}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [ln for ln in result.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(contract) for ln in broken), result.stdout
