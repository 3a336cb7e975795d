"""Tamper evidence and no silent loss, as the template builds them: the write-once audit copy
and who can touch it, IAM conditions on the tables, the log queue's visibility timeout,
alarms that notify someone, the redrive's narrow grants, and the model runtimes of the
workflow steps that load models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from infra.constructs.governance import AUDIT_RETENTION_YEARS
from steward.dispatch import MODELS, TASKS
from tests.infra.conftest import Synth, synthesize
from tests.infra.test_state_machines import _definitions

ROOT = Path(__file__).resolve().parents[2]
MODEL_LOADING_TASKS = {name for name, task in TASKS.items() if task.needs == MODELS}
# The libraries a model of each flavor needs where it is loaded.
MODEL_RUNTIMES = {"onnxruntime", "scikit-learn", "skops"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _one(synth: Synth, kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in synth.resources(kind).items() if k.startswith(prefix)]
    return found


def _statements(synth: Synth) -> list[tuple[list[str], dict[str, Any]]]:
    """(roles, statement) of every identity policy."""
    out = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"].get("Roles", [])]
        out += [(roles, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    return out


def _mentions(statement: dict[str, Any], logical_id: str) -> bool:
    return any(logical_id in str(r) for r in _as_list(statement["Resource"]))


def test_artifacts_lock_in_governance_mode_and_the_audit_copy_in_compliance(synth: Synth) -> None:
    modes = {
        k: b["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
        for k, b in synth.resources("AWS::S3::Bucket").items()
        if b["Properties"].get("ObjectLockEnabled")
    }
    assert {k.split("A")[0] for k in modes} >= {"Registry"}
    (artifacts,) = [v for k, v in modes.items() if k.startswith("RegistryArtifacts")]
    (copy,) = [v for k, v in modes.items() if k.startswith("GovernanceAuditCopy")]
    assert artifacts["Mode"] == "GOVERNANCE"
    assert copy == {"Mode": "COMPLIANCE", "Days": 365 * AUDIT_RETENTION_YEARS}


def test_audit_retention_is_set_by_context() -> None:
    seven = synthesize(context={"steward:auditRetentionYears": "7"})
    _, copy = _one(seven, "AWS::S3::Bucket", "GovernanceAuditCopy")
    retention = copy["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention == {"Mode": "COMPLIANCE", "Days": 365 * 7}


def test_only_the_archiver_writes_the_copy_and_nobody_deletes_or_overwrites(
    synth: Synth,
) -> None:
    copy_id, _ = _one(synth, "AWS::S3::Bucket", "GovernanceAuditCopy")
    archiver_role, _ = _one(synth, "AWS::IAM::Role", "GovernanceArchiverRole")
    writers = {
        role
        for roles, s in _statements(synth)
        if _mentions(s, copy_id)
        and {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"}
        & set(_as_list(s["Action"]))
        for role in roles
    }
    assert writers == {archiver_role}
    archiver_actions = {
        a
        for roles, s in _statements(synth)
        if archiver_role in roles and _mentions(s, copy_id)
        for a in _as_list(s["Action"])
    }
    assert archiver_actions == {"s3:PutObject"}
    _, policy = next(
        (k, p)
        for k, p in synth.resources("AWS::S3::BucketPolicy").items()
        if p["Properties"]["Bucket"] == {"Ref": copy_id}
    )
    denials = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    everyone = [s for s in denials if s["Principal"] == {"AWS": "*"} and "Condition" not in s]
    denied = {a for s in everyone for a in _as_list(s["Action"])}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"} <= denied
    assert {"s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration"} <= denied
    conditions = [s["Condition"] for s in denials if s.get("Action") == "s3:PutObject"]
    assert {"Null": {"s3:if-none-match": "true"}} in conditions  # no overwrite, even by it
    assert any(
        c.get("ArnNotEquals", {}).get("aws:PrincipalArn") == {"Fn::GetAtt": [archiver_role, "Arn"]}
        for c in conditions
    )


def test_the_archiver_reads_only_the_audit_stream(synth: Synth) -> None:
    archiver, _ = _one(synth, "AWS::Lambda::Function", "GovernanceArchiverFunction")
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": archiver}
    ]
    audit, table = _one(synth, "AWS::DynamoDB::Table", "RegistryAudit")
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [audit, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BisectBatchOnFunctionError"] is True
    assert "ReportBatchItemFailures" in mapping["FunctionResponseTypes"]
    assert "OnFailure" in mapping["DestinationConfig"]
    # No one may invoke it but its event source: no resource policy grants an invoke.
    permissions = synth.resources("AWS::Lambda::Permission").values()
    assert not [p for p in permissions if archiver in str(p["Properties"]["FunctionName"])]


def test_audit_reads_use_a_time_index(synth: Synth) -> None:
    _, table = _one(synth, "AWS::DynamoDB::Table", "RegistryAudit")
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-time"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["trail", "at"]


def test_table_writes_are_narrowed_by_iam_conditions(synth: Synth) -> None:
    audit, _ = _one(synth, "AWS::DynamoDB::Table", "RegistryAudit")
    registry, _ = _one(synth, "AWS::DynamoDB::Table", "RegistryTable")
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}
    checked = 0
    for _, statement in _statements(synth):
        actions = set(_as_list(statement["Action"]))
        if not actions & writes:
            continue
        condition = statement.get("Condition", {})
        if _mentions(statement, audit):
            checked += 1
            assert actions == {"dynamodb:PutItem"}
            allowed = condition["ForAllValues:StringEquals"]["dynamodb:Attributes"]
            assert set(allowed) == {"stream", "seq", "doc", "trail", "at"}
        elif _mentions(statement, registry):
            checked += 1
            leading = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            assert leading == ["MODEL#*"]
    assert checked >= 9  # api, tasks, image tasks, lifecycle: both tables; drift: registry


def test_log_queue_visibility_is_six_times_the_writers_timeout(synth: Synth) -> None:
    _, fn = _one(synth, "AWS::Lambda::Function", "ScoringWriterFunction")
    _, queue = _one(synth, "AWS::SQS::Queue", "ScoringLogQueue")
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * fn["Properties"]["Timeout"]


def test_every_alarm_notifies_the_alarm_topic(synth: Synth) -> None:
    topic, _ = _one(synth, "AWS::SNS::Topic", "Alarms")
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 12
    silent = [
        k
        for k, a in alarms.items()
        if {"Ref": topic} not in a["Properties"].get("AlarmActions", [])
        or {"Ref": topic} not in a["Properties"].get("OKActions", [])
    ]
    assert silent == []
    assert synth.template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": topic}
    names = {k.split("A")[0] for k in alarms}
    assert any(k.startswith("GovernanceAuditTampered") for k in alarms), names
    # CloudWatch cannot use the AWS-managed SNS key: the topic's own key lets it.
    key_id, key = _one(synth, "AWS::KMS::Key", "AlarmsKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    principals = [
        s.get("Principal", {}).get("Service") for s in key["Properties"]["KeyPolicy"]["Statement"]
    ]
    assert "cloudwatch.amazonaws.com" in principals
    topic_props = synth.resources("AWS::SNS::Topic")[topic]["Properties"]
    assert topic_props["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_alarm_email_subscribes_when_given() -> None:
    with_mail = synthesize(context={"steward:alarmEmail": "risk@example.com"})
    (subscription,) = with_mail.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "risk@example.com"


def test_redrive_takes_from_the_dlq_and_sends_to_the_queue_only(synth: Synth) -> None:
    api_role, _ = _one(synth, "AWS::IAM::Role", "ApiFunctionRole")
    dlq, _ = _one(synth, "AWS::SQS::Queue", "ScoringLogDlq")
    queue, _ = _one(synth, "AWS::SQS::Queue", "ScoringLogQueue")
    sqs = [
        (set(_as_list(s["Action"])), s["Resource"])
        for roles, s in _statements(synth)
        if api_role in roles and any(a.startswith("sqs:") for a in _as_list(s["Action"]))
    ]
    assert sorted(sqs, key=str) == sorted(
        [
            (
                {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
                {"Fn::GetAtt": [dlq, "Arn"]},
            ),
            ({"sqs:SendMessage"}, {"Fn::GetAtt": [queue, "Arn"]}),
        ],
        key=str,
    )


def _requirements(name: str) -> set[str]:
    lines = (ROOT / "layers" / "deps" / f"{name}.txt").read_text().splitlines()
    return {re.split(r"[=<>\[ ]", line)[0].lower() for line in lines if line[:1].isalnum()}


def _shipped(synth: Synth, logical_id: str) -> set[str]:
    """The distributions a function ships: its layers' requirement files, or those its
    image's Dockerfile installs."""
    props = synth.resources("AWS::Lambda::Function")[logical_id]["Properties"]
    if props.get("PackageType") == "Image":
        dockerfile = (ROOT / "functions" / "image" / "Dockerfile").read_text()
        return set().union(
            *(_requirements(n) for n in re.findall(r"-r /tmp/deps/(\w+)\.txt", dockerfile))
        )
    shipped: set[str] = set()
    for ref in props.get("Layers", []):
        layer = re.match(r"Layers([A-Z][a-z]+)", ref["Ref"])
        assert layer, ref
        if layer.group(1) != "Steward":
            shipped |= _requirements(layer.group(1).lower())
    return shipped


