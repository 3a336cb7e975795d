"""One dispatch for every task handler: the table names each task's function and callable,
a handler runs only the tasks of the functions it serves, and a malformed event is refused
without quoting it (events carry task tokens)."""

from __future__ import annotations

from typing import Any

import pytest

from steward.dispatch import FUNCTIONS, TASKS, MalformedTask, UnknownTask, dispatch, task_for


def test_every_task_resolves_to_a_callable_on_a_known_function() -> None:
    for name, task in TASKS.items():
        assert callable(task.resolve()), name
        assert task.functions and set(task.functions) <= set(FUNCTIONS), name


def test_a_handler_refuses_tasks_it_does_not_serve() -> None:
    with pytest.raises(UnknownTask, match="unknown task 'plan'"):
        dispatch({"task": "plan", "model": "churn"}, serves=("tasks", "lifecycle"))
    with pytest.raises(UnknownTask, match="unknown task 'validate'"):
        dispatch({"task": "validate"}, serves=("drift",))
    with pytest.raises(UnknownTask, match="unknown task 'explode'"):
        dispatch({"task": "explode"}, serves=FUNCTIONS)
    with pytest.raises(UnknownTask):
        dispatch(["not", "an", "event"], serves=FUNCTIONS)


def test_a_malformed_event_is_refused_without_quoting_it() -> None:
    token = "AQCEAAAAKgAAAAMAAAAAAAAAAQ-secret-task-token"
    with pytest.raises(MalformedTask) as caught:
        dispatch(
            {"task": "request_approval", "name": "Not A Name", "version": 0, "token": token},
            serves=("tasks",),
        )
    assert str(caught.value) == "malformed request_approval event: 2 error(s)"
    assert token not in str(caught.value)


def test_a_schedule_event_without_a_task_is_the_drift_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[str, Any]] = []

    class Jobs:
        def handle(self, event: dict[str, Any]) -> dict[str, Any]:
            seen.append(event)
            return {"mode": "skipped"}

    monkeypatch.setattr("steward.workflows.drift.drift_jobs", Jobs)
    assert dispatch({"model": "churn"}, serves=("drift",), default="scheduled") == {
        "mode": "skipped"
    }
    assert seen == [{"model": "churn"}]


def test_a_task_asked_of_a_function_it_does_not_run_on_is_refused_at_synth() -> None:
    assert task_for("notify", "lifecycle").functions == ("tasks", "lifecycle")
    with pytest.raises(ValueError, match="task 'analyze_canary' runs on lifecycle, not tasks"):
        task_for("analyze_canary", "tasks")
