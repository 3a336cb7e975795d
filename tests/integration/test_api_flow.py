"""The API and workflow handlers in-process on moto, driven by the CDK state machine."""

from __future__ import annotations

import json
import os

import boto3

from tests.factories import model_spec, register_body
from tests.integration.conftest import Stack
from tests.integration.support import api, execution_end, wait_status


def test_register_validate_approve_promote(stack: Stack) -> None:
    assert api(stack, "POST", "/models", model_spec("flow-a"))[0] == 201
    code, version = api(stack, "POST", "/models/flow-a/versions", register_body())
    assert code == 201 and version["version"] == 1 and version["status"] == "REGISTERED"
    assert "profile" not in version or version["profile"] is None
    pending = wait_status(stack, "flow-a", 1, "PENDING_APPROVAL")
    assert pending["validation"]["ok"] and "integrity" in pending["validation"]["checks"]

    assert api(stack, "PUT", "/models/flow-a/aliases/production", {"version": 1})[0] == 409
    assert (
        api(
            stack,
            "POST",
            "/models/flow-a/versions/1/decision",
            {"decision": "approve", "comment": "mine"},
            user="alice",
        )[0]
        == 403
    )
    code, inbox = api(stack, "GET", "/approvals?status=pending", user="bob")
    assert code == 200 and any(i["name"] == "flow-a" for i in inbox["items"])
    code, approved = api(
        stack,
        "POST",
        "/models/flow-a/versions/1/decision",
        {"decision": "approve", "comment": "evidence reviewed"},
        user="bob",
    )
    assert code == 200 and approved["status"] == "APPROVED"
    assert (
        api(
            stack,
            "POST",
            "/models/flow-a/versions/1/decision",
            {"decision": "reject", "comment": "again"},
            user="carol",
        )[0]
        == 409
    )

    execution = execution_end(version["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["decision"]["decision"] == "approve"

    code, model = api(stack, "PUT", "/models/flow-a/aliases/production", {"version": 1})
    assert code == 200 and model["aliases"]["production"] == 1
    code, trail = api(stack, "GET", "/models/flow-a/audit")
    actions = [e["action"] for e in trail["items"]]
    assert actions[:2] == ["model.created", "version.registered"] and "version.approved" in actions
    code, verified = api(stack, "GET", "/audit/verify?model=flow-a")
    assert code == 200 and verified["ok"]
    code, card = (
        0,
        stack.invoke(
            "api",
            {
                "resource": "/{proxy+}",
                "path": "/models/flow-a/versions/1/card",
                "httpMethod": "GET",
                "headers": {"Accept": "text/html"},
                "requestContext": {"stage": "t"},
                "body": None,
                "queryStringParameters": None,
                "isBase64Encoded": False,
            },
        ),
    )
    assert card["statusCode"] == 200 and "evidence reviewed" in card["body"]


def test_overwriting_the_key_does_not_change_the_pinned_artifact(stack: Stack) -> None:
    api(stack, "POST", "/models", model_spec("flow-b"))
    code, version = api(stack, "POST", "/models/flow-b/versions", register_body())
    assert code == 201
    # Overwrite the artifact's key behind the registry's back: S3 keeps the pinned version.
    s3 = boto3.client("s3")
    bucket, key = version["artifact"]["uri"][5:].split("/", 1)
    assert version["artifact"]["s3_version_id"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    wait_status(stack, "flow-b", 1, "PENDING_APPROVAL")
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"


def test_bad_input_gets_clear_4xx_and_no_traceback(stack: Stack) -> None:
    cases = [
        ("POST", "/models", {"name": "X"}, 422),
        ("POST", "/models", {"name": "ok-name", "task": "poetry"}, 422),
        ("GET", "/models/absent", None, 404),
        ("POST", "/models/absent/versions", register_body(), 404),
        ("GET", "/nowhere", None, 404),
        ("POST", "/models", model_spec("flow-c"), 201),
        ("POST", "/models", model_spec("flow-c"), 409),
        ("POST", "/models/flow-c/versions", {"flavor": "onnx"}, 422),
        ("POST", "/models/flow-c/versions", register_body(artifact=b"\x80\x04pickle"), 422),
        ("POST", "/models/flow-c/versions", {**register_body(), "artifact_b64": "%%%"}, 422),
        ("GET", "/approvals?status=done", None, 400),
        ("GET", "/models?limit=0", None, 422),
    ]
    for method, path, body, expected in cases:
        code, payload = api(stack, method, path, body)
        assert code == expected, (method, path, payload)
        if code >= 400:
            assert set(payload) == {"error", "message"}, payload
            assert "Traceback" not in payload["message"]
    assert api(stack, "POST", "/models", model_spec("flow-d"), user=None)[0] == 403
    assert api(stack, "POST", "/models", model_spec("flow-d"), user="bob")[0] == 403


def test_scheduled_audit_verification_runs_the_real_handler(stack: Stack) -> None:
    """The hourly check over every stream, on streams of its own: one intact, one edited in
    the table. Other tests' streams (some broken on purpose) are neither counted on nor
    judged, so the test passes alone and in any order."""
    intact, edited = "verify-scheduled-intact", "verify-scheduled-edited"
    for name in (intact, edited):
        assert api(stack, "POST", "/models", model_spec(name))[0] == 201
    db, table = boto3.client("dynamodb"), os.environ["STEWARD_AUDIT_TABLE"]
    key = {"stream": {"S": edited}, "seq": {"N": "1"}}
    item = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    forged = item["doc"]["S"].replace('"actor":"alice"', '"actor":"mallory"')
    assert forged != item["doc"]["S"]
    db.put_item(TableName=table, Item={**item, "doc": {"S": forged}})  # past every role
    result = stack.invoke("workflow", {"task": "verify_audit"})
    assert edited in result["broken"] and intact not in result["broken"]
    assert result["streams"] >= 2


def test_owner_defaults_to_the_caller(stack: Stack) -> None:
    spec = model_spec("owned-by-caller")
    del spec["owner"]
    code, model = api(stack, "POST", "/models", spec, user="alice")
    assert code == 201 and model["owner"] == "alice"
    assert api(stack, "GET", "/models/owned-by-caller")[1]["owner"] == "alice"
    named = {**model_spec("owned-by-carol"), "owner": "carol"}
    assert api(stack, "POST", "/models", named, user="alice")[1]["owner"] == "carol"
    code, trail = api(stack, "GET", "/models/owned-by-caller/audit")
    assert trail["items"][0]["after"]["owner"] == "alice"
