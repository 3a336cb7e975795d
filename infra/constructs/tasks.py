"""Routing by :data:`steward.dispatch.TASKS`: every task state, rule target and schedule
invokes the function the table names for its task, never one picked by hand, so that the
function has the task's libraries (``tests/infra/test_bundles.py`` imports them from it)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from steward.dispatch import Function, task_for

TASKS_TAG = "steward:tasks"  # on a function that runs tasks: its name in steward.dispatch


def mark(function: lambda_.IFunction, name: Function) -> None:
    """Tag ``function`` with the name tasks are routed to it by (tests read it back)."""
    cdk.Tags.of(function).add(TASKS_TAG, name)


class TaskFunctions:
    """The deployed functions that run tasks, by the name :mod:`steward.dispatch` uses."""

    def __init__(self, **functions: lambda_.IFunction) -> None:
        self._functions = functions
        for name, function in functions.items():
            mark(function, name)  # type: ignore[arg-type]  # names are checked on use

    def __call__(self, task: str, on: Function | None = None) -> lambda_.IFunction:
        """The function that runs ``task``: its home, or ``on`` when the task may run there
        (:class:`ValueError` at synth otherwise)."""
        return self._functions[on or task_for(task, on).functions[0]]

    def all(self) -> list[lambda_.IFunction]:
        return list(self._functions.values())
