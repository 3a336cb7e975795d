"""Faults injected into the boto3 clients of every handler (API, scoring, log writer,
workflow): throttling, AccessDenied, read timeouts and unreachable endpoints on S3, DynamoDB,
SQS, Step Functions and EventBridge.

The caller gets 503 (retryable) or 500 with a generic message, no exception text leaks, and
storage stays consistent: a registration leaves its record and its artifact, or neither; a
decision is recorded once; a prediction that was answered has its log record delivered.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from steward import wiring
from steward.local.runtime import FunctionError
from steward.polling import until
from tests.factories import model_spec, reference_rows, register_body
from tests.moto_stack import Stack
from tests.reliability.conftest import (
    Answer,
    call,
    create,
    live_artifact_keys,
    queue_depth,
    register,
    register_unstarted,
    serve,
    wait_status,
)
from tests.reliability.faults import ENDPOINT, EXPECTED_STATUS, KINDS, SECRET, Fault, injected

MESSAGES = {
    503: {"a dependency is busy; retry", "a dependency is unavailable; retry"},
    500: {"internal error"},
}


def assert_generic(answer: Answer, kind: str) -> None:
    expected = EXPECTED_STATUS[kind]
    assert answer.status == expected, (answer.status, answer.raw)
    assert answer.body["message"] in MESSAGES[expected], answer.body
    for leak in (SECRET, ENDPOINT, "Traceback", "botocore", "ClientError", "Exception"):
        assert leak not in answer.raw, answer.raw


@pytest.fixture(scope="module")
def served(stack: Stack) -> str:
    serve("faults-served")
    return "faults-served"


# -- the API function ---------------------------------------------------------------------


READS = [
    ("GET", "/models/faults-served", "dynamodb", "GetItem"),
    ("GET", "/models", "dynamodb", "Query"),
    ("GET", "/models/faults-served/versions/1", "dynamodb", "GetItem"),
    ("GET", "/approvals?status=pending", "dynamodb", "Query"),
    ("GET", "/models/faults-served/audit", "dynamodb", "Query"),
    ("GET", "/audit", "dynamodb", "Query"),  # the by-time index
    ("GET", "/audit/verify?model=faults-served", "s3", "ListObjectVersions"),  # the copy
    ("GET", "/models/faults-served/drift", "dynamodb", "Query"),
]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("method", "path", "service", "operation"), READS)
def test_reads_fail_generically(
    served: str, stack: Stack, kind: str, method: str, path: str, service: str, operation: str
) -> None:
    with injected(Fault(service, operation, kind)) as (fault,):
        answer = call(stack, method, path, user="bob")
    assert fault.injected >= 1
    assert_generic(answer, kind)


@pytest.mark.parametrize("kind", list(KINDS))
def test_create_model_fails_cleanly(stack: Stack, kind: str) -> None:
    name = f"faults-create-{kind.replace('_', '-')}"
    # the record and its inventory index entries are one transaction
    with injected(Fault("dynamodb", "TransactWriteItems", kind)):
        answer = call(stack, "POST", "/models", model_spec(name))
    assert_generic(answer, kind)
    assert call(stack, "GET", f"/models/{name}").status == 404
    assert call(stack, "POST", "/models", model_spec(name)).status == 201  # retry succeeds


REGISTRATION_FAULTS = [
    ("s3", "PutObject", 1),  # the artifact upload
    ("s3", "PutObject", 2),  # the reference sample, after the artifact landed
    ("dynamodb", "TransactWriteItems", 1),  # the record, after every object landed
]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("service", "operation", "nth"), REGISTRATION_FAULTS)
def test_registration_leaves_record_and_artifact_or_neither(
    stack: Stack, kind: str, service: str, operation: str, nth: int
) -> None:
    name = f"faults-reg-{operation.lower()[:8]}-{nth}-{kind.replace('_', '-')}"
    create(name)
    calls = {"n": 0}

    def nth_call(request: dict[str, Any]) -> bool:
        # Only this model's calls count: a workflow an earlier test started may still be
        # writing on a background thread.
        if name not in str(request):
            return False
        calls["n"] += 1
        return calls["n"] == nth

    with injected(Fault(service, operation, kind, match=nth_call)) as (fault,):
        answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    # 0 calls once: a workflow step's services, built without the fault, served the request
    # (the next two tests)
    assert fault.injected == 1, (fault.calls, answer)
    assert_generic(answer, kind)
    assert call(stack, "GET", f"/models/{name}/versions").body["items"] == []
    assert live_artifact_keys(name) == []  # neither: nothing left that no record references
    # The caller's retry registers version 1 with its objects.
    answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    assert answer.status == 201 and answer.body["version"] == 1
    assert len(live_artifact_keys(name)) == 2  # model and reference sample


# The block's own guarantee: every service the test's requests use inside it was built after
# its faults were registered, even while another thread (a workflow step of an execution an
# earlier test started) builds services at the same moment. The registration fault above
# was once never reached (0 calls) when such a build raced the block's cold start.


def test_a_service_built_across_the_block_start_is_not_kept(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background build that began before the block (no fault in its clients) and ends
    inside it: its services are its caller's, never the block's."""
    name = "faults-block-straddled"
    create(name)
    began, finish = threading.Event(), threading.Event()
    background = threading.Thread(target=wiring.registry, daemon=True)
    build = wiring._client

    def slow(service: str) -> Any:
        client = build(service)  # the session's hooks are copied into it here
        if threading.current_thread() is background:
            began.set()
            finish.wait(10)
        return client

    monkeypatch.setattr(wiring, "_client", slow)
    wiring.reset()
    background.start()
    assert began.wait(10)
    fault = Fault("dynamodb", "TransactWriteItems", "throttling", match=lambda r: name in str(r))
    with injected(fault):
        finish.set()
        background.join(10)
        answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    assert fault.injected == 1, (fault.calls, answer)
    assert_generic(answer, "throttling")


