"""The Monitoring construct's security and workflow properties: the distributed drift run
(Distributed Map, bounded, retried, caught, logged, traced), the scheduler role that can only
send to the drift start queue, the starter that can only start the drift run, and the API's
narrow hold on the per-model schedules and the run."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.infra import checks
from tests.infra.conftest import Synth, synthesize
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
    assert definition["StartAt"] == "Scheduled?" and definition["TimeoutSeconds"] <= 4 * 3600
    fan_out = definition["States"]["EvaluateBatches"]
    assert fan_out["Type"] == "Map"
    assert fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert 0 < fan_out["MaxConcurrency"] <= 1000
    assert definition["States"]["OneBatch?"]["Default"] == "EvaluateBatches"
    for state in ("Plan", "PlanScheduled", "EvaluateInline", "EvaluateBatches", "Reduce"):
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


def test_scheduler_role_only_sends_to_the_start_queue_and_its_dlq(synth: Synth) -> None:
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
    assert actions == {"sqs:SendMessage"}
    queues = {json.dumps(r) for s in _statements(synth, role_id) for r in _resources(s)}
    assert len(queues) == 2
    assert all("MonitoringStartQueue" in q or "MonitoringScheduleDlq" in q for q in queues)


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


# -- the fan-out between the schedules and the state machine (issue 20) ---------------------


def _function(synth: Synth, prefix: str) -> tuple[str, dict[str, Any]]:
    ((logical, fn),) = [
        (k, f) for k, f in synth.resources("AWS::Lambda::Function").items() if k.startswith(prefix)
    ]
    return logical, fn


def test_schedules_reach_the_state_machine_through_a_bounded_queue(synth: Synth) -> None:
    """The start queue feeds the starter in batches of 10 at a maximum concurrency of 2
    (about 40 StartExecution calls/s), reporting partial failures; a firing that keeps
    failing goes to the start DLQ after 5 receives, and that DLQ is alarmed."""
    starter_id, starter = _function(synth, "MonitoringStarter")
    (mapping,) = [
        m
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": starter_id}
    ]
    props = mapping["Properties"]
    assert "MonitoringStartQueue" in props["EventSourceArn"]["Fn::GetAtt"][0]
    assert props["BatchSize"] == 10
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert starter["Properties"]["ReservedConcurrentExecutions"] == 2
    ((queue_id, queue),) = [
        (k, q)
        for k, q in synth.resources("AWS::SQS::Queue").items()
        if k.startswith("MonitoringStartQueue")
    ]
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 5
    dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dlq.startswith("MonitoringStartDlq")
    timeout = starter["Properties"]["Timeout"]
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
    alarmed = [
        a
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and dlq in json.dumps(a["Properties"].get("Dimensions"))
    ]
    assert len(alarmed) == 1 and alarmed[0]["Properties"]["AlarmActions"]  # the Alarms topic
    # the API makes each model's schedule with this queue as its target
    _api_id, api = _function(synth, "ApiFunction")
    target = api["Properties"]["Environment"]["Variables"]["STEWARD_DRIFT_START_QUEUE_ARN"]
    assert target == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_the_starter_may_only_start_the_drift_run(synth: Synth) -> None:
    """Least privilege: StartExecution on the drift state machine and nothing else of Step
    Functions; consuming its own queue; its logs and traces."""
    _starter_id, starter = _function(synth, "MonitoringStarter")
    role = starter["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _statements(synth, role)
    states = [s for s in statements if any(a.startswith("states:") for a in _actions(s))]
    (start,) = states
    assert _actions(start) == ["states:StartExecution"]
    (resource,) = _resources(start)
    assert json.dumps(resource).endswith(':stateMachine:Steward-drift-run"]]}')
    actions = {a for s in statements for a in _actions(s)}
    assert {a.split(":")[0] for a in actions} <= {"states", "sqs", "logs", "xray"}
    for statement in statements:
        if any(a.startswith("sqs:") for a in _actions(statement)):
            assert "MonitoringStartQueue" in json.dumps(statement["Resource"])
    env = starter["Properties"]["Environment"]["Variables"]
    assert ":stateMachine:Steward-drift-run" in json.dumps(env["STEWARD_DRIFT_STATE_MACHINE_ARN"])


def test_scoring_has_reserved_concurrency_and_drift_is_capped(synth: Synth) -> None:
    """Monitoring never starves scoring: both scoring functions reserve 100, the drift
    function is capped at 100 (reserved), the starter at 2; at least 100 stay unreserved
    in an account at the default limit of 1,000."""
    reserved = {
        k: f["Properties"].get("ReservedConcurrentExecutions")
        for k, f in synth.resources("AWS::Lambda::Function").items()
    }
    scoring = {k: v for k, v in reserved.items() if k.startswith("Scoring") and "Writer" not in k}
    assert len(scoring) == 2 and set(scoring.values()) == {100}
    (drift,) = [v for k, v in reserved.items() if k.startswith("MonitoringFunction")]
    assert drift == 100
    assert sum(v for v in reserved.values() if v) <= 1000 - 100


def test_every_drift_step_retries_lambda_throttling_with_backoff(synth: Synth) -> None:
    """At its cap the drift function throttles: each step waits and tries again (jittered
    backoff) instead of failing the run."""
    _name, definition = _drift_machine(synth)
    states = dict(definition["States"])
    states.update(definition["States"]["EvaluateBatches"]["ItemProcessor"]["States"])
    tasks = {k: v for k, v in states.items() if v["Type"] == "Task"}
    assert set(tasks) == {
        "Plan",
        "PlanScheduled",
        "EvaluateInline",
        "EvaluateBatch",
        "Reduce",
        "RecordFailure",
    }
    for name, state in tasks.items():
        (retry,) = [
            r for r in state["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]
        ]
        assert retry["MaxAttempts"] >= 5 and retry["BackoffRate"] >= 2, name
        assert retry["JitterStrategy"] == "FULL", name
    # a firing of a model with nothing to evaluate ends as skipped, not as a failure
    skipped = definition["States"]["Skipped?"]
    assert skipped["Choices"][0]["Variable"] == "$.plan.skipped"
    assert definition["States"][skipped["Choices"][0]["Next"]]["Type"] == "Succeed"
    # a failed run is noted for the portfolio view (GET /drift/runs), then fails
    note = definition["States"]["RecordFailure"]
    assert note["Next"] == "RunFailed" and note["Parameters"]["task"] == "failed"
    for state in ("Plan", "PlanScheduled", "EvaluateInline", "EvaluateBatches", "Reduce"):
        (catch,) = definition["States"][state]["Catch"]
        assert catch["Next"] == "RecordFailure", state


def test_reserved_concurrency_is_set_by_context_and_0_means_none() -> None:
    from infra.app import reserved_concurrency
    from infra.auth import DeploymentError

    small = synthesize(context={"steward:scoringConcurrency": "0", "steward:driftConcurrency": 20})
    functions = small.resources("AWS::Lambda::Function")
    for logical, fn in functions.items():
        reserved = fn["Properties"].get("ReservedConcurrentExecutions")
        if logical.startswith("Scoring"):
            assert reserved is None, logical
        if logical.startswith("MonitoringFunction"):
            assert reserved == 20
    assert reserved_concurrency(None, 100) == 100 and reserved_concurrency("7", 100) == 7
    for bad in ("-1", "lots"):
        with pytest.raises(DeploymentError):
            reserved_concurrency(bad, 100)
