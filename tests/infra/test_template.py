"""cfn-lint, logical-ID stability of stateful resources, and the wiring of the template."""

from __future__ import annotations

import json
from typing import Any

from cfnlint.api import lint_all

from tests.infra.conftest import Synth

# Renaming a stateful resource's logical ID replaces it: data loss. Change these on purpose only.
STATEFUL_IDS = {
    "RegistryTableDB777839": "AWS::DynamoDB::Table",
    "RegistryAudit602F5C11": "AWS::DynamoDB::Table",
    "RegistryArtifacts7C2929DE": "AWS::S3::Bucket",
    "AccessLogs8B620ECA": "AWS::S3::Bucket",
    "GovernanceAuditCopyFF378A50": "AWS::S3::Bucket",  # compliance-locked: never replaced
}


# CloudFront belongs to the aws partition: GovCloud and China deploy with
# `-c steward:console=false`, which leaves the Console (the only CloudFront user) out.
NO_CLOUDFRONT = ("us-gov-", "cn-")


# CodeBuild is not offered in a few young regions: there, `-c steward:codebuildTrainer=false`
# leaves the codebuild trainer backend out (the retrain machine's other branches stay).
NO_CODEBUILD = ("ap-east-2", "ca-west-1", "mx-central-1")


def _outside_cloudfront(match: Any) -> bool:
    return match.rule.id == "E3006" and (
        (
            "AWS::CloudFront::" in match.message
            and any(f"'{p}" in match.message for p in NO_CLOUDFRONT)
        )
        or (
            "AWS::CodeBuild::" in match.message
            and any(f"'{r}'" in match.message for r in NO_CODEBUILD)
        )
    )


def test_cfn_lint_has_no_errors(synth: Synth) -> None:
    matches = lint_all(json.dumps(synth.template))
    errors = [
        f"{m.rule.id} {m.message}"
        for m in matches
        if m.rule.id.startswith("E") and not _outside_cloudfront(m)
    ]
    assert errors == []


def test_without_the_console_no_cloudfront_at_all() -> None:
    from tests.infra.conftest import synthesize

    bare = synthesize(context={"steward:console": "false"})
    assert bare.error is None, bare.violations()
    assert not [r for r in bare.template["Resources"].values() if "CloudFront" in r["Type"]]
    assert "ConsoleUrl" not in bare.template["Outputs"]


def test_stateful_logical_ids_are_stable(synth: Synth) -> None:
    for logical_id, kind in STATEFUL_IDS.items():
        assert synth.template["Resources"][logical_id]["Type"] == kind


def test_every_function_names_its_source_folder(synth: Synth) -> None:
    from infra.constructs.bundling import FUNCTIONS

    for logical_id, fn in synth.resources("AWS::Lambda::Function").items():
        tags = {t["Key"]: t["Value"] for t in fn["Properties"].get("Tags", [])}
        if logical_id.startswith("CustomCDKBucketDeployment"):
            assert "steward:source" not in tags  # the CDK's own handler (console files)
            continue
        assert (FUNCTIONS / tags["steward:source"] / "handler.py").is_file()


def test_state_machines_log_everything_and_trace(synth: Synth) -> None:
    machines = synth.resources("AWS::StepFunctions::StateMachine").values()
    assert len(machines) >= 2  # approval and retrain
    for machine in machines:
        assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
        # Execution data (the task token among it) never reaches the logs.
        assert machine["Properties"]["LoggingConfiguration"]["IncludeExecutionData"] is False
        assert machine["Properties"]["TracingConfiguration"]["Enabled"] is True
    texts = [json.dumps(m["Properties"]["DefinitionString"]) for m in machines]
    assert sum("waitForTaskToken" in t for t in texts) == 1


def test_heavy_flavors_go_to_an_image_function_only_the_scoring_function_invokes(
    synth: Synth,
) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    (image_id,) = [
        k
        for k, f in functions.items()
        if f["Properties"].get("PackageType") == "Image"
        and {"Key": "steward:source", "Value": "scoring"} in f["Properties"]["Tags"]
    ]
    image = functions[image_id]["Properties"]
    assert image["ImageConfig"]["Command"] == ["handler.handler"]
    assert image["TracingConfig"]["Mode"] == "Active"
    forwarding = [
        f["Properties"]
        for f in functions.values()
        if f["Properties"]["Environment"]["Variables"].get("STEWARD_IMAGE_SCORING_FUNCTION")
        == {"Ref": image_id}
    ]
    assert len(forwarding) == 1 and "Layers" in forwarding[0]  # the zip scoring function
    invokers = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            invokes = "lambda:InvokeFunction" in (
                actions if isinstance(actions, list) else [actions]
            )
            if invokes and statement["Resource"] == {"Fn::GetAtt": [image_id, "Arn"]}:
                invokers += [r["Ref"] for r in policy["Properties"]["Roles"]]
    assert invokers == [forwarding[0]["Role"]["Fn::GetAtt"][0]]