def test_a_service_built_as_the_block_starts_carries_its_faults(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background build that begins the moment the block's cold start does (the reset)
    sees the block's faults."""
    name = "faults-block-raced"
    create(name)
    reset = wiring.reset

    def reset_then_build() -> None:
        reset()
        background = threading.Thread(target=wiring.registry, daemon=True)
        background.start()
        background.join(10)

    fault = Fault("dynamodb", "TransactWriteItems", "throttling", match=lambda r: name in str(r))
    monkeypatch.setattr(wiring, "reset", reset_then_build)
    with injected(fault):
        answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    assert fault.injected == 1, (fault.calls, answer)
    assert_generic(answer, "throttling")


@pytest.mark.parametrize("kind", ["throttling", "read_timeout"])
def test_a_record_write_whose_answer_is_lost_is_read_back(stack: Stack, kind: str) -> None:
    """The record write lands but its answer is lost (a timeout after the commit): the
    registration reads the record back and carries on, keeping the artifact."""
    name = f"faults-landed-{kind.replace('_', '-')}"
    create(name)
    registry = wiring.registry()
    original = registry.store.add_version

    def add_then_fail(version: Any) -> None:
        original(version)
        raise KINDS[kind]("TransactWriteItems")

    registry.store.add_version = add_then_fail  # type: ignore[method-assign]
    try:
        answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    finally:
        del registry.store.add_version
    assert answer.status == 201 and answer.body["version"] == 1, answer.raw
    assert len(live_artifact_keys(name)) == 2
    wait_status(name, 1, "PENDING_APPROVAL")  # its workflow started


def test_a_failed_registration_that_cannot_be_read_back_withdraws_nothing(stack: Stack) -> None:
    """The record write and the read-back both fail: the record may exist, so every object
    stays (an unreferenced object is garbage; a record without its artifact is a loss)."""
    name = "faults-unknown"
    create(name)
    faults = (
        Fault("dynamodb", "TransactWriteItems", "read_timeout"),
        Fault("dynamodb", "GetItem", "read_timeout", match=lambda request: "V#" in str(request)),
    )
    with injected(*faults):
        answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    assert_generic(answer, "read_timeout")
    assert len(live_artifact_keys(name)) == 2


@pytest.mark.parametrize("kind", list(KINDS))
def test_registration_when_the_workflow_cannot_start(stack: Stack, kind: str) -> None:
    """Record and artifact both stay; the version waits for its workflow (started again by
    the same deterministic execution name, so a retry cannot start two)."""
    name = f"faults-sfn-{kind.replace('_', '-')}"
    create(name)
    with injected(Fault("sfn", "StartExecution", kind)):
        answer = call(stack, "POST", f"/models/{name}/versions", register_body())
    assert_generic(answer, kind)
    version = call(stack, "GET", f"/models/{name}/versions/1").body
    assert version["status"] == "REGISTERED"
    assert len(live_artifact_keys(name)) == 2
    wiring.registry().workflows.start_approval(name, 1)
    wiring.registry().workflows.start_approval(name, 1)  # twice is harmless
    wait_status(name, 1, "PENDING_APPROVAL")


@pytest.mark.parametrize("kind", list(KINDS))
def test_promotion_fails_cleanly(stack: Stack, kind: str) -> None:
    name = f"faults-alias-{kind.replace('_', '-')}"
    create(name)
    register(name)
    call(
        stack,
        "POST",
        f"/models/{name}/versions/1/decision",
        user="bob",
        body={"decision": "approve", "comment": "ok"},
    )
    before = call(stack, "GET", f"/models/{name}").body
    # the record's write: one UpdateItem, or a transaction when its inventory facets change
    # (the first production version does)
    record_writes = (Fault("dynamodb", op, kind) for op in ("UpdateItem", "TransactWriteItems"))
    with injected(*record_writes) as faults:
        answer = call(stack, "PUT", f"/models/{name}/aliases/production", {"version": 1})
    assert sum(f.injected for f in faults) >= 1
    assert_generic(answer, kind)
    after = call(stack, "GET", f"/models/{name}").body
    assert after["aliases"] == before["aliases"] and after["rev"] == before["rev"]
    audit = call(stack, "GET", f"/models/{name}/audit").body["items"]
    assert not any(e["action"] == "alias.set" for e in audit)


@pytest.mark.parametrize("kind", list(KINDS))
def test_decision_fails_cleanly_or_is_recorded_once(stack: Stack, kind: str) -> None:
    name = f"faults-decide-{kind.replace('_', '-')}"
    create(name)
    register(name)
    # The workflow holds its task token soon after the version is pending: a decision made
    # before that resumes the workflow when it gets there, and keeps no token (not tested here).
    until(lambda: wiring.registry().store.task_token(name, 1), 30, what=f"{name}'s task token")
    decision = {"decision": "approve", "comment": "ok"}
    path = f"/models/{name}/versions/1/decision"
    with injected(Fault("dynamodb", "PutItem", kind, times=1)):
        answer = call(stack, "POST", path, decision, user="bob")
    assert_generic(answer, kind)
    assert call(stack, "GET", f"/models/{name}/versions/1").body["status"] == "PENDING_APPROVAL"
    # Step Functions unreachable when the decision resumes the workflow: the decision is
    # recorded (it is the source of truth) and the task token is kept for a later resume.
    with injected(Fault("sfn", "SendTaskSuccess", kind)):
        answer = call(stack, "POST", path, decision, user="bob")
    assert answer.status == 200, answer.raw
    version = call(stack, "GET", f"/models/{name}/versions/1").body
    assert version["status"] == "APPROVED" and len(version["approvals"]) == 1
    assert wiring.registry().store.take_task_token(name, 1) is not None


# -- the scoring function -----------------------------------------------------------------


SCORING = [
    ("/models/faults-served/predict", {"instances": reference_rows(3)}, "dynamodb", "GetItem"),
    ("/models/faults-served/predict", {"instances": reference_rows(3)}, "sqs", "SendMessageBatch"),
    (
        "/models/faults-served/feedback",
        {"records": [{"request_id": "r-1", "label": 1}]},
        "sqs",
        "SendMessageBatch",
    ),
]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("path", "body", "service", "operation"), SCORING)
def test_scoring_fails_generically(
    served: str, stack: Stack, kind: str, path: str, body: Any, service: str, operation: str
) -> None:
    with injected(Fault(service, operation, kind)) as (fault,):
        answer = call(stack, "POST", path, body, resource=path.replace(served, "{name}"))
    assert fault.injected >= 1
    assert_generic(answer, kind)
    assert "predictions" not in (answer.body or {})  # no answer without its log record


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_cold_scorer_that_cannot_read_the_artifact_fails_generically(
    served: str, stack: Stack, kind: str
) -> None:
    path = "/models/faults-served/predict"
    with injected(Fault("s3", "GetObject", kind)) as (fault,):
        answer = call(stack, "POST", path, {"instances": reference_rows(2)})
    assert fault.injected >= 1
    assert_generic(answer, kind)
    assert call(stack, "POST", path, {"instances": reference_rows(2)}).status == 200


