"""What wiring keeps per cold start: built once, rebuilt after a clear, and never kept from a
build that a clear overtook (another thread's, as a Step Functions workflow step runs)."""

from __future__ import annotations

import threading
from itertools import count

from steward.config import PerColdStart
from steward.polling import until


def test_built_once_until_cleared_and_none_is_kept_too() -> None:
    builds = count(1)
    numbered = PerColdStart(lambda: next(builds))
    assert numbered() == numbered() == 1
    numbered.cache_clear()
    assert numbered() == 2
    nones: list[None] = []
    nothing = PerColdStart(lambda: nones.append(None))
    assert nothing() is nothing() is None and len(nones) == 1


def test_a_build_a_clear_overtook_goes_to_its_caller_and_is_not_kept() -> None:
    began, finish = threading.Event(), threading.Event()
    builds = count(1)

    def build() -> int:
        number = next(builds)
        if number == 1:  # the first build, on another thread, outlasts the clear
            began.set()
            assert finish.wait(10)
        return number

    service = PerColdStart(build)
    got: list[int] = []
    slow = threading.Thread(target=lambda: got.append(service()))
    slow.start()
    assert began.wait(10)
    service.cache_clear()  # a new cold start while the old one's build is under way
    finish.set()
    slow.join(10)
    assert got == [1]  # its caller, a call of the old cold start, gets it
    assert service() == service() == 2  # the new cold start builds its own


def test_concurrent_builders_share_the_first_value_kept() -> None:
    inside, go = threading.Barrier(2), threading.Event()
    builds = count(1)

    def build() -> int:
        number = next(builds)
        inside.wait(10)  # both threads are building
        if number == 2:
            assert go.wait(10)  # the second finishes last
        return number

    service = PerColdStart(build)
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(service())) for _ in range(2)]
    for thread in threads:
        thread.start()
    until(lambda: got, 10, step_s=0.01, what="the first builder's answer")
    go.set()
    for thread in threads:
        thread.join(10)
    assert got == [1, 1] and service() == 1
