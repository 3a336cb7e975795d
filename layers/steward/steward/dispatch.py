"""The tasks that state machines, rules and schedules invoke: which function runs each one,
and the one way every task handler dispatches (``{"task": name, ...}``).

Four deployed functions run tasks, each with its own libraries (a zip holds only so much):

- ``models``: the workflow handler in a container image with every model runtime
  (onnxruntime, scikit-learn, skops): validation and gates load versions of any flavor;
- ``tasks``: the workflow handler with onnxruntime (the other approval steps, the hourly
  jobs);
- ``lifecycle``: the same handler with pyarrow instead (canary analysis and retraining
  read the Parquet logs);
- ``drift``: the drift handler with numpy and pyarrow (the schedule's evaluation and the
  steps of a distributed run).

:data:`TASKS` is the one place that says which: the CDK constructs route every task state,
rule and schedule by it (``infra.constructs.tasks``), the handlers dispatch by it, and
``tests/infra/test_bundles.py`` imports each routed task's module and :attr:`Task.needs`
from the bundle of the function the template sends it to, so a task routed to a function
that lacks its libraries fails a test, not a workflow. Standard library only: the CDK app
imports this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

Function = Literal["tasks", "models", "lifecycle", "drift"]
FUNCTIONS: tuple[Function, ...] = ("tasks", "models", "lifecycle", "drift")

_WORKFLOW = "steward.workflows.tasks"
_DRIFT = "steward.workflows.drift"
# Loading a model of any flavor (decision models need only numpy): scikit-learn and skops
# do not fit a zip, hence the ``models`` image function.
MODELS = ("onnxruntime", "sklearn", "skops.io")
LOGS = ("pyarrow.parquet", "pyarrow.compute")  # reading the Parquet prediction logs


@dataclass(frozen=True)
class Task:
    """Where a task runs and what it needs there.

    ``functions``: the functions it may be routed to (the first is its home; ``notify`` runs
    on both workflow functions so that each state machine invokes only its own).
    ``target``: ``module:callable``, called with the event, answering a JSON object.
    ``needs``: libraries its path imports lazily, beyond its module's own imports."""

    functions: tuple[Function, ...]
    target: str
    needs: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def runs_on(self, function: Function) -> bool:
        return function in self.functions

    def resolve(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        module, _, name = self.target.partition(":")
        found: Callable[[dict[str, Any]], dict[str, Any]] = getattr(
            importlib.import_module(module), name
        )
        return found


def _workflow(name: str, *functions: Function, needs: tuple[str, ...] = ()) -> Task:
    return Task(functions or ("tasks",), f"{_WORKFLOW}:{name}", needs)


def _drift() -> Task:
    return Task(("drift",), f"{_DRIFT}:run", LOGS)  # one step model per task validates


TASKS: dict[str, Task] = {
    # the approval workflow
    "validate": _workflow("validate", "models", needs=MODELS),
    "evaluate_gates": _workflow("evaluate_gates", "models", needs=MODELS),
    "request_approval": _workflow("request_approval"),
    "expire": _workflow("expire"),
    "record_failure": _workflow("record_failure"),
    "deploy": _workflow("deploy"),
    "analyze_canary": _workflow("analyze_canary", "lifecycle", needs=LOGS),
    "promote": _workflow("promote"),
    "rollback_canary": _workflow("rollback_canary"),
    "notify": _workflow("notify", "tasks", "lifecycle"),
    # the retrain workflow (every step reads the logs or runs next to those that do)
    "trigger_retrain": _workflow("trigger_retrain"),
    "retrain_begin": _workflow("retrain_begin", "lifecycle", needs=LOGS),
    "retrain_prepare": _workflow("retrain_prepare", "lifecycle", needs=LOGS),
    "retrain_stage": _workflow("retrain_stage", "lifecycle", needs=LOGS),
    "retrain_train": _workflow("retrain_train", "lifecycle", needs=LOGS),
    "retrain_collect": _workflow("retrain_collect", "lifecycle", needs=LOGS),
    "retrain_register": _workflow("retrain_register", "lifecycle", needs=LOGS),
    "retrain_finish": _workflow("retrain_finish", "lifecycle"),
    # hourly governance
    "verify_audit": _workflow("verify_audit"),
    "send_heartbeats": _workflow("send_heartbeats"),
    "scheduled_retrains": _workflow("scheduled_retrains"),
    # drift: a model's schedule sends {"model": name} (no task: "scheduled")
    "scheduled": _drift(),
    "evaluate": _drift(),
    "plan": _drift(),
    "map": _drift(),
    "reduce": _drift(),
    "failed": _drift(),  # the run's catch: how it ended, for the portfolio view
}


class UnknownTask(ValueError):
    """An event naming no task this handler runs."""


class MalformedTask(ValueError):
    """A task's event failed its validation (the count only: events carry task tokens)."""


def task_for(name: str, function: Function | None = None) -> Task:
    """The task ``name``; with ``function``, :class:`ValueError` unless it runs there."""
    task = TASKS.get(name)
    if task is None:
        raise UnknownTask(f"unknown task {name!r}")
    if function is not None and not task.runs_on(function):
        raise ValueError(f"task {name!r} runs on {' or '.join(task.functions)}, not {function}")
    return task


def dispatch(event: Any, serves: Collection[str], *, default: str | None = None) -> dict[str, Any]:
    """Run the task ``event["task"]`` names (``default`` when it names none), if it runs on
    one of the functions this handler ``serves``; a malformed event is a
    :class:`MalformedTask` that counts its errors and quotes nothing of it."""
    from pydantic import ValidationError

    name = event.get("task", default) if isinstance(event, dict) else None
    task = TASKS.get(str(name))
    if task is None or not set(task.functions) & set(serves):
        raise UnknownTask(f"unknown task {name!r}")
    try:
        return task.resolve()(event)
    except ValidationError as exc:
        raise MalformedTask(f"malformed {name} event: {exc.error_count()} error(s)") from None
