"""Progress on stderr for long work, only when stderr is a terminal (scripts see nothing)."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

FRAMES = "|/-\\"


class Spinner:
    """``with Spinner("uploading 3.1 MB"):`` shows a spinner and the elapsed time."""

    def __init__(self, label: str, stream: TextIO | None = None, interval_s: float = 0.1) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self.enabled = self.stream.isatty()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def update(self, label: str) -> None:
        self.label = label

    def _line(self, frame: str) -> str:
        return f"\r{frame} {self.label} ({time.monotonic() - self._started:.1f} s)\033[K"

    def _run(self) -> None:
        i = 0
        while not self._done.wait(self.interval_s):
            self.stream.write(self._line(FRAMES[i % len(FRAMES)]))
            self.stream.flush()
            i += 1

    def __enter__(self) -> Spinner:
        self._started = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="steward-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            mark = "done" if kind is None else "failed"
            self.stream.write(self._line(mark) + "\n")
            self.stream.flush()


def bar(done: int, total: int, width: int = 24) -> str:
    """A text bar: ``[#########---------------] 3/8``."""
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}"