def test_workflow_steps_that_load_models_ship_every_model_runtime(synth: Synth) -> None:
    """The Validate and EvaluateGates steps load a version of any flavor: the function that
    runs them must ship scikit-learn and skops (it did not: sklearn versions failed
    validation in AWS while passing locally, where every library is installed)."""
    approval = next(d for n, d in _definitions(synth).items() if n.startswith("WorkflowsApproval"))
    machine = next(
        m
        for n, m in synth.resources("AWS::StepFunctions::StateMachine").items()
        if n.startswith("WorkflowsApproval")
    )
    text = str(machine["Properties"]["DefinitionString"])
    functions = [f for f in synth.resources("AWS::Lambda::Function") if f in text]
    steps = {
        name: state
        for name, state in approval["States"].items()
        if state["Type"] == "Task" and state["Parameters"].get("task") in MODEL_LOADING_TASKS
    }
    assert {s["Parameters"]["task"] for s in steps.values()} == set(MODEL_LOADING_TASKS)
    for name, state in steps.items():
        target = state["Resource"]
        (logical_id,) = [f for f in functions if f in target]
        missing = MODEL_RUNTIMES - _shipped(synth, logical_id)
        assert missing == set(), f"{name} runs in {logical_id}, without {sorted(missing)}"
        props = synth.resources("AWS::Lambda::Function")[logical_id]["Properties"]
        tags = {t["Key"]: t["Value"] for t in props["Tags"]}
        assert tags["steward:source"] == "workflow"  # the image runs the workflow handler
