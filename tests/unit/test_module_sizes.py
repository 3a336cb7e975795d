"""Rooms of one purpose stay small enough to read (issue 14): no module of the ``steward``
package is over 500 lines unless its docstring says why, in a paragraph that starts with
``Long:``. A module that grows past the limit is split by purpose (as ``cli/commands.py``
into ``base``, ``trainer`` and ``monitoring``, ``adapters/aws/dynamodb.py`` by table) or
states its reason."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "steward" / "steward"
LIMIT = 500
REASON = "Long:"


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _says_why(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return any(paragraph.startswith(REASON) for paragraph in doc.split("\n\n"))


def oversized(package: Path) -> dict[str, int]:
    """The modules over the limit that do not say why, with their lengths."""
    return {
        str(path.relative_to(package)): n
        for path in sorted(package.rglob("*.py"))
        if (n := _lines(path)) > LIMIT and not _says_why(path)
    }


def test_no_module_is_over_the_limit_without_a_reason() -> None:
    assert oversized(PACKAGE) == {}, f"split by purpose, or start a paragraph with {REASON!r}"


def test_the_check_sees_a_long_module_and_its_reason(tmp_path: Path) -> None:
    body = "x = 1\n" * LIMIT
    (tmp_path / "long.py").write_text('"""A room."""\n' + body)
    (tmp_path / "said.py").write_text('"""A room.\n\nLong: one table, one store."""\n' + body)
    (tmp_path / "short.py").write_text('"""A room."""\n' + "x = 1\n" * (LIMIT - 1))
    assert oversized(tmp_path) == {"long.py": LIMIT + 1}
