"""Release: aliases, live traffic (champion/challenger), rollback of production, archive."""

from __future__ import annotations

import logging
from typing import Any

from steward.domain.errors import BadRequest, Conflict
from steward.domain.identity import Identity, Role
from steward.domain.models import PRODUCTION, Model, ModelVersion, Status, TrafficPolicy
from steward.domain.status import Action, check_deployable
from steward.registry.core import RegistryCore

logger = logging.getLogger(__name__)


class Release(RegistryCore):
    """Which version serves: aliases, traffic, rollback, archive."""

    def set_alias(
        self, name: str, alias: str, number: int, caller: Identity, reason: str = ""
    ) -> Model:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        version = self.store.get_version(name, number)
        if alias == PRODUCTION:
            check_deployable(version, alias)
        elif version.status in (Status.REJECTED, Status.ARCHIVED):
            raise Conflict(f"version {number} is {version.status.value}")
        if _holds(model, alias, number):
            return model  # already so: nothing to change or audit
        previous = model.aliases.get(alias)
        aliases = {**model.aliases, alias: number}
        changes: dict[str, Any] = {"aliases": aliases}
        if alias == PRODUCTION:
            if previous is not None and previous != number:
                changes["production_history"] = [*model.production_history, previous]
            changes["traffic"] = TrafficPolicy(champion=number)
        try:
            return self._update_model(
                model, caller.user, "alias.set", {"aliases": model.aliases}, reason, **changes
            )
        except Conflict:
            # A concurrent change: fine if it made the same change (the workflow promoting
            # while a person deploys the same version), a 409 otherwise.
            current = self.store.get_model(name)
            if _holds(current, alias, number):
                return current
            raise

    def set_traffic(self, name: str, policy: TrafficPolicy, caller: Identity) -> Model:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        for number in (policy.champion, policy.challenger):
            if number is not None:
                check_deployable(self.store.get_version(name, number), "live traffic")
        if policy.champion is None:
            raise BadRequest("a traffic policy needs a champion")
        changes: dict[str, Any] = {"traffic": policy}
        if model.aliases.get(PRODUCTION) != policy.champion:
            changes["aliases"] = {**model.aliases, PRODUCTION: policy.champion}
            if PRODUCTION in model.aliases:
                changes["production_history"] = [
                    *model.production_history,
                    model.aliases[PRODUCTION],
                ]
        return self._update_model(
            model,
            caller.user,
            "traffic.set",
            {"traffic": model.traffic.model_dump(mode="json")},
            "",
            **changes,
        )

    def rollback(self, name: str, caller: Identity, reason: str) -> Model:
        caller.require(Role.DATA_SCIENTIST, Role.APPROVER)
        model = self.store.get_model(name)
        history = list(model.production_history)
        while history:
            candidate = history.pop()
            version = self.store.get_version(name, candidate)
            if version.status is Status.APPROVED:
                return self._update_model(
                    model,
                    caller.user,
                    "production.rollback",
                    {"aliases": model.aliases},
                    reason,
                    aliases={**model.aliases, PRODUCTION: candidate},
                    production_history=history,
                    traffic=TrafficPolicy(champion=candidate),
                )
        raise Conflict(f"{name} has no previous approved production version")

    def archive(self, name: str, number: int, caller: Identity, reason: str) -> ModelVersion:
        """Retire a version that serves no alias and no traffic: an approver's decision."""
        caller.require(Role.APPROVER)
        model = self.store.get_model(name)
        if number in model.aliases.values() or number in (
            model.traffic.champion,
            model.traffic.challenger,
        ):
            raise Conflict(f"version {number} is serving: move its aliases and traffic first")
        archived = self.transition(
            self.store.get_version(name, number), Action.ARCHIVE, caller.user, reason
        )
        # A version archived while pending: its approval workflow stops waiting (as for a
        # rejection); if that fails, the workflow ends at its approval timeout instead.
        token = self.store.take_task_token(name, number)
        if token is not None:
            output = {"decision": "reject", "actor": caller.user, "status": archived.status.value}
            try:
                self.workflows.resume(token, output)
            except Exception:
                logger.exception("could not end the approval workflow of %s/%s", name, number)
        return archived


def _holds(model: Model, alias: str, number: int) -> bool:
    """``alias`` already points at ``number`` (production: with no challenger)."""
    if model.aliases.get(alias) != number:
        return False
    return alias != PRODUCTION or model.traffic.challenger is None
