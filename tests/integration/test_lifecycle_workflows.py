"""The approval and retrain state machines, as synthesized by CDK, executed on moto with
the real task handlers: gates, human decisions, expiry, canary, promotion, rollback,
drift-triggered retrain and duplicate events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest

from steward.adapters.aws.dynamodb import DynamoModelStore
from steward.config import settings
from tests.factories import model_spec, reference_rows, register_body
from tests.integration.conftest import Stack
from tests.integration.support import api, execution_end, scoring, wait_status

COEFFICIENTS = {"tenure": -0.04, "charges": 0.02}


def _artifact(intercept: float = -1.0, **coefficients: float) -> bytes:
    return json.dumps(
        {"intercept": intercept, "coefficients": {**COEFFICIENTS, **coefficients}}
    ).encode()


def _truth(rows: list[dict[str, Any]], seed: int = 5) -> list[int]:
    """Labels drawn from the reference model's own probabilities."""
    rng = np.random.default_rng(seed)
    z = np.array([-1.0 - 0.04 * r["tenure"] + 0.02 * r["charges"] for r in rows])
    return (rng.random(len(rows)) < 1 / (1 + np.exp(-z))).astype(int).tolist()


def _holdout(n: int = 300) -> dict[str, Any]:
    rows = reference_rows(n, seed=11)
    return {"instances": rows, "labels": _truth(rows)}


class Notices:
    """An SQS queue subscribed to the workflows' SNS topic, as an operator's inbox."""

    def __init__(self, topic_arn: str) -> None:
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.create_queue(QueueName="steward-notices")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        boto3.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        self.seen: list[dict[str, Any]] = []

    def about(self, model: str) -> list[str]:
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [m["event"] for m in self.seen if m["model"] == model]


@pytest.fixture(scope="module")
def notices(stack: Stack) -> Iterator[Notices]:
    yield Notices(settings().need("topic_arn"))


def _create(stack: Stack, name: str, user: str = "alice", **overrides: Any) -> None:
    deployment = {
        "canary_percent": 20,
        "bake_seconds": 0,
        "auto_deploy": True,
        **overrides.pop("deployment", {}),
    }
    spec = model_spec(name, deployment=deployment, **overrides)
    code, body = api(stack, "POST", "/models", spec, user=user)
    assert code == 201, body


def _register(
    stack: Stack, name: str, artifact: bytes | None = None, **extra: Any
) -> dict[str, Any]:
    code, version = api(stack, "POST", f"/models/{name}/versions", register_body(artifact, **extra))
    assert code == 201, version
    return dict(version)


def _decide(stack: Stack, name: str, number: int, decision: str = "approve") -> None:
    wait_status(stack, name, number, "PENDING_APPROVAL")
    body = {"decision": decision, "comment": "evidence reviewed"}
    code, out = api(stack, "POST", f"/models/{name}/versions/{number}/decision", body, user="bob")
    assert code == 200, out


def _states(arn: str) -> list[str]:
    history = boto3.client("stepfunctions").get_execution_history(executionArn=arn)
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]


def _finished(version: dict[str, Any], timeout_s: float = 10) -> list[str]:
    execution = execution_end(version["execution_arn"], timeout_s)
    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=version["execution_arn"]
    )["events"]
    assert execution["status"] == "SUCCEEDED", [
        (e["type"], e.get("stateEnteredEventDetails", e.get("taskScheduledEventDetails", {})))
        for e in history[-6:]
    ]
    return _states(version["execution_arn"])


def _model(stack: Stack, name: str) -> dict[str, Any]:
    return dict(api(stack, "GET", f"/models/{name}")[1])


