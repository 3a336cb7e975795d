"""The AWS trainer backends in the template: the retrain machine picks the branch from the
staged backend, every wait is bounded (and the build's sends heartbeats), and each trainer's
role reads only the runs' input prefix and writes only their output prefix."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synth
from tests.infra.test_state_machines import _definitions

INPUT, OUTPUT = "/training/*/input/*", "/training/*/output/*"
ARTIFACTS = "RegistryArtifacts"


def _retrain(synth: Synth) -> dict[str, Any]:
    [found] = [d for name, d in _definitions(synth).items() if name.startswith("WorkflowsRetrain")]
    return found


def _statements(synth: Synth, role_prefix: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the role whose logical id starts so."""
    roles = [k for k in synth.resources("AWS::IAM::Role") if k.startswith(role_prefix)]
    assert len(roles) == 1, (role_prefix, roles)
    found: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": roles[0]} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _s3_resource(statement: dict[str, Any]) -> str:
    """``<bucket logical id><suffix>`` of an ``arn_for_objects`` resource."""
    joined = statement["Resource"]["Fn::Join"][1]
    return f"{joined[0]['Fn::GetAtt'][0]}{joined[1]}"


def test_the_machine_picks_the_backend_from_the_staged_trainer(synth: Synth) -> None:
    states = _retrain(synth)["States"]
    assert states["PrepareTrainingSet"]["Next"] == "StageTrainer"
    assert states["StageTrainer"]["Next"] == "Backend?"
    choice = states["Backend?"]
    branches = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    assert all(c["Variable"] == "$.staged.backend" for c in choice["Choices"])
    assert branches == {
        "lambda": "TrainOnLambda",
        "codebuild": "TrainOnCodeBuild",
        "sagemaker": "TrainOnSageMaker",
    }
    assert choice["Default"] == "Train"  # builtin and local
    assert states["Train"]["Next"] == states["CollectTrainerOutput"]["Next"] == "RegisterVersion"
    resources = {
        # payload only: the function's ARN itself (Step Functions' optimised invoke)
        "TrainOnLambda": "arn:aws:lambda:us-east-1:123456789012:function:"
        + _function_id(synth, "WorkflowsTrainersLambdaFunction"),
        "TrainOnCodeBuild": "arn:aws:states:::codebuild:startBuild.sync",
        "TrainOnSageMaker": "arn:aws:states:::sagemaker:createTrainingJob.sync",
    }
    for name, resource in resources.items():
        state = states[name]
        assert state["Resource"] == resource, name
        assert state["Next"] == "CollectTrainerOutput", name
        # A failed run goes through Collect too: the trainer's own failure text is the cause.
        [catch] = state["Catch"]
        assert catch == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.trainer_error",
            "Next": "CollectTrainerOutput",
        }, name
        assert state["ResultPath"] == "$.ran", name
    sagemaker = states["TrainOnSageMaker"]["Parameters"]
    assert sagemaker["TrainingJobName.$"] == "$.staged.request.TrainingJobName"
    assert sagemaker["InputDataConfig.$"] == "$.staged.request.InputDataConfig"
    assert "SageMakerRole" in json.dumps(sagemaker["RoleArn"])


def test_every_backend_wait_is_bounded_and_the_build_beats(synth: Synth) -> None:
    definition = _retrain(synth)
    states = definition["States"]
    assert states["TrainOnLambda"]["TimeoutSeconds"] == 16 * 60  # the function's 15 + 1
    for name in ("TrainOnCodeBuild", "TrainOnSageMaker"):
        assert states[name]["TimeoutSecondsPath"] == "$.staged.wait_s", name
    assert states["TrainOnCodeBuild"]["HeartbeatSeconds"] == 300
    env = states["TrainOnCodeBuild"]["Parameters"]["EnvironmentVariablesOverride"]
    assert {"Name": "STEWARD_TASK_TOKEN", "Type": "PLAINTEXT", "Value.$": "$$.Task.Token"} in env
    # The machine outlives the longest trainer a model may set (5 days) and its margin.
    assert definition["TimeoutSeconds"] > 5 * 24 * 3600 + 900


