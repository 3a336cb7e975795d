"""Who may call the deployed API: SigV4 or a real Cognito authorizer on every method, the
role mapping validated at synth and handed to the functions, and no header-trusting API
outside the local platform."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.app import build_app
from infra.auth import DeploymentError
from steward.domain.role_mapping import RoleMapping
from steward.local.synth import LOCAL_CONTEXT
from tests.infra.conftest import NO_BUNDLING, Synth, synthesize

POOL = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbCdEf123"
MAPPING = {
    "principals": [{"arn": "arn:aws:iam::111122223333:role/ml-approvers", "roles": ["approver"]}],
    "identity_center": [{"permission_set": "StewardDataScientist", "roles": ["data_scientist"]}],
}


def _methods(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["HttpMethod"] != "OPTIONS"
    ]


def _function_env(template: dict[str, Any], name: str) -> list[str]:
    return [
        r["Properties"].get("Environment", {}).get("Variables", {}).get(name)
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "STEWARD_AUTH_MODE" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]


def test_every_method_is_iam_authorized_by_default(synth: Synth) -> None:
    methods = _methods(synth.template)
    assert methods and {m["AuthorizationType"] for m in methods} == {"AWS_IAM"}
    assert set(_function_env(synth.template, "STEWARD_AUTH_MODE")) == {"iam"}


@pytest.mark.parametrize(
    "context",
    [
        {"steward:authMode": "local"},  # a header-trusting API for AWS
        {"steward:authMode": "local", "steward:localPlatform": True},  # ... with bundling
        {"steward:authMode": "local", "steward:localPlatform": "false", **NO_BUNDLING},
    ],
)
def test_synth_refuses_a_header_trusting_api_outside_the_local_platform(
    context: dict[str, Any],
) -> None:
    with pytest.raises(DeploymentError, match="local platform only"):
        build_app(context=context, nag=False)


def test_the_local_platform_still_synthesizes_its_header_mode() -> None:
    _, stack = build_app(context=dict(LOCAL_CONTEXT), nag=False)
    assert stack.node.try_get_context("steward:authMode") == "local"


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        ('{"principals": [{"arn": "arn:aws:iam::*:role/Admin", "roles": ["admin"]}]}', "arn"),
        ({"principals": [{"arn": "arn:aws:iam::111122223333:role/x", "roles": ["boss"]}]}, "roles"),
        ({"cognito_groups": {"g": ["superuser"]}}, "cognito_groups"),
        ({"users": {"admin": ["admin"]}}, "users"),
        ("{not json", "not valid JSON"),
        (
            {
                "principals": [
                    {"arn": f"arn:aws:iam::111122223333:user/person-{i}", "roles": ["viewer"]}
                    for i in range(40)
                ]
            },
            "over 1500 bytes",
        ),
    ],
)
def test_synth_refuses_a_bad_role_mapping_and_names_the_problem(mapping: Any, named: str) -> None:
    with pytest.raises(DeploymentError, match=named):
        build_app(context={"steward:roleMapping": mapping, **NO_BUNDLING}, nag=False)


def test_the_role_mapping_reaches_the_functions_and_tag_rules_may_read_tags() -> None:
    mapping = {**MAPPING, "tags": [{"key": "steward-role", "value": "viewer", "roles": ["viewer"]}]}
    synth = synthesize(context={"steward:roleMapping": json.dumps(mapping)})
    assert synth.error is None, synth.violations()
    values = _function_env(synth.template, "STEWARD_ROLE_MAPPING")
    assert len(values) >= 3
    expected = RoleMapping.model_validate(mapping)
    assert all(RoleMapping.model_validate_json(v) == expected for v in values)
    readers = [
        p["Properties"]["Roles"]
        for p in synth.resources("AWS::IAM::Policy").values()
        if any(
            "iam:ListRoleTags" in _actions(statement)
            for statement in p["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    assert len(readers) == 2  # the API function and the scoring function, no one else


def test_without_tag_rules_no_function_reads_iam(synth: Synth) -> None:
    assert "iam:ListRoleTags" not in json.dumps(synth.template)


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"steward:authMode": "cognito", "steward:console": False}, "cognitoUserPoolArn"),
        ({"steward:authMode": "cognito", "steward:cognitoUserPoolArn": POOL}, "console"),
        (
            {"steward:authMode": "cognito", "steward:cognitoUserPoolArn": "pool-1"},
            "cognitoUserPoolArn",
        ),
    ],
)
def test_cognito_mode_needs_a_user_pool_and_no_sigv4_console(
    context: dict[str, Any], named: str
) -> None:
    with pytest.raises(DeploymentError, match=named):
        build_app(context={**context, **NO_BUNDLING}, nag=False)


def test_cognito_mode_puts_a_user_pool_authorizer_on_every_method() -> None:
    synth = synthesize(
        context={
            "steward:authMode": "cognito",
            "steward:cognitoUserPoolArn": POOL,
            "steward:console": False,
            "steward:roleMapping": {"cognito_groups": {"ml-approvers": ["approver"]}},
        }
    )
    assert synth.error is None, synth.violations()
    authorizers = synth.resources("AWS::ApiGateway::Authorizer")
    assert len(authorizers) == 1
    ((authorizer_id, authorizer),) = authorizers.items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["ProviderARNs"] == [POOL]
    methods = _methods(synth.template)
    assert methods and all(m["AuthorizationType"] == "COGNITO_USER_POOLS" for m in methods)
    assert all(m["AuthorizerId"] == {"Ref": authorizer_id} for m in methods)
    assert set(_function_env(synth.template, "STEWARD_AUTH_MODE")) == {"cognito"}


def test_the_readme_s_role_mappings_are_valid() -> None:
    """The three set-ups the README's deploy section shows pass synth's validation."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    keys = ('"principals"', '"identity_center"', '"cognito_groups"')
    blocks = [
        b
        for b in re.findall(r"```json\n(.*?)```", text, re.S)
        if b.lstrip().startswith("{") and any(b.lstrip()[1:].lstrip().startswith(k) for k in keys)
    ]
    blocks.append(re.findall(r"roleMapping='(.*?)'", text)[-1])
    assert len(blocks) == 3
    mappings = [RoleMapping.model_validate_json(b) for b in blocks]
    assert all(m.principals or m.identity_center or m.cognito_groups for m in mappings)


def test_cdk_synth_stops_with_one_clear_line_not_a_traceback(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    context = {"steward:roleMapping": {"cognito_groups": {"admins": ["root"]}}}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "infra.app"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.startswith("steward: invalid deployment settings: ")
    assert "role_mapping.cognito_groups.admins.0" in done.stderr
    assert "Traceback" not in done.stderr
