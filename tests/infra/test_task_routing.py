"""Every task the stack invokes goes to a function :data:`steward.dispatch.TASKS` names for
it (no state, rule or schedule routed by hand), and every declared task is invoked."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn

from infra.stack import StewardStack
from steward.dispatch import TASKS
from tests.infra.conftest import Synth, synthesize
from tests.infra.routes import function_names, task_routes


def _misrouted(synth: Synth) -> list[str]:
    names = function_names(synth.template)
    return sorted(
        f"{task} -> {names.get(fn, fn)}"
        for fn, task in task_routes(synth.template)
        if task not in TASKS or names.get(fn) not in TASKS[task].functions
    )


def test_every_task_goes_where_the_table_says(synth: Synth) -> None:
    routes = task_routes(synth.template)
    names = function_names(synth.template)
    assert sorted(set(names.values())) == ["drift", "lifecycle", "models", "tasks"]
    assert _misrouted(synth) == []
    assert {task for _, task in routes} == set(TASKS)  # no task declared and never invoked
    # notify runs next to each machine's other steps: both workflow functions
    assert {names[fn] for fn, task in routes if task == "notify"} == {"tasks", "lifecycle"}


def test_a_task_routed_by_hand_elsewhere_is_caught() -> None:
    """A state that invokes the canary analysis on the tasks function (no pyarrow)."""

    def misroute(stack: StewardStack) -> None:
        tasks_fn = stack.node.find_child("TasksFunction").node.find_child("Function")
        machine = stack.node.find_child("Workflows").node.find_child("Approval")
        resource = machine.node.default_child
        assert isinstance(resource, sfn.CfnStateMachine)
        definition = cdk.Stack.of(stack).to_json_string(
            {
                "StartAt": "Analyze",
                "States": {
                    "Analyze": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {
                            "FunctionName": tasks_fn.function_arn,  # type: ignore[attr-defined]
                            "Payload": {"task": "analyze_canary"},
                        },
                        "End": True,
                    }
                },
            }
        )
        resource.definition_string = definition

    assert "analyze_canary -> tasks" in _misrouted(synthesize(misroute))