def test_trainer_roles_read_only_the_input_and_write_only_the_output(synth: Synth) -> None:
    roles = (
        "WorkflowsTrainersLambdaFunctionRole",
        "WorkflowsTrainersCodeBuildRole",
        "WorkflowsTrainersSageMakerRole",
    )
    for role in roles:
        statements = _statements(synth, role)
        s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
        granted = {(a, _s3_resource(s)) for s in s3 for a in _actions(s)}
        assert {a for a, _ in granted} == {"s3:GetObject", "s3:PutObject"}, role
        for action, resource in granted:
            assert resource.startswith(ARTIFACTS), (role, resource)
            suffix = INPUT if action == "s3:GetObject" else OUTPUT
            assert resource.endswith(suffix), (role, action, resource)
        text = json.dumps(statements)
        for service in ("dynamodb:", "states:StartExecution", "iam:PassRole", "kms:"):
            assert service not in text, (role, service)


def test_only_the_sagemaker_role_is_passed_and_only_to_sagemaker(synth: Synth) -> None:
    statements = _statements(synth, "WorkflowsRetrainRole")
    passes = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert len(passes) == 1
    [grant] = passes
    assert grant["Resource"] == {"Fn::GetAtt": [_role_id(synth, "SageMaker"), "Arn"]}
    assert grant["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    jobs = [s for s in statements if "sagemaker:CreateTrainingJob" in _actions(s)]
    assert [json.dumps(s["Resource"]).endswith(':training-job/steward-*"]]}') for s in jobs] == [
        True
    ]
    builds = [s for s in statements if "codebuild:StartBuild" in _actions(s)]
    assert builds and all("Fn::GetAtt" in json.dumps(s["Resource"]) for s in builds)


def _function_id(synth: Synth, prefix: str) -> str:
    [found] = [k for k in synth.resources("AWS::Lambda::Function") if k.startswith(prefix)]
    return found


def _role_id(synth: Synth, kind: str) -> str:
    [found] = [k for k in synth.resources("AWS::IAM::Role") if f"Trainers{kind}Role" in k]
    return found


def test_the_build_only_sends_heartbeats_to_the_retrain_machine(synth: Synth) -> None:
    statements = _statements(synth, "WorkflowsTrainersCodeBuildRole")
    beats = [s for s in statements if "states:SendTaskHeartbeat" in _actions(s)]
    assert len(beats) == 1 and _actions(beats[0]) == ["states:SendTaskHeartbeat"]
    assert ":stateMachine:" in json.dumps(beats[0]["Resource"])
    assert "-retrain" in json.dumps(beats[0]["Resource"])
    [project] = synth.resources("AWS::CodeBuild::Project").values()
    env = project["Properties"]["Environment"]
    assert env["Image"].startswith("aws/codebuild/standard:")  # a managed image: no build
    assert env["PrivilegedMode"] is False
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    [script] = spec["phases"]["build"]["commands"]
    assert "env -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in script  # not to the trainer
    assert project["Properties"]["TimeoutInMinutes"] == 36 * 60


def test_the_retrain_steps_stage_input_and_read_output(synth: Synth) -> None:
    statements = _statements(synth, "LifecycleFunctionRole")
    granted = {
        (a, _s3_resource({"Resource": r}))
        for s in statements
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        for a in _actions(s)
        if a.startswith("s3:") and "/training/" in json.dumps(r)
    }
    assert granted == {
        ("s3:PutObject", f"{_bucket(synth)}{INPUT}"),
        ("s3:GetObject", f"{_bucket(synth)}{OUTPUT}"),
    }


def _bucket(synth: Synth) -> str:
    [found] = [k for k in synth.resources("AWS::S3::Bucket") if k.startswith(ARTIFACTS)]
    return found


def test_without_codebuild_the_branch_fails_in_words() -> None:
    """Where CodeBuild is not offered: ``-c steward:codebuildTrainer=false``."""
    from tests.infra.conftest import synthesize

    bare = synthesize(context={"steward:codebuildTrainer": "false"})
    assert bare.error is None, bare.violations()
    assert not bare.resources("AWS::CodeBuild::Project")
    [definition] = [d for n, d in _definitions(bare).items() if n.startswith("WorkflowsRetrain")]
    branches = {c["StringEquals"]: c["Next"] for c in definition["States"]["Backend?"]["Choices"]}
    assert definition["States"][branches["codebuild"]]["Type"] == "Fail"
    assert "TrainOnLambda" in definition["States"] and "TrainOnSageMaker" in definition["States"]
