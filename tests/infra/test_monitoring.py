"""The Monitoring construct's security and workflow properties: the distributed drift run
(Distributed Map, bounded, retried, caught, logged, traced), the scheduler role that can only
invoke the drift function, and the API's narrow hold on the per-model schedules and the run."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.infra import checks
from tests.infra.conftest import Synth
from tests.infra.test_state_machines import _definitions


def _drift_machine(synth: Synth) -> tuple[str, dict[str, Any]]:
    name, definition = next((k, d) for k, d in _definitions(synth).items() if "Monitoring" in k)
    return name, definition


def _statements(synth: Synth, role_prefix: str) -> list[dict[str, Any]]:
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"].get("Roles", [])]
        if any(r.startswith(role_prefix) for r in roles):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def test_the_drift_run_is_a_bounded_distributed_map(synth: Synth) -> None:
    name, definition = _drift_machine(synth)
    assert definition["StartAt"] == "Plan" and definition["TimeoutSeconds"] <= 4 * 3600
    fan_out = definition["States"]["EvaluateBatches"]
    assert fan_out["Type"] == "Map"
    assert fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert 0 < fan_out["MaxConcurrency"] <= 1000
    assert definition["States"]["OneBatch?"]["Default"] == "EvaluateBatches"
    for state in ("Plan", "EvaluateInline", "EvaluateBatches", "Reduce"):
        catches = definition["States"][state]["Catch"]
        assert any("States.ALL" in c["ErrorEquals"] for c in catches), state
    assert checks.task_problems(name, definition) == []
    (machine,) = [
        m for k, m in synth.resources("AWS::StepFunctions::StateMachine").items() if k == name
    ]
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["Properties"]["TracingConfiguration"]["Enabled"] is True


def test_task_gate_sees_into_map_children(synth: Synth) -> None:
    name, definition = _drift_machine(synth)
    broken = copy.deepcopy(definition)
    child = broken["States"]["EvaluateBatches"]["ItemProcessor"]["States"]["EvaluateBatch"]
    del child["Retry"], child["TimeoutSeconds"]
    problems = checks.task_problems(name, broken)
    assert any("EvaluateBatch: no timeout" in p for p in problems)
    assert any("EvaluateBatch: no retry" in p for p in problems)


def test_scheduler_role_only_invokes_the_drift_function(synth: Synth) -> None:
    roles = {
        k: r
        for k, r in synth.resources("AWS::IAM::Role").items()
        if k.startswith("MonitoringSchedulerRole")
    }
    ((role_id, role),) = roles.items()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    actions = {a for s in _statements(synth, role_id) for a in _actions(s)}
    assert actions == {"lambda:InvokeFunction", "sqs:SendMessage"}
    for statement in _statements(synth, role_id):
        if "lambda:InvokeFunction" in _actions(statement):
            assert "MonitoringFunction" in json.dumps(statement["Resource"])


def test_api_manages_only_the_drift_group_and_passes_only_the_scheduler_role(
    synth: Synth,
) -> None:
    statements = _statements(synth, "ApiFunctionRole")
    scheduling = [s for s in statements if any(a.startswith("scheduler:") for a in _actions(s))]
    (schedules,) = scheduling
    assert "schedule/Steward-drift/*" in json.dumps(schedules["Resource"])
    (pass_role,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert "MonitoringSchedulerRole" in json.dumps(pass_role["Resource"])
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    drift_actions = {a for s in _statements(synth, "MonitoringFunctionRole") for a in _actions(s)}
    assert not any(a.startswith(("scheduler:", "iam:")) for a in drift_actions)
    assert "states:StartExecution" in drift_actions


def test_api_starts_only_the_drift_run_and_the_retrain_workflow(synth: Synth) -> None:
    """On-demand windows of more than one batch start the distributed run from the API."""
    starts = [
        s for s in _statements(synth, "ApiFunctionRole") if "states:StartExecution" in _actions(s)
    ]
    resources = [json.dumps(r) for s in starts for r in _resources(s)]
    assert not any(r == '"*"' or r.endswith(':*"') for r in resources)
    assert sum(":stateMachine:Steward-drift-run" in r for r in resources) == 1
    assert all(  # listing the machine's executions is the run status route's (read only)
        set(_actions(s)) <= {"states:StartExecution", "states:ListExecutions"}
        for s in starts
        if "drift-run" in json.dumps(s)
    )
    (api,) = [
        f
        for k, f in synth.resources("AWS::Lambda::Function").items()
        if k.startswith("ApiFunction")
    ]
    arn = api["Properties"]["Environment"]["Variables"]["STEWARD_DRIFT_STATE_MACHINE_ARN"]
    assert ":stateMachine:Steward-drift-run" in json.dumps(arn)


def test_api_reads_only_the_drift_runs_states(synth: Synth) -> None:
    """The run status route: describe the drift machine's executions and list that machine's
    (no history, nothing of another state machine)."""
    statements = _statements(synth, "ApiFunctionRole")
    (describe,) = [s for s in statements if "states:DescribeExecution" in _actions(s)]
    assert _actions(describe) == ["states:DescribeExecution"]
    assert json.dumps(describe["Resource"]).endswith(':execution:Steward-drift-run:*"]]}')
    lists = [s for s in statements if "states:ListExecutions" in _actions(s)]
    listed = [json.dumps(r) for s in lists for r in _resources(s) if "drift-run" in json.dumps(r)]
    assert len(listed) == 1 and ":stateMachine:Steward-drift-run" in listed[0]
    assert not any(
        a.startswith("states:GetExecutionHistory") for s in statements for a in _actions(s)
    )
    drift_actions = {a for s in _statements(synth, "MonitoringFunctionRole") for a in _actions(s)}
    assert not {"states:DescribeExecution", "states:ListExecutions"} & drift_actions


def test_alarms_watch_the_drift_function_runs_and_schedule_dead_letters(synth: Synth) -> None:
    watched = {
        (a["Properties"].get("Namespace"), a["Properties"].get("MetricName"))
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    } <= watched
    reports = next(
        b
        for k, b in synth.resources("AWS::S3::Bucket").items()
        if k.startswith("MonitoringReports")
    )
    rules = reports["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r.get("Prefix") == "drift/_runs/" and r.get("ExpirationInDays") for r in rules)


def test_the_drift_function_only_appends_to_the_audit_trail(synth: Synth) -> None:
    """Its reports are audited (``drift.reported``, read by the practice KPIs): it may read a
    stream's head and put events with their own attributes, never update or delete one."""
    on_audit = [
        s
        for s in _statements(synth, "MonitoringFunction")
        if "RegistryAudit" in json.dumps(s["Resource"])
    ]
    actions = {a for s in on_audit for a in _actions(s)}
    assert actions == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"}
    (put,) = [s for s in on_audit if "dynamodb:PutItem" in _actions(s)]
    assert "dynamodb:Attributes" in json.dumps(put["Condition"])
