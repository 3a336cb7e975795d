"""A hypothesis state machine drives random sequences of API calls (register, decide,
promote, traffic, rollback, archive, policy changes) by random users, interleaved with the
workflow's steps (validate, gates' verdicts, expire), through the API resolver on in-memory
fakes.

After every step: ``production`` and live traffic only ever point at APPROVED versions,
no version carries a decision by its registrant, and every answer changed the model record
only as its caller was allowed to: a refusal changed nothing, a success by a caller without
the approver role loosened nothing (risk tier, auto-approval, gates), and only data
scientists and approvers changed aliases, traffic or policy at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from steward import config
from steward.adapters.memory import (
    MemoryArtifactStore,
    MemoryAuditLog,
    MemoryModelStore,
    MemoryWorkflowEngine,
)
from steward.api.app import build_app
from steward.domain.errors import StewardError
from steward.domain.identity import Role
from steward.domain.models import PRODUCTION, Model, Status
from steward.domain.separation import loosened_fields
from steward.registry.service import Registry
from tests.factories import api_event, model_spec, reference_rows, register_body
from tests.reliability.conftest import USERS, examples

NAME = "prop"
USERS_ = st.sampled_from(["admin", "alice", "bob", "carol", "viewer", "app", "mallory", None])
VERSIONS = st.integers(min_value=1, max_value=6)
BODY = register_body(reference_data={"instances": reference_rows(20)})
ROUTE_MODULES = ("models", "versions", "aliases", "audit")
GATES = st.dictionaries(
    st.sampled_from(["auc", "min_auc", "max_rmse"]), st.sampled_from([0.0, 0.05, 0.5, 1.0])
)


class Governance(RuleBasedStateMachine):
    registry: Registry
    app: Any

    @initialize()
    def start(self) -> None:
        self.registry = _REGISTRY["current"] = Registry(
            MemoryModelStore(), MemoryArtifactStore(), MemoryAuditLog(), MemoryWorkflowEngine()
        )
        self.app = _APP["app"]
        assert self.api("POST", "/models", model_spec(NAME), "alice")[0] == 201

    def api(self, method: str, path: str, body: Any, user: str | None) -> tuple[int, Any]:
        before = self.model()
        result = self.app.resolve(api_event(method, path, body, user=user), None)
        status = result["statusCode"]
        assert status < 500, result["body"]
        self.changed_only_as_allowed(before, self.model(), user, status)
        return status, json.loads(result["body"]) if result.get("body") else None

    def model(self) -> Model | None:
        try:
            return self.registry.get_model(NAME)
        except StewardError:
            return None

    @staticmethod
    def changed_only_as_allowed(
        before: Model | None, after: Model | None, user: str | None, status: int
    ) -> None:
        if before is None or after is None:
            return
        if status >= 300:
            assert after == before, (user, status)
            return
        if after.rev == before.rev:
            return
        caller = USERS.identify(user or "")
        assert caller.has(Role.DATA_SCIENTIST) or caller.has(Role.APPROVER), user
        loosened = loosened_fields(
            before.risk_tier, before.deployment, after.risk_tier, after.deployment
        )
        assert not loosened or caller.has(Role.APPROVER), (user, loosened)

    # -- API calls -------------------------------------------------------------------------

    @rule(user=USERS_)
    def register(self, user: str | None) -> None:
        status, _ = self.api("POST", f"/models/{NAME}/versions", BODY, user)
        assert status in (201, 403)

    @rule(version=VERSIONS, user=USERS_, approve=st.booleans())
    def decide(self, version: int, user: str | None, approve: bool) -> None:
        body = {"decision": "approve" if approve else "reject", "comment": "property"}
        path = f"/models/{NAME}/versions/{version}/decision"
        status, _ = self.api("POST", path, body, user)
        assert status in (200, 403, 404, 409)

    @rule(version=VERSIONS, user=USERS_, alias=st.sampled_from([PRODUCTION, "staging"]))
    def promote(self, version: int, user: str | None, alias: str) -> None:
        path = f"/models/{NAME}/aliases/{alias}"
        status, _ = self.api("PUT", path, {"version": version}, user)
        assert status in (200, 403, 404, 409)

    @rule(
        champion=VERSIONS,
        challenger=st.none() | VERSIONS,
        mode=st.sampled_from(["canary", "shadow"]),
        user=USERS_,
    )
    def traffic(self, champion: int, challenger: int | None, mode: str, user: str | None) -> None:
        body: dict[str, Any] = {"champion": champion, "mode": mode}
        if challenger is not None:
            body |= {"challenger": challenger, "challenger_percent": 10}
        status, _ = self.api("PUT", f"/models/{NAME}/traffic", body, user)
        assert status in (200, 403, 404, 409, 422)

    @rule(user=USERS_)
    def rollback(self, user: str | None) -> None:
        status, _ = self.api("POST", f"/models/{NAME}/rollback", {"reason": "property"}, user)
        assert status in (200, 403, 409)

    # -- the workflow's steps and retirement -------------------------------------------------

    @rule(version=VERSIONS, hold=st.booleans())
    def validate(self, version: int, hold: bool) -> None:
        """Validate; held, the version waits in VALIDATING for its gates' verdict."""
        with contextlib.suppress(StewardError):
            self.registry.validate(NAME, version, hold=hold)

    @rule(version=VERSIONS)
    def expire(self, version: int) -> None:
        with contextlib.suppress(StewardError):
            self.registry.expire(NAME, version)

    @rule(version=VERSIONS, user=USERS_)
    def archive(self, version: int, user: str | None) -> None:
        path = f"/models/{NAME}/versions/{version}/archive"
        status, _ = self.api("POST", path, {"comment": "property"}, user)
        assert status in (200, 403, 404, 409)

    @rule(
        user=USERS_,
        risk=st.none() | st.sampled_from(["low", "medium", "high"]),
        auto=st.booleans(),
        gates=GATES,
    )
    def policy(
        self, user: str | None, risk: str | None, auto: bool, gates: dict[str, float]
    ) -> None:
        deployment = {"auto_deploy": False, "auto_approve_low_risk": auto, "gates": gates}
        body: dict[str, Any] = {"deployment": deployment}
        if risk is not None:
            body["risk_tier"] = risk
        status, answer = self.api("PATCH", f"/models/{NAME}", body, user)
        assert status in (200, 403), answer

    @rule(version=VERSIONS)
    def gates_verdict(self, version: int) -> None:
        """The workflow's route after the gates: auto-approval when the policy allows it."""
        from steward.domain.deployment import evaluate_gates, route_approval

        with contextlib.suppress(StewardError):
            model = self.registry.get_model(NAME)
            results = evaluate_gates(model.deployment.gates, {}, None)
            verdict, reason = route_approval(model.risk_tier, model.deployment, results)
            self.registry.conclude_validation(NAME, version, verdict, reason, {})

    # -- what must always hold -------------------------------------------------------------

    @invariant()
    def production_is_approved(self) -> None:
        if not hasattr(self, "registry"):
            return
        model = self.registry.get_model(NAME)
        serving = [model.aliases.get(PRODUCTION), model.traffic.champion]
        serving.append(model.traffic.challenger)
        for number in filter(None, serving):
            status = self.registry.get_version(NAME, number).status
            assert status is Status.APPROVED, (number, status, model)

    @invariant()
    def nobody_decides_their_own_version(self) -> None:
        if not hasattr(self, "registry"):
            return
        for version in self.registry.list_versions(NAME, 50).items:
            assert all(a.actor != version.created_by for a in version.approvals)
            if version.status in (Status.APPROVED,):
                assert version.approvals and version.approvals[-1].decision == "approve"


_REGISTRY: dict[str, Registry] = {}
_APP: dict[str, Any] = {}


@pytest.fixture
def memory_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry routes served from whichever in-memory Registry the machine built."""
    import importlib

    monkeypatch.setenv("STEWARD_AUTH_MODE", "local")
    monkeypatch.delenv("STEWARD_USERS", raising=False)
    config.settings.cache_clear()
    modules = [importlib.import_module(f"steward.api.routes.{m}") for m in ROUTE_MODULES]
    for routes in modules:
        monkeypatch.setattr(routes, "registry", lambda: _REGISTRY["current"])
    routers = [m.router for m in modules] + [
        importlib.import_module("steward.api.routes.health").router
    ]
    resolvers = [r.api_resolver for r in routers]  # a new app rebinds the shared routers
    _APP["app"] = build_app(("registry",))
    yield
    for router, resolver in zip(routers, resolvers, strict=True):
        router.api_resolver = resolver
    config.settings.cache_clear()


def test_no_sequence_of_calls_puts_an_unapproved_version_in_production(memory_api: None) -> None:
    machine = settings(
        max_examples=examples(30, 400),
        stateful_step_count=examples(25, 60),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(Governance)
    machine.TestCase().runTest()