def test_register_approve_canary_promote(stack: Stack, notices: Notices) -> None:
    _create(stack, "life-happy")
    first = _register(stack, "life-happy")
    _decide(stack, "life-happy", 1)
    assert "Promoted" in _finished(first)  # nothing to canary against: promoted outright
    assert _model(stack, "life-happy")["aliases"]["production"] == 1

    second = _register(stack, "life-happy", _artifact(intercept=-0.9))
    _decide(stack, "life-happy", 2)
    states = _finished(second)
    assert states[-4:] == ["Bake", "AnalyzeCanary", "CanaryHealthy?", "Promote"] or (
        {"Bake", "AnalyzeCanary", "Promote", "Promoted"} <= set(states)
    )
    model = _model(stack, "life-happy")
    assert model["aliases"]["production"] == 2
    assert model["traffic"] == {
        "champion": 2,
        "challenger": None,
        "challenger_percent": 0,
        "mode": "canary",
    }
    actions = [e["action"] for e in api(stack, "GET", "/models/life-happy/audit")[1]["items"]]
    assert {"version.checked", "traffic.set", "canary.analyzed", "alias.set"} <= set(actions)
    assert notices.about("life-happy").count("promoted") == 2


def test_reject_ends_the_workflow_rejected(stack: Stack, notices: Notices) -> None:
    _create(stack, "life-reject")
    version = _register(stack, "life-reject")
    _decide(stack, "life-reject", 1, "reject")
    assert _finished(version)[-1] == "Rejected"
    assert wait_status(stack, "life-reject", 1, "REJECTED")
    assert "production" not in _model(stack, "life-reject")["aliases"]
    assert notices.about("life-reject") == ["rejected"]


def test_a_failed_gate_rejects_without_a_human(stack: Stack) -> None:
    _create(stack, "life-gate", deployment={"gates": {"min_auc": 0.99}})
    version = _register(stack, "life-gate", holdout_data=_holdout())
    assert _finished(version)[-1] == "Rejected"
    rejected = wait_status(stack, "life-gate", 1, "REJECTED")
    assert rejected["approvals"] == []  # never open to a human
    assert "min_auc" in rejected["validation"]["checks"]["gates"]
    assert 0.5 < rejected["validation"]["gates"]["metrics"]["roc_auc"] < 0.99
    trail = api(stack, "GET", "/models/life-gate/audit")[1]["items"]
    assert any(e["actor"] == "steward-policy" and e["action"] == "version.rejected" for e in trail)


def test_low_risk_passing_its_gates_reaches_production_alone(stack: Stack) -> None:
    _create(
        stack,
        "life-auto",
        user="admin",  # a low tier with auto-approval is set by an approver or admin
        risk_tier="low",
        deployment={"auto_approve_low_risk": True, "gates": {"min_auc": 0.55}},
    )
    started = time.perf_counter()
    version = _register(stack, "life-auto", holdout_data=_holdout())
    states = _finished(version)
    elapsed = time.perf_counter() - started
    assert "AwaitDecision" not in states and states[-1] == "Promoted"
    assert _model(stack, "life-auto")["aliases"]["production"] == 1
    assert elapsed < 30
    approved = wait_status(stack, "life-auto", 1, "APPROVED")
    assert approved["approvals"][0]["actor"] == "steward-policy"


def test_archiving_a_pending_version_ends_its_approval_workflow(stack: Stack) -> None:
    _create(stack, "life-archive")
    version = _register(stack, "life-archive")
    wait_status(stack, "life-archive", 1, "PENDING_APPROVAL")
    store = DynamoModelStore(boto3.client("dynamodb"), settings().need("registry_table"))
    deadline = time.monotonic() + 3
    while store.task_token("life-archive", 1) is None:  # the workflow waits for a person
        assert time.monotonic() < deadline
        time.sleep(0.05)
    body = {"comment": "superseded before review"}
    code, out = api(stack, "POST", "/models/life-archive/versions/1/archive", body, user="bob")
    assert code == 200 and out["status"] == "ARCHIVED", out
    assert _finished(version)[-1] == "Rejected"  # ended now, not at the approval timeout


