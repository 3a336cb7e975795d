"""One logger style: the library logs through ``logging.getLogger(__name__)`` (records
propagate to the root logger, which Lambda's JSON log format writes with the request id);
only the handlers in ``functions/`` build a powertools ``Logger`` (for
``inject_lambda_context``). See docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "steward" / "steward"


def _powertools_loggers(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        logger = module.startswith("aws_lambda_powertools") and any(
            alias.name == "Logger" for alias in node.names
        )
        if logger or module == "aws_lambda_powertools.logging":
            lines.append(node.lineno)
    return lines


def test_the_library_logs_through_the_standard_library() -> None:
    found = {
        str(p.relative_to(ROOT)): lines
        for p in sorted(PACKAGE.rglob("*.py"))
        if (lines := _powertools_loggers(p))
    }
    assert found == {}, "use logging.getLogger(__name__) inside the library"


def test_every_handler_injects_the_lambda_context() -> None:
    for handler in sorted((ROOT / "functions").glob("*/handler.py")):
        text = handler.read_text()
        assert "from aws_lambda_powertools import Logger" in text, handler
        assert "@logger.inject_lambda_context" in text, handler
