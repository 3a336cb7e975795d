"""Separation of duties over policy: the settings that let a version reach production
without a person (a ``low`` risk tier with ``auto_approve_low_risk``, and the gates that
auto-approval trusts) are loosened only by an approver or an admin.

A data scientist may tighten them (raise the risk tier, turn auto-approval off, add or
tighten a gate) but not loosen them, so that no one both registers a version and lowers
the bar it is approved against.
"""

from __future__ import annotations

from steward.domain.errors import Forbidden
from steward.domain.identity import Identity, Role
from steward.domain.models import DeploymentPolicy, RiskTier

RISK_ORDER = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2}
# What a model is created against: a new model "changes" these defaults.
DEFAULT_RISK = RiskTier.MEDIUM


def _gate_loosened(name: str, before: float | None, after: float | None) -> bool:
    """Removing a gate loosens it; ``min_*`` loosens downwards, ``max_*`` and a tolerance
    against the champion (``"auc": 0.02``) upwards."""
    if before is None:
        return False  # a new gate only adds a check
    if after is None:
        return True
    return after < before if name.startswith("min_") else after > before


def loosened_fields(
    risk_before: RiskTier,
    deployment_before: DeploymentPolicy,
    risk_after: RiskTier,
    deployment_after: DeploymentPolicy,
) -> list[str]:
    """The policy fields a change loosens, named as in the request body."""
    fields = []
    if RISK_ORDER[risk_after] < RISK_ORDER[risk_before]:
        fields.append("risk_tier")
    if deployment_after.auto_approve_low_risk and not deployment_before.auto_approve_low_risk:
        fields.append("deployment.auto_approve_low_risk")
    old, new = deployment_before.gates, deployment_after.gates
    for name in sorted(set(old) | set(new)):
        if _gate_loosened(name, old.get(name), new.get(name)):
            fields.append(f"deployment.gates.{name}")
    return fields


def check_policy_change(
    caller: Identity,
    risk_before: RiskTier,
    deployment_before: DeploymentPolicy,
    risk_after: RiskTier,
    deployment_after: DeploymentPolicy,
) -> list[str]:
    """The loosened fields (for the audit); :class:`Forbidden` naming them unless the caller
    is an approver or admin."""
    fields = loosened_fields(risk_before, deployment_before, risk_after, deployment_after)
    if fields and not caller.has(Role.APPROVER):
        raise Forbidden(
            f"only an approver or admin may loosen {', '.join(fields)}: it lets a version "
            "reach production without a person"
        )
    return fields
