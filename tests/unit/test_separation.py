"""Separation of duties covers policy: what lets a version reach production without a
person (a low risk tier, auto-approval, the gates) is loosened only by an approver or an
admin, with the field named in the refusal and the change audited with before and after."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.domain.errors import Forbidden, NotFound
from steward.domain.identity import UserDirectory
from steward.domain.models import DeploymentPolicy, ModelSpec, RiskTier
from steward.domain.separation import loosened_fields
from steward.registry.requests import ModelUpdate
from steward.registry.service import Registry
from tests.factories import model_spec


def _create(registry: Registry, users: UserDirectory, who: str = "alice", **spec: Any) -> None:
    registry.create_model(ModelSpec.model_validate(model_spec(**spec)), users.identify(who))


def _patch(registry: Registry, users: UserDirectory, who: str, body: dict[str, Any]) -> Any:
    return registry.update_model("churn", ModelUpdate.model_validate(body), users.identify(who))


AUTO = {"auto_approve_low_risk": True, "auto_deploy": False}


def test_a_data_scientist_cannot_create_a_model_that_approves_itself(
    registry: Registry, users: UserDirectory
) -> None:
    with pytest.raises(Forbidden, match=r"risk_tier.*deployment\.auto_approve_low_risk"):
        _create(registry, users, risk_tier="low", deployment=AUTO)
    with pytest.raises(Forbidden, match="risk_tier"):
        _create(registry, users, risk_tier="low")
    with pytest.raises(NotFound):
        registry.get_model("churn")
    assert list(registry.audit_log.all_events("churn")) == []
    _create(registry, users, "admin", risk_tier="low", deployment=AUTO)
    model = registry.get_model("churn")
    assert model.risk_tier is RiskTier.LOW and model.deployment.auto_approve_low_risk


def test_a_data_scientist_may_create_stricter_than_the_defaults(
    registry: Registry, users: UserDirectory
) -> None:
    _create(registry, users, risk_tier="high", deployment={"gates": {"min_auc": 0.8}})
    assert registry.get_model("churn").risk_tier is RiskTier.HIGH


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"risk_tier": "low"}, "risk_tier"),
        ({"risk_tier": "medium"}, "risk_tier"),
        ({"deployment": {"auto_approve_low_risk": True}}, "deployment.auto_approve_low_risk"),
        ({"deployment": {"gates": {}}}, "deployment.gates.auc"),
        ({"deployment": {"gates": {"auc": 0.2, "min_auc": 0.8}}}, "deployment.gates.auc"),
        ({"deployment": {"gates": {"auc": 0.02, "min_auc": 0.5}}}, "deployment.gates.min_auc"),
        ({"deployment": {"gates": {"auc": 0.02, "min_auc": 0.8, "max_rmse": 9}}}, "max_rmse"),
    ],
)
def test_loosening_takes_an_approver_and_names_the_field(
    registry: Registry, users: UserDirectory, body: dict[str, Any], field: str
) -> None:
    gates = {"auc": 0.02, "min_auc": 0.8, "max_rmse": 3.0}
    _create(registry, users, "admin", risk_tier="high", deployment={"gates": gates})
    before = registry.get_model("churn")
    with pytest.raises(Forbidden, match=field.replace(".", r"\.")):
        _patch(registry, users, "alice", body)
    for who in ("viewer", "app", "mallory"):
        with pytest.raises(Forbidden):
            _patch(registry, users, who, body)
    assert registry.get_model("churn").rev == before.rev
    after = _patch(registry, users, "bob", {**body, "reason": "reviewed"})
    event = list(registry.audit_log.all_events("churn"))[-1]
    assert event.actor == "bob" and event.action == "model.updated"
    assert event.reason == "reviewed"
    if "risk_tier" in body:
        assert event.before == {"risk_tier": "high"}
        assert event.after == {"risk_tier": body["risk_tier"]}
        assert after.risk_tier.value == body["risk_tier"]
    else:
        assert event.before["deployment"]["gates"] == gates
        assert event.after["deployment"] == after.deployment.model_dump(mode="json")


@pytest.mark.parametrize(
    "body",
    [
        {"risk_tier": "high"},
        {"deployment": {"gates": {"auc": 0.01, "min_auc": 0.9, "max_rmse": 2.0}}},
        {"deployment": {"gates": {"auc": 0.02, "min_auc": 0.8, "max_rmse": 3.0, "min_f1": 0.5}}},
    ],
)
def test_a_data_scientist_may_tighten(
    registry: Registry, users: UserDirectory, body: dict[str, Any]
) -> None:
    deployment = {**AUTO, "gates": {"auc": 0.02, "min_auc": 0.8, "max_rmse": 3.0}}
    _create(registry, users, "admin", risk_tier="medium", deployment=deployment)
    _patch(registry, users, "alice", body)


POLICIES = st.builds(
    DeploymentPolicy,
    auto_approve_low_risk=st.booleans(),
    gates=st.dictionaries(
        st.sampled_from(["auc", "min_auc", "max_rmse", "accuracy"]),
        st.floats(0, 1, allow_nan=False),
        max_size=4,
    ),
)


@given(st.sampled_from(list(RiskTier)), POLICIES, st.sampled_from(list(RiskTier)), POLICIES)
def test_a_change_and_its_undo_never_both_loosen(
    risk_a: RiskTier, policy_a: DeploymentPolicy, risk_b: RiskTier, policy_b: DeploymentPolicy
) -> None:
    """Each field moves one way or the other: what loosens going a -> b tightens coming back,
    and an unchanged policy loosens nothing."""
    there = set(loosened_fields(risk_a, policy_a, risk_b, policy_b))
    back = set(loosened_fields(risk_b, policy_b, risk_a, policy_a))
    assert not there & back
    assert loosened_fields(risk_a, policy_a, risk_a, policy_a) == []
