"""The local Lambda runtime keeps a function's reserved concurrency: invocations beyond it
wait for a slot (Lambda would throttle them and Step Functions retry them later)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from steward.local.runtime import FunctionSpec, LocalRuntime


def _runtime(reserved: int | None) -> tuple[LocalRuntime, list[int]]:
    runtime = LocalRuntime(Path("."))
    spec = FunctionSpec(
        name="drift", arn="arn:aws:lambda:us-east-1:1:function:drift", source="drift",
        handler="handler.handler", memory_mb=128, timeout_s=30, reserved=reserved,
    )  # fmt: skip
    runtime.register(spec)
    running, most, lock = [0], [0], threading.Lock()

    def handler(event: Any, context: Any) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return int(event["n"])

    runtime._handlers["drift"] = handler
    return runtime, most


def test_invocations_beyond_the_reservation_wait_for_a_slot() -> None:
    runtime, most = _runtime(reserved=3)
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: runtime.invoke("drift", {"n": n}), range(24)))
    assert answers == list(range(24))  # every one ran, none was dropped
    assert most[0] == 3


def test_without_a_reservation_they_run_at_once() -> None:
    runtime, most = _runtime(reserved=None)
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda n: runtime.invoke("drift", {"n": n}), range(24)))
    assert most[0] > 3


def test_api_requests_are_not_held_by_the_reservation() -> None:
    """API requests run one at a time already; they do not take a slot either."""
    runtime, _ = _runtime(reserved=1)
    slots = runtime._slots["drift"]
    slots.acquire()  # the only slot taken by a long drift run
    try:
        assert runtime.invoke("drift", {"n": 7, "httpMethod": "GET"}) == 7
    finally:
        slots.release()