# -- the log writer -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_log_writer_returns_failed_messages_and_never_raises(stack: Stack, kind: str) -> None:
    records = [
        {
            "messageId": f"m-{i}",
            "body": json.dumps(
                {
                    "kind": "feedback",
                    "model": "faults-writer",
                    "ts": "2026-11-01T10:00:00+00:00",
                    "rows": 1,
                    "columns": {"request_id": [f"r-{i}"], "label": [1]},
                }
            ),
        }
        for i in range(3)
    ]
    with injected(Fault("s3", "PutObject", kind)):
        result = stack.invoke("log_writer", {"Records": records})
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == [
        "m-0",
        "m-1",
        "m-2",
    ]


# -- the workflow function ----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("service", "operation"), [("s3", "GetObject"), ("dynamodb", "PutItem")])
def test_validation_cut_short_by_a_fault_resumes_on_retry(
    stack: Stack, kind: str, service: str, operation: str
) -> None:
    name = f"faults-wf-{service}-{kind.replace('_', '-')}"
    create(name)
    number = register_unstarted(name)
    event = {"task": "validate", "input": {"name": name, "version": number}}
    # PutItem: the status write after the checks; GetObject: the artifact read.
    with injected(Fault(service, operation, kind, times=1)), pytest.raises(FunctionError):
        stack.invoke("workflow", event)
    status = wiring.registry().get_version(name, number).status.value
    assert status in ("REGISTERED", "VALIDATING")
    result = stack.invoke("workflow", event)  # Lambda's retry
    assert result["ok"] is True
    version = wiring.registry().get_version(name, number)
    # Checked, and held VALIDATING until its gates conclude (the next workflow step).
    assert version.status.value == "VALIDATING"
    assert version.validation is not None and "integrity" in version.validation.checks
    actions = [e.action for e in wiring.registry().audit_log.all_events(name)]
    assert actions.count("version.validating") == 1
    assert actions.count("version.checked") == 1


