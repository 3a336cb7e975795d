"""A hypothesis state machine drives random sequences of API calls (register, decide,
promote, traffic, rollback) by random users, interleaved with the workflow's steps (validate,
expire) and archiving, through the API resolver on in-memory fakes.

After every step: ``production`` and live traffic only ever point at APPROVED versions,
no version carries a decision by its registrant, and every 2xx answer changed the model
record only as its caller was allowed to.
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
from steward.domain.models import PRODUCTION, Status
from steward.registry.service import Registry
from tests.factories import api_event, model_spec, reference_rows, register_body
from tests.reliability.conftest import USERS, examples

NAME = "prop"
USERS_ = st.sampled_from(["admin", "alice", "bob", "carol", "viewer", "mallory", None])
VERSIONS = st.integers(min_value=1, max_value=6)
BODY = register_body(reference_data={"instances": reference_rows(20)})
ROUTE_MODULES = ("models", "versions", "aliases", "audit")


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
        result = self.app.resolve(api_event(method, path, body, user=user), None)
        status = result["statusCode"]
        assert status < 500, result["body"]
        return status, json.loads(result["body"]) if result.get("body") else None

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

    @rule(version=VERSIONS)
    def validate(self, version: int) -> None:
        with contextlib.suppress(StewardError):
            self.registry.validate(NAME, version)

    @rule(version=VERSIONS)
    def expire(self, version: int) -> None:
        with contextlib.suppress(StewardError):
            self.registry.expire(NAME, version)

    @rule(version=VERSIONS, user=USERS_)
    def archive(self, version: int, user: str | None) -> None:
        with contextlib.suppress(StewardError):
            self.registry.archive(NAME, version, USERS.identify(user or ""), "property")

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
