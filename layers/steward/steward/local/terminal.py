"""What `steward local up` and `steward demo` write where: the narrative on the terminal,
everything else in one log file under the platform's data directory.

Everything else is a lot: library log records (urllib3's "connection pool is full" warnings,
moto, werkzeug), the JSON lines the Lambda handlers' powertools loggers write to stdout,
Python warnings and stray prints. While the platform runs, the root logger writes to the file
and ``sys.stdout``/``sys.stderr`` point at it too (powertools binds ``sys.stdout`` when a
handler module is imported, which happens on a function's first invocation); the narrative
goes through :func:`say` to the terminal the process started with.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_narrative: list[TextIO] = []


def say(text: str = "") -> None:
    """One line of the narrative, on the terminal (``sys.stdout`` outside :class:`Terminal`)."""
    stream = _narrative[-1] if _narrative else sys.stdout
    print(text, file=stream, flush=True)


class Terminal:
    """Route logs and stray output to ``<data_dir>/logs/platform.log`` while it is entered."""

    def __init__(self, data_dir: Path, level: int = logging.INFO) -> None:
        self.path = data_dir / "logs" / "platform.log"
        self.level = level
        self._saved: tuple[TextIO, TextIO, list[logging.Handler], int] | None = None

    def __enter__(self) -> Terminal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Kept open until the process ends: loggers created meanwhile hold it as their stream.
        log = self.path.open("a", buffering=1, encoding="utf-8")
        root = logging.getLogger()
        self._saved = (sys.stdout, sys.stderr, list(root.handlers), root.level)
        _narrative.append(sys.stdout)
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.handlers = [handler]
        root.setLevel(self.level)
        logging.captureWarnings(True)
        sys.stdout = sys.stderr = log
        say(f"Logs: {self.path}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._saved is not None
        sys.stdout.flush()
        sys.stdout, sys.stderr, handlers, level = self._saved
        root = logging.getLogger()
        root.handlers, root.level = handlers, level
        logging.captureWarnings(False)
        _narrative.pop()