def test_an_unanswered_approval_expires_once(stack: Stack, notices: Notices) -> None:
    _create(stack, "life-expiry", deployment={"approval_timeout_s": 2})
    version = _register(stack, "life-expiry")
    wait_status(stack, "life-expiry", 1, "PENDING_APPROVAL")
    states = _finished(version, timeout_s=15)
    assert states[-1] == "Expired"
    assert wait_status(stack, "life-expiry", 1, "REJECTED")
    assert notices.about("life-expiry") == ["approval expired"]
    code, _ = api(
        stack,
        "POST",
        "/models/life-expiry/versions/1/decision",
        {"decision": "approve", "comment": "too late"},
        user="bob",
    )
    assert code == 409


def test_a_canary_that_moves_predictions_is_rolled_back(stack: Stack, notices: Notices) -> None:
    _create(stack, "life-rollback", deployment={"bake_seconds": 4, "max_prediction_shift": 0.1})
    _register(stack, "life-rollback")
    _decide(stack, "life-rollback", 1)
    execution_end(wait_status(stack, "life-rollback", 1, "APPROVED")["execution_arn"])
    challenger = _register(stack, "life-rollback", _artifact(intercept=2.5))  # far higher scores
    _decide(stack, "life-rollback", 2)
    deadline = time.monotonic() + 3
    while _model(stack, "life-rollback")["traffic"]["challenger"] != 2:
        assert time.monotonic() < deadline, "the canary never started"
        time.sleep(0.05)
    rows = reference_rows(500, seed=3)
    body = {"instances": rows, "keys": [f"c{i}" for i in range(len(rows))]}
    assert scoring(stack, "/models/life-rollback/predict", body)[0] == 200
    stack.flush()
    states = _finished(challenger, timeout_s=15)
    assert states[-1] == "RolledBack", states
    model = _model(stack, "life-rollback")
    assert model["aliases"]["production"] == 1
    assert model["traffic"]["challenger"] is None and model["traffic"]["champion"] == 1
    assert notices.about("life-rollback")[-1] == "canary rolled back"


