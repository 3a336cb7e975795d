"""Where a synthesized template sends each task: the (function, task) pairs its state
machines, rules and schedules invoke, read from the template as CloudFormation has it."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.constructs.tasks import TASKS_TAG


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _placeholders(value: Any) -> str:
    """A DefinitionString with every function ARN as ``@<logical id>@``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_placeholders(p) for p in parts)
    if "Fn::GetAtt" in value:
        return f"@{value['Fn::GetAtt'][0]}@"
    return "@ref@"


def _invoked(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(function logical id, task) of every Lambda task state, nested ones included: the
    function is the state's resource (payload only) or its ``FunctionName`` (the
    ``lambda:invoke`` integrations, task tokens), the task its payload's ``task``."""
    found = []
    for state in definition.get("States", {}).values():
        params = state.get("Parameters", {})
        direct = re.fullmatch(r"@(\w+)@", str(state.get("Resource", "")))
        named = re.fullmatch(r"@(\w+)@(:.*)?", str(params.get("FunctionName", "")))
        if state["Type"] == "Task" and direct and "task" not in params:
            continue  # a function that runs no task: the lambda trainer (its staged request)
        if state["Type"] == "Task" and direct:
            found.append((direct.group(1), params["task"]))
        elif state["Type"] == "Task" and named:
            found.append((named.group(1), params["Payload"]["task"]))
        nested = [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]
        for inner in nested:
            if inner:
                found += _invoked(inner)
    return found


def task_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (function logical id, task) the stack invokes: task states of the state
    machines, EventBridge rule targets, and the drift function's default task
    (``scheduled``, for a bare ``{"model": name}``: an operator's direct invoke; the drift
    schedules themselves start the state machine through the start queue)."""
    routes: set[tuple[str, str]] = set()
    for machine in _resources(template, "AWS::StepFunctions::StateMachine").values():
        definition = json.loads(_placeholders(machine["Properties"]["DefinitionString"]))
        routes |= set(_invoked(definition))
    for rule in _resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            arn = target.get("Arn")
            if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
                continue
            text = target.get("Input") or target.get("InputTransformer", {}).get("InputTemplate")
            for task in re.findall(r'"task"\s*:\s*"(\w+)"', str(text)):
                routes.add((arn["Fn::GetAtt"][0], task))
    for logical, name in function_names(template).items():
        if name == "drift":  # its handler's default: a bare {"model": name} invoke
            routes.add((logical, "scheduled"))
    return routes


def function_names(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> the :mod:`steward.dispatch` name of each function that runs tasks
    (its ``steward:tasks`` tag)."""
    found = {}
    for logical, fn in _resources(template, "AWS::Lambda::Function").items():
        for tag in fn["Properties"].get("Tags", []):
            if tag["Key"] == TASKS_TAG:
                found[logical] = tag["Value"]
    return found
