"""The one polling loop: returns the first truthy answer, gives up after its timeout."""

from __future__ import annotations

import pytest

from steward.polling import until


def test_until_returns_the_first_truthy_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("steward.polling.time.sleep", slept.append)
    answers = iter([None, 0, {}, {"status": "done"}, "later"])
    assert until(lambda: next(answers), 60, step_s=0.5) == {"status": "done"}
    assert slept == [0.5, 0.5, 0.5]


def test_until_asks_once_more_after_the_deadline_then_names_what_it_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr("steward.polling.time.sleep", lambda _s: None)
    with pytest.raises(TimeoutError, match=r"^waited 0 s for the stack$"):
        until(lambda: calls.append(1), 0, what="the stack")
    assert len(calls) == 1
    now = iter([0.0, 0.5, 2.0])  # the deadline (1 s) passes between the 2nd and 3rd call
    monkeypatch.setattr("steward.polling.time.monotonic", lambda: next(now))
    calls.clear()
    with pytest.raises(TimeoutError, match="waited 1 s for the condition"):
        until(lambda: calls.append(1), 1)
    assert len(calls) == 2
