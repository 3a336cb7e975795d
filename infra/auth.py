"""Who may call the deployed API, read from CDK context and validated at synth.

``steward:authMode`` is ``iam`` (SigV4, the default) or ``cognito`` (a Cognito user pool
authorizer on every method, ``steward:cognitoUserPoolArn``). ``local`` trusts a header and
is only for the local platform, which synthesizes with ``steward:localPlatform`` and no
asset bundling (``steward.local.synth``): synth refuses it for anything else.
``steward:roleMapping`` (JSON, :class:`steward.domain.role_mapping.RoleMapping`) is the
only source of roles in AWS.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from infra.constructs.nag import acknowledge
from steward.domain.role_mapping import RoleMapping

# Lambda allows 4 KB of environment variables per function; leave room for the others.
MAX_MAPPING_BYTES = 1_500
USER_POOL_ARN = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+$")


class DeploymentError(ValueError):
    """The deployment's context is not one Steward can be deployed with."""


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["iam", "cognito", "local"] = "iam"
    role_mapping: RoleMapping = RoleMapping()
    user_pool_arn: str | None = None
    local_platform: bool = False
    console: bool = True

    @model_validator(mode="after")
    def _coherent(self) -> AuthSettings:
        if self.mode == "local" and not self.local_platform:
            raise ValueError(
                "steward:authMode=local makes an API that trusts a header naming the caller: "
                "it is for the local platform only (steward local). Deploy with "
                "steward:authMode=iam (the default) or cognito"
            )
        if self.mode == "cognito":
            if not self.user_pool_arn or not USER_POOL_ARN.match(self.user_pool_arn):
                raise ValueError(
                    "steward:authMode=cognito needs steward:cognitoUserPoolArn "
                    "(arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID)"
                )
            if self.console:
                raise ValueError(
                    "the web console signs requests with SigV4 (IAM): with "
                    "steward:authMode=cognito deploy with -c steward:console=false"
                )
        if len(self.mapping_json()) > MAX_MAPPING_BYTES:
            raise ValueError(
                f"steward:roleMapping is over {MAX_MAPPING_BYTES} bytes: use ARN patterns, "
                "Identity Center permission sets or tags rather than one rule per person"
            )
        return self

    def mapping_json(self) -> str:
        return self.role_mapping.model_dump_json(exclude_defaults=True)


def _json(value: Any) -> Any:
    """A context value given on the command line (``-c key=...``) is a string."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else {}
        except ValueError:
            raise DeploymentError("steward:roleMapping is not valid JSON") from None
    return value if value is not None else {}


def auth_settings(context: Any) -> AuthSettings:
    """From the app's context (``node.try_get_context``); :class:`DeploymentError` with
    every problem named if the deployment cannot be built as asked."""
    bundling = context("aws:cdk:bundling-stacks")
    local = str(context("steward:localPlatform")).lower() == "true" and bundling == []
    try:
        return AuthSettings(
            mode=str(context("steward:authMode") or "iam"),
            role_mapping=_json(context("steward:roleMapping")),
            user_pool_arn=context("steward:cognitoUserPoolArn"),
            local_platform=local,
            console=str(context("steward:console")).lower() != "false",
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise DeploymentError("invalid deployment settings: " + "; ".join(problems)) from None


def grant_read_principal_tags(role: iam.IRole) -> None:
    """Read the IAM tags of whichever user or role calls (the mapping's tag rules)."""
    stack = cdk.Stack.of(role)
    arn = f"arn:{stack.partition}:iam::{stack.account}"
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:ListRoleTags", "iam:ListUserTags"],
            resources=[f"{arn}:role/*", f"{arn}:user/*"],
        )
    )
    for kind in ("role", "user"):
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/*]",
            "The caller may be any IAM role or user of the account: only its tags are read, "
            "for the deployment's role-mapping tag rules.",
        )
