"""Waiting for something that happens elsewhere: call, sleep, call again, up to a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(
    done: Callable[[], T | None], timeout_s: float, step_s: float = 0.2, what: str = "the condition"
) -> T:
    """Call ``done`` every ``step_s`` until it answers something truthy, and return that;
    :class:`TimeoutError` (naming ``what``) once ``timeout_s`` has passed. ``done`` is always
    called at least once, and once more after the deadline before giving up."""
    deadline = time.monotonic() + timeout_s
    while not (value := done()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:g} s for {what}")
        time.sleep(step_s)
    return value
