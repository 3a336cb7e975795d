"""Where the checkout is: the local platform runs the repository's own handlers and CDK app."""

from __future__ import annotations

import os
from pathlib import Path

import steward


def repo_root() -> Path:
    """The Steward checkout: ``$STEWARD_HOME`` or the tree this package was installed from."""
    candidates = [os.environ.get("STEWARD_HOME"), Path(steward.__file__).resolve().parents[3]]
    for candidate in candidates:
        if candidate and (Path(candidate) / "infra" / "app.py").is_file():
            return Path(candidate).resolve()
    raise RuntimeError(
        "the local platform runs from a Steward checkout: install it with `make install` "
        "there, or set STEWARD_HOME to the checkout"
    )