def test_every_fault_kind_reaches_every_service() -> None:
    """The matrix above covers S3, DynamoDB, SQS and Step Functions; EventBridge is the
    drift service's bus (see test_drift_event_fault)."""
    services = {s for *_, s, _ in READS} | {s for s, _, _ in REGISTRATION_FAULTS}
    services |= {s for *_, s, _ in SCORING} | {"sfn"}
    assert services == {"dynamodb", "s3", "sqs", "sfn"}


def test_drift_event_fault(stack: Stack) -> None:
    """A DriftDetected event the bus refuses: the caller gets 503/500, generically."""
    name = "faults-drift"
    serve(name)
    drifted = [{**r, "tenure": r["tenure"] + 500.0, "plan": "pro"} for r in reference_rows(300)]
    path = f"/models/{name}/predict"
    assert call(stack, "POST", path, {"instances": drifted}).status == 200
    stack.flush()
    for kind in KINDS:
        with injected(Fault("eventbridge", "PutEvents", kind)) as (fault,):
            answer = call(stack, "POST", f"/models/{name}/drift/evaluate", {})
        assert fault.injected == 1, answer.raw
        assert_generic(answer, kind)


# -- the audit archiver and the log redrive ----------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_archiver_retries_until_every_event_is_copied(stack: Stack, kind: str) -> None:
    """A copy that cannot be written leaves the stream batch to be read again: the event is
    reported pending (not lost, not divergent) until a later delivery copies it."""
    name = f"faults-archive-{kind.replace('_', '-')}"
    stack.flush_streams()
    create(name)
    with injected(Fault("s3", "PutObject", kind)) as (fault,):
        delivered = sum(p.flush() for p in stack.streams)  # on this thread: faults apply
    assert fault.injected >= 1 and delivered == 0
    pending = wiring.registry().verify_audit(name)
    assert pending.ok and pending.pending == 1 and pending.copied == 0
    stack.flush_streams()
    report = wiring.registry().verify_audit(name)
    assert report.ok and report.copied == 1 and report.pending == 0


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_redrive_that_cannot_send_keeps_every_dead_letter(stack: Stack, kind: str) -> None:
    import os

    import boto3

    sqs = boto3.client("sqs")
    dlq, queue = os.environ["STEWARD_LOG_DLQ_URL"], os.environ["STEWARD_LOG_QUEUE_URL"]
    stack.flush()
    body = json.dumps({"kind": "predictions", "model": "faults-redrive", "marker": kind})
    sqs.send_message(QueueUrl=dlq, MessageBody=body)
    with injected(Fault("sqs", "SendMessageBatch", kind)) as (fault,):
        answer = call(stack, "POST", "/logs/redrive", user="admin")
    assert fault.injected >= 1
    assert_generic(answer, kind)
    assert queue_depth(dlq) >= 1  # received, not deleted: visible again after a minute
    assert queue_depth(queue) == 0
