"""Identity in AWS: roles only from the deployment's role mapping, people told apart from
roles, and no name a caller picks for itself ever makes it someone else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from steward.api.auth import cognito_groups, identity_from_event
from steward.config import Settings
from steward.domain.identity import Role
from steward.domain.role_mapping import RoleMapping, parse_principal

ACCOUNT = "111122223333"
STS = f"arn:aws:sts::{ACCOUNT}"
MAPPING = {
    "principals": [
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/ml-approvers", "roles": ["approver"]},
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/ci-*", "roles": ["data_scientist"]},
        {"arn": f"arn:aws:iam::{ACCOUNT}:user/ops-?", "roles": ["viewer"]},
        {
            "arn": f"arn:aws:iam::{ACCOUNT}:role/saml-ds",
            "roles": ["data_scientist"],
            "session_is_person": True,
        },
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/ml-team", "roles": ["data_scientist", "approver"]},
    ],
    "identity_center": [
        {"permission_set": "StewardDataScientist", "roles": ["data_scientist"]},
        {"permission_set": "StewardApprover", "roles": ["approver"], "accounts": [ACCOUNT]},
    ],
    "cognito_groups": {"ml-approvers": ["approver"], "apps": ["application"]},
}
# The names of the local platform's built-in users: in AWS they are nobody.
BUILT_IN = ["admin", "alice", "bob", "carol", "scheduler", "viewer"]


def iam(arn: str, mapping: dict[str, Any] | None = None) -> Any:
    event = {"headers": {}, "requestContext": {"identity": {"userArn": arn}}}
    return identity_from_event(event, Settings(auth_mode="iam", role_mapping=mapping or MAPPING))


def cognito(claims: dict[str, Any]) -> Any:
    event = {"headers": {}, "requestContext": {"authorizer": {"claims": claims}}}
    return identity_from_event(event, Settings(auth_mode="cognito", role_mapping=MAPPING))


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize(
    "template",
    [
        f"{STS}:federated-user/{{}}",
        f"arn:aws:iam::{ACCOUNT}:user/{{}}",
        f"{STS}:assumed-role/{{}}/{{}}",
        f"{STS}:assumed-role/unmapped/{{}}",
    ],
)
def test_a_built_in_user_name_gives_no_role_in_aws(template: str, name: str) -> None:
    """``federated-user/admin`` (a name picked by whoever calls GetFederationToken), an IAM
    user or role named ``admin``, a session named ``admin``: none is the local admin."""
    who = iam(template.format(name, name))
    assert who.roles == frozenset(), who
    assert who.user not in BUILT_IN


def test_unmapped_principals_have_no_role_even_with_an_empty_mapping() -> None:
    for arn in (f"arn:aws:iam::{ACCOUNT}:user/admin", f"{STS}:assumed-role/Admin/admin"):
        assert iam(arn, {}).roles == frozenset()


def test_principal_arns_and_patterns_map_to_roles() -> None:
    assert iam(f"{STS}:assumed-role/ml-approvers/x").roles == {Role.APPROVER}
    assert iam(f"{STS}:assumed-role/ci-train/job-1").roles == {Role.DATA_SCIENTIST}
    assert iam(f"arn:aws:iam::{ACCOUNT}:user/ops-1").roles == {Role.VIEWER}
    assert iam(f"arn:aws:iam::{ACCOUNT}:user/ops-12").roles == frozenset()  # ? is one char
    # The same role name in another account is another principal.
    assert iam("arn:aws:sts::444455556666:assumed-role/ml-approvers/x").roles == frozenset()


@given(
    st.from_regex(r"[\w+=,.@-]{2,64}", fullmatch=True),
    st.from_regex(r"[\w+=,.@-]{2,64}", fullmatch=True),
)
def test_a_session_name_chosen_by_the_caller_names_nobody(first: str, second: str) -> None:
    """Two sessions of one ordinary role are one user (the role), whatever they call
    themselves: the registrant check compares the role, so a role holding both data
    scientist and approver never approves what it registered."""
    one = iam(f"{STS}:assumed-role/ml-team/{first}")
    two = iam(f"{STS}:assumed-role/ml-team/{second}")
    assert one.user == two.user == f"arn:aws:iam::{ACCOUNT}:role/ml-team"
    assert one.roles == {Role.DATA_SCIENTIST, Role.APPROVER}


def test_identity_center_sessions_are_people_across_permission_sets() -> None:
    """The AWSReservedSSO_* role's session name is the Identity Center user name (AWS sets
    it): two people through one permission set are two users, one person through two
    permission sets is one user (who therefore cannot approve their own version)."""
    ds = f"{STS}:assumed-role/AWSReservedSSO_StewardDataScientist_0a1b2c3d4e5f6789"
    ap = f"{STS}:assumed-role/AWSReservedSSO_StewardApprover_9f8e7d6c5b4a3210"
    alice_ds, alice_ap = iam(f"{ds}/alice@example.com"), iam(f"{ap}/alice@example.com")
    bob_ap = iam(f"{ap}/bob@example.com")
    assert alice_ds.user == alice_ap.user == "alice@example.com"
    assert bob_ap.user == "bob@example.com" != alice_ap.user
    assert alice_ds.roles == {Role.DATA_SCIENTIST} and alice_ap.roles == {Role.APPROVER}
    assert alice_ds.source == "identity-center"
    # The approver set is mapped in one account only.
    other = "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_StewardApprover_9f8e7d6c5b4a3210"
    assert iam(f"{other}/bob@example.com").roles == frozenset()
    # A permission set no rule names gives nothing.
    assert iam(f"{STS}:assumed-role/AWSReservedSSO_AdministratorAccess_0123/x").roles == set()


def test_a_role_whose_trust_policy_fixes_the_session_name_tells_people_apart() -> None:
    one = iam(f"{STS}:assumed-role/saml-ds/alice@example.com")
    two = iam(f"{STS}:assumed-role/saml-ds/bob@example.com")
    assert (one.user, two.user) == ("alice@example.com", "bob@example.com")
    assert one.roles == two.roles == {Role.DATA_SCIENTIST}


def test_iam_users_are_their_arn() -> None:
    who = iam(f"arn:aws:iam::{ACCOUNT}:user/division/ops-1")
    assert who.user == f"arn:aws:iam::{ACCOUNT}:user/division/ops-1" and who.source == "iam"


def test_tag_rules_read_the_principals_tags() -> None:
    mapping = RoleMapping.model_validate(
        {"tags": [{"key": "steward-role", "value": "approver", "roles": ["approver"]}]}
    )
    principal = parse_principal(f"{STS}:assumed-role/reviewers/s")
    assert principal is not None
    assert mapping.iam_roles(principal, {"steward-role": "approver"}) == {Role.APPROVER}
    assert mapping.iam_roles(principal, {"steward-role": "admin"}) == set()
    assert mapping.iam_roles(principal, None) == set()


def test_cognito_roles_come_from_the_mapping_not_the_group_name() -> None:
    named_admin = cognito({"cognito:username": "zed", "cognito:groups": "admin,ml-approvers"})
    assert named_admin.user == "cognito:zed" and named_admin.source == "cognito"
    assert named_admin.roles == {Role.APPROVER}  # a group called "admin" maps to nothing
    assert cognito({"cognito:username": "app1", "cognito:groups": "[apps]"}).roles == {
        Role.APPLICATION
    }
    assert cognito({}).anonymous


def test_cognito_groups_claim_shapes() -> None:
    assert cognito_groups("a,b") == ["a", "b"]
    assert cognito_groups("[a b]") == ["a", "b"]
    assert cognito_groups(["a"]) == ["a"]
    assert cognito_groups(None) == []


@pytest.mark.parametrize(
    "mapping",
    [
        {"principals": [{"arn": "arn:aws:iam::*:role/Admin", "roles": ["admin"]}]},
        {"principals": [{"arn": "*", "roles": ["admin"]}]},
        {"principals": [{"arn": f"arn:aws:iam::{ACCOUNT}:role/x", "roles": ["root"]}]},
        {"principals": [{"arn": f"arn:aws:iam::{ACCOUNT}:role/x", "roles": []}]},
        {"identity_center": [{"permission_set": "has space", "roles": ["viewer"]}]},
        {"cognito_groups": {"g": ["superuser"]}},
        {"users": {"admin": ["admin"]}},
    ],
)
def test_a_bad_mapping_is_refused(mapping: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RoleMapping.model_validate(mapping)


def test_the_mapping_is_read_from_the_environment() -> None:
    import json

    env = {"STEWARD_AUTH_MODE": "iam", "STEWARD_ROLE_MAPPING": json.dumps(MAPPING)}
    assert Settings.from_env(env).role_mapping == RoleMapping.model_validate(MAPPING)
    assert Settings.from_env({}).role_mapping.empty


NAMES = st.from_regex(r"[\w+=,.@-]{1,64}", fullmatch=True)
ACCOUNTS = st.from_regex(r"\d{12}", fullmatch=True)


@given(ACCOUNTS, NAMES, NAMES, st.sampled_from(["aws", "aws-us-gov", "aws-cn"]))
def test_assumed_role_arns_parse_back_to_their_parts(
    account: str, role: str, session: str, partition: str
) -> None:
    principal = parse_principal(f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}")
    assert principal is not None
    assert (principal.kind, principal.account, principal.name, principal.session) == (
        "assumed-role",
        account,
        role,
        session,
    )
    assert principal.role_arn == f"arn:{partition}:iam::{account}:role/{role}"


@given(st.text(max_size=200))
def test_any_user_arn_text_is_someone_without_a_role_or_nobody(text: str) -> None:
    """Whatever API Gateway's context says, identification never fails: text that is no IAM
    principal ARN is nobody, and an empty mapping gives no role."""
    who = iam(text, {})
    assert who.roles == frozenset()
    assert who.anonymous == (parse_principal(text) is None)
