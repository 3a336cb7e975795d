"""The role mapping's tag rules read the calling role's or user's IAM tags (API Gateway
passes none), on moto's IAM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from steward.adapters.aws.iam import IamPrincipalTags
from steward.api.auth import identity_from_event
from steward.config import Settings
from steward.domain.identity import Role
from steward.domain.role_mapping import parse_principal

ACCOUNT = "123456789012"  # moto's account
MAPPING = {"tags": [{"key": "steward-role", "value": "approver", "roles": ["approver"]}]}
TRUST = '{"Version": "2012-10-17", "Statement": []}'


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        tag = [{"Key": "steward-role", "Value": "approver"}]
        client.create_role(RoleName="reviewers", AssumeRolePolicyDocument=TRUST, Tags=tag)
        client.create_role(RoleName="others", AssumeRolePolicyDocument=TRUST)
        client.create_user(UserName="carol", Tags=tag)
        yield client
        # Inside the suite's shared moto (a session-wide mock), IAM outlives this context.
        client.delete_role(RoleName="reviewers")
        client.delete_role(RoleName="others")
        client.delete_user(UserName="carol")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _who(arn: str, tags: IamPrincipalTags) -> Any:
    event = {"requestContext": {"identity": {"userArn": arn}}}
    return identity_from_event(event, Settings(auth_mode="iam", role_mapping=MAPPING), tags)


def test_tagged_roles_and_users_get_the_tag_rules_roles(iam: Any) -> None:
    tags = IamPrincipalTags(iam)
    sts = f"arn:aws:sts::{ACCOUNT}:assumed-role"
    assert _who(f"{sts}/reviewers/anyone", tags).roles == {Role.APPROVER}
    assert _who(f"arn:aws:iam::{ACCOUNT}:user/carol", tags).roles == {Role.APPROVER}
    assert _who(f"{sts}/others/anyone", tags).roles == frozenset()
    assert _who(f"{sts}/deleted-role/x", tags).roles == frozenset()  # NoSuchEntity: no tags
    assert _who(f"arn:aws:sts::{ACCOUNT}:federated-user/reviewers", tags).roles == frozenset()


def test_tags_are_cached_for_a_minute(iam: Any) -> None:
    clock = Clock()
    tags = IamPrincipalTags(iam, clock=clock)
    principal = parse_principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/reviewers/s")
    assert principal is not None
    assert tags(principal) == {"steward-role": "approver"}
    iam.untag_role(RoleName="reviewers", TagKeys=["steward-role"])
    assert tags(principal) == {"steward-role": "approver"}
    clock.now += 61
    assert tags(principal) == {}