def test_the_task_token_is_never_shown(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    _create(stack, "life-token")
    _register(stack, "life-token")
    wait_status(stack, "life-token", 1, "PENDING_APPROVAL")
    store = DynamoModelStore(boto3.client("dynamodb"), settings().need("registry_table"))
    deadline = time.monotonic() + 3
    while (token := store.task_token("life-token", 1)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    shown = [
        json.dumps(api(stack, "GET", path, user="bob")[1])
        for path in (
            "/models/life-token/versions/1",
            "/models/life-token/versions",
            "/approvals?status=pending",
            "/models/life-token/audit",
            "/audit",
            "/models/life-token",
        )
    ]
    _decide(stack, "life-token", 1)
    logged = capsys.readouterr()
    assert all(token not in text for text in shown)
    assert token not in logged.out and token not in logged.err


def test_drift_retrains_and_a_second_user_promotes_the_new_version(
    stack: Stack, notices: Notices
) -> None:
    name = "life-retrain"
    _create(
        stack,
        name,
        retrain={"on_drift": True, "cooldown_hours": 0, "min_labels": 200},
        monitoring={"schedule": "rate(1 hour)", "window_hours": 1},
    )
    _register(stack, name)
    _decide(stack, name, 1)
    execution_end(wait_status(stack, name, 1, "APPROVED")["execution_arn"])

    rows = [{**r, "tenure": r["tenure"] + 40} for r in reference_rows(800, seed=9)]  # drift
    code, scored = scoring(stack, f"/models/{name}/predict", {"instances": rows})
    assert code == 200
    request_ids = scored["request_ids"]
    labels = _truth(rows, seed=2)
    feedback = {
        "records": [{"request_id": r, "label": y} for r, y in zip(request_ids, labels, strict=True)]
    }
    code, landed = scoring(stack, f"/models/{name}/feedback", feedback)
    assert code in (200, 202), landed
    stack.flush()

    code, report = api(stack, "POST", f"/models/{name}/drift/evaluate", {})
    assert code == 200 and report["drift_detected"], report
    sfn = boto3.client("stepfunctions")
    retrain_arn = settings().need("retrain_state_machine_arn")
    deadline = time.monotonic() + 10
    while not (runs := sfn.list_executions(stateMachineArn=retrain_arn)["executions"]):
        assert time.monotonic() < deadline, "DriftDetected started no retrain"
        time.sleep(0.1)
    runs = [r for r in runs if r["name"].startswith(name)]
    [run] = runs
    finished = execution_end(run["executionArn"], timeout_s=20)
    assert finished["status"] == "SUCCEEDED", _states(run["executionArn"])

    new = wait_status(stack, name, 2, "PENDING_APPROVAL")
    assert new["created_by"] == "steward-retrain"
    lineage = new["lineage"]
    assert lineage["parent_version"] == 1
    assert lineage["trigger"] == f"drift:{report['report_id']}"
    assert lineage["data_window"] and lineage["trainer_run"] == run["name"]
    assert lineage["training_data"]["rows"] == len(rows)
    _decide(stack, name, 2)  # bob, a second user
    assert _finished(new, timeout_s=15)[-1] == "Promoted"
    assert _model(stack, name)["aliases"]["production"] == 2

    # The same event, delivered three times in all, started one retrain.
    events = boto3.client("events")
    detail = {"model": name, "version": 1, "report_id": report["report_id"], "severity": "high"}
    for _ in range(2):
        events.put_events(
            Entries=[
                {"Source": "steward", "DetailType": "DriftDetected", "Detail": json.dumps(detail)}
            ]
        )
    time.sleep(0.5)
    runs = sfn.list_executions(stateMachineArn=retrain_arn)["executions"]
    assert len([r for r in runs if r["name"].startswith(name)]) == 1


def test_retrain_by_hand_and_the_executions_of_a_model(stack: Stack) -> None:
    _create(stack, "life-manual", retrain={"min_labels": 0})
    version = _register(stack, "life-manual")
    assert api(stack, "POST", "/models/life-manual/retrain", user="bob")[0] == 403
    code, first = api(stack, "POST", "/models/life-manual/retrain")
    assert code == 202
    code, again = api(stack, "POST", "/models/life-manual/retrain")
    assert code == 202 and again == first  # the same minute: the same run
    finished = execution_end(first["execution"], timeout_s=10)
    assert finished["status"] == "SUCCEEDED"
    assert _states(first["execution"])[-1] == "Skipped"  # no production version yet
    code, listed = api(stack, "GET", "/models/life-manual/executions", user="bob")
    assert code == 200
    kinds = {(e["kind"], e["name"]) for e in listed["items"]}
    assert ("retrain", first["run"]) in kinds
    assert ("approval", version["execution_arn"].rsplit(":", 1)[1]) in kinds
    assert api(stack, "GET", "/models/absent-model/executions")[0] == 404


def test_a_retrain_schedule_starts_one_run_per_slot(stack: Stack) -> None:
    from steward import wiring
    from steward.lifecycle.retrain import Retrainer

    _create(stack, "life-sched", retrain={"schedule": "rate(1 hour)", "min_labels": 0})
    assert [
        r for r in wiring.retrainer().scheduled(wiring.registry().workflows) if "life-sched" in r
    ] == []
    later = Retrainer(
        wiring.registry(),
        wiring.retrainer().logs,
        clock=lambda: datetime.now(UTC) + timedelta(hours=2, minutes=1),
    )
    [run] = [r for r in later.scheduled(wiring.registry().workflows) if "life-sched" in r]
    assert run.startswith("life-sched-schedule-")
    assert run in later.scheduled(wiring.registry().workflows)  # the same slot, the same run
    sfn = boto3.client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=settings().need("retrain_state_machine_arn"))
    assert [e["name"] for e in runs["executions"]].count(run) == 1
