"""The security gates: cdk-nag (AwsSolutions, Serverless), template properties, and proof
that each gate fails when the property is broken."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from infra.constructs.function import StewardFunction
from infra.constructs.registry import Registry
from infra.stack import StewardStack
from tests.infra import checks
from tests.infra.conftest import Synth, synthesize


def test_cdk_nag_has_no_unacknowledged_findings(synth: Synth) -> None:
    assert synth.error is None, synth.violations()
    assert synth.violations() == []
    names = {p["pluginName"] for p in synth.report.get("pluginReports", [])}
    assert {"AwsSolutions", "Serverless"} <= names


def test_every_bucket_is_encrypted_versioned_private_and_ssl_only(synth: Synth) -> None:
    assert synth.resources("AWS::S3::Bucket")
    assert checks.bucket_problems(synth.template) == []


def test_no_role_allows_wildcard_actions(synth: Synth) -> None:
    assert checks.wildcard_actions(synth.template) == []


def test_tables_functions_and_schedules(synth: Synth) -> None:
    assert checks.table_problems(synth.template) == []
    assert checks.function_problems(synth.template) == []
    assert checks.async_targets_without_dlq(synth.template) == []


def test_audit_table_is_put_only_for_every_role(synth: Synth) -> None:
    audit = next(
        k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith("RegistryAudit")
    )
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            if any(audit in str(r) for r in resources):
                actions = (
                    statement["Action"]
                    if isinstance(statement["Action"], list)
                    else [statement["Action"]]
                )
                assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} & set(actions)


def _registry(stack: StewardStack) -> Registry:
    return next(c for c in stack.node.children if isinstance(c, Registry))


def test_gate_fails_when_a_bucket_loses_encryption() -> None:
    def unencrypt(stack: StewardStack) -> None:
        bucket = _registry(stack).artifacts.node.default_child
        bucket.add_property_deletion_override("BucketEncryption")  # type: ignore[union-attr]

    broken = synthesize(unencrypt)
    # cdk-nag dropped its S3 encryption rule (S3 encrypts by default); this gate is ours.
    assert any("not encrypted" in p for p in checks.bucket_problems(broken.template))


def test_gate_fails_when_a_role_gains_a_wildcard_action() -> None:
    def widen(stack: StewardStack) -> None:
        fn = next(c for c in stack.node.children if isinstance(c, StewardFunction))
        fn.role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))

    broken = synthesize(widen)
    assert broken.error is not None
    assert any("s3:*" in p for p in checks.wildcard_actions(broken.template))
    assert any("Action::s3:*" in rule for rule, _ in broken.violations())


def test_gate_fails_when_a_consumed_queue_has_no_dlq() -> None:
    template = {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "M": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Q", "Arn"]}},
            },
        }
    }
    assert checks.async_targets_without_dlq(template) == [
        "M: its queue Q has no DLQ",
        "M: no partial batch failures",
    ]
