"""Who a caller is in AWS, and which Steward roles the deployment's role mapping gives them.

The mapping belongs to the deployment (CDK context ``steward:roleMapping``, validated at
synth): no name is ever matched against a built-in user list, and a principal no rule
matches has no role.

A *person* is told apart from a *role*. API Gateway hands Steward the caller's ARN only
(``requestContext.identity.userArn``: no ``aws:SourceIdentity``, no session or principal
tags), so the person is read from that ARN:

- an IAM user, a federated user, the root: the ARN itself;
- an IAM Identity Center session (role ``AWSReservedSSO_<permission set>_<suffix>``): the
  session name, which AWS sets to the Identity Center user name (the caller cannot choose
  it), so one person using two permission sets is one user;
- any other assumed role: the role (``arn:<partition>:iam::<account>:role/<name>``). Its
  session name is chosen by whoever calls ``sts:AssumeRole``, so it names nobody: everyone
  using that role is one user (the registrant of a version registered through it can never
  approve it through it). A rule with ``session_is_person`` says the role's trust policy
  fixes the session name (for example SAML's ``RoleSessionName`` attribute, or a condition
  on ``sts:RoleSessionName``): then the session name is the person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steward.domain.identity import Role

SSO_PREFIX = "AWSReservedSSO_"
ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$"
)
# A rule names one account: a wildcard account would trust any account's principals.
PATTERN = re.compile(
    r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role|federated-user)/\S+$"
)
# Permission-set names: what IAM Identity Center allows (1-32 of these characters).
PERMISSION_SET = re.compile(r"^[\w+=,.@-]{1,32}$")


@dataclass(frozen=True)
class Principal:
    """An IAM caller as its ARN describes it."""

    arn: str
    kind: str  # user | assumed-role | federated-user | root | other
    account: str
    partition: str
    name: str  # user name, role name, federated user name
    session: str = ""

    @property
    def role_arn(self) -> str | None:
        if self.kind != "assumed-role":
            return None
        return f"arn:{self.partition}:iam::{self.account}:role/{self.name}"

    @property
    def permission_set(self) -> str | None:
        """The Identity Center permission set of an ``AWSReservedSSO_<set>_<suffix>`` role."""
        if self.kind != "assumed-role" or not self.name.startswith(SSO_PREFIX):
            return None
        body = self.name[len(SSO_PREFIX) :]
        head, sep, _suffix = body.rpartition("_")
        return head if sep and head else None

    def candidates(self) -> list[str]:
        """The ARNs a rule may name this caller by (an assumed role: its role's ARN too)."""
        role = self.role_arn
        return [self.arn] if role is None else [role, self.arn]


def parse_principal(arn: str) -> Principal | None:
    match = ARN.match(arn)
    if match is None:
        return None
    partition, account, resource = match["partition"], match["account"], match["resource"]
    parts = resource.split("/")
    if not all(parts):
        return None  # AWS names no principal with an empty part
    if match["service"] == "sts" and parts[0] == "assumed-role" and len(parts) == 3:
        return Principal(arn, "assumed-role", account, partition, parts[1], parts[2])
    if match["service"] == "sts" and parts[0] == "federated-user" and len(parts) == 2:
        return Principal(arn, "federated-user", account, partition, parts[1])
    if match["service"] == "iam" and parts[0] == "user" and len(parts) >= 2:
        return Principal(arn, "user", account, partition, parts[-1])
    if match["service"] == "iam" and resource == "root":
        return Principal(arn, "root", account, partition, "root")
    return Principal(arn, "other", account, partition, parts[-1])


def _glob(pattern: str) -> re.Pattern[str]:
    """IAM-style wildcards: ``*`` any run of characters (``/`` included), ``?`` one."""
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{body}$")


Roles = list[Role]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: Roles = Field(min_length=1)


class PrincipalRule(Rule):
    """An IAM principal ARN or ARN pattern (``*``, ``?``). An assumed role matches by its
    role ARN without the role's path (``arn:aws:iam::111122223333:role/NAME``: STS drops the
    path) or by its full session ARN."""

    arn: str = Field(min_length=20, max_length=2048)
    session_is_person: bool = False

    @field_validator("arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not PATTERN.match(value):
            raise ValueError(
                "an IAM principal ARN or pattern in one account: "
                "arn:aws:iam::<12-digit account>:role/NAME or :user/NAME, "
                "or arn:aws:sts::<account>:assumed-role/NAME/SESSION"
            )
        return value

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return _glob(self.arn)


class TagRule(Rule):
    """An IAM tag on the calling user or role (read from IAM: API Gateway does not pass
    principal or session tags)."""

    key: str = Field(min_length=1, max_length=128)
    value: str = Field(min_length=0, max_length=256)


class IdentityCenterRule(Rule):
    """An IAM Identity Center permission set (assigned to groups): the callers of its
    ``AWSReservedSSO_<permission_set>_*`` role, in ``accounts`` (every account if empty)."""

    permission_set: str
    accounts: list[str] = Field(default_factory=list)

    @field_validator("permission_set")
    @classmethod
    def _set(cls, value: str) -> str:
        if not PERMISSION_SET.match(value):
            raise ValueError("a permission set name: 1-32 letters, digits or +=,.@_-")
        return value

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        for account in value:
            if not re.fullmatch(r"\d{12}", account):
                raise ValueError(f"{account!r} is not a 12-digit AWS account id")
        return value


class RoleMapping(BaseModel):
    """The deployment's mapping from callers to Steward roles (every source adds roles)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    principals: list[PrincipalRule] = Field(default_factory=list)
    tags: list[TagRule] = Field(default_factory=list)
    identity_center: list[IdentityCenterRule] = Field(default_factory=list)
    cognito_groups: dict[str, Roles] = Field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.principals or self.tags or self.identity_center or self.cognito_groups)

    def person(self, principal: Principal) -> str:
        """The user the caller is: see the module's docstring."""
        if principal.kind != "assumed-role":
            return principal.arn
        if principal.permission_set is not None or any(
            rule.session_is_person and _matches(rule, principal) for rule in self.principals
        ):
            return principal.session
        return principal.role_arn or principal.arn

    def iam_roles(self, principal: Principal, tags: dict[str, str] | None = None) -> set[Role]:
        roles: set[Role] = set()
        for rule in self.principals:
            if _matches(rule, principal):
                roles.update(rule.roles)
        permission_set = principal.permission_set
        for sso in self.identity_center:
            if sso.permission_set == permission_set and (
                not sso.accounts or principal.account in sso.accounts
            ):
                roles.update(sso.roles)
        for tag in self.tags:
            if tags is not None and tags.get(tag.key) == tag.value:
                roles.update(tag.roles)
        return roles

    def cognito_roles(self, groups: list[str]) -> set[Role]:
        roles: set[Role] = set()
        for group in groups:
            roles.update(self.cognito_groups.get(group, []))
        return roles


def _matches(rule: PrincipalRule, principal: Principal) -> bool:
    return any(rule.regex.match(arn) for arn in principal.candidates())
