"""Acknowledging a cdk-nag finding always takes a written reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (``Pack-Rule[finding]``; the ``Pack::`` prefix is added)."""
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a real reason")
    if "::" not in rule_id.split("[", 1)[0]:
        rule_id = f"{rule_id.split('-', 1)[0]}::{rule_id}"
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def arn_token(resource: IConstruct) -> str:
    """How cdk-nag spells a resource's ARN in a finding id: ``<LogicalId.Arn>``."""
    stack = cdk.Stack.of(resource)
    child = resource.node.default_child
    assert isinstance(child, cdk.CfnElement), f"{resource.node.path} has no CFN resource"
    return f"<{stack.resolve(stack.get_logical_id(child))}.Arn>"
