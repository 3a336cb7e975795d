"""The approval workflow's automated steps: gates, policy decisions, canary, promotion,
rollback and notifications. Each method is one Step Functions task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from steward.domain.deployment import (
    CanaryVerdict,
    GateReport,
    GateResult,
    canary_verdict,
    evaluate_gates,
    heartbeat_for,
    route_approval,
)
from steward.domain.identity import Identity, Role
from steward.domain.models import PRODUCTION, ModelVersion, TrafficPolicy
from steward.lifecycle.canary import canary_evidence
from steward.lifecycle.quality import quality
from steward.ports import Notifier
from steward.ports.monitoring import LogFiles
from steward.registry.service import Registry

# The workflow acts with a data scientist's rights (aliases, traffic), never an approver's.
WORKFLOW = Identity(user="steward-workflow", roles=frozenset({Role.DATA_SCIENTIST}))


class Deployer:
    def __init__(
        self,
        registry: Registry,
        logs: LogFiles,
        notifier: Notifier,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = registry
        self.logs = logs
        self.notifier = notifier
        self.clock = clock

    # -- approval ------------------------------------------------------------------------

    def quality(
        self, version: ModelVersion, rows: list[dict[str, Any]], labels: list[Any]
    ) -> dict[str, float]:
        data = self.registry.load_artifact(version)
        return quality(version.flavor, data, version.signature, version.task, rows, labels)

    def gates(self, name: str, number: int) -> GateReport:
        """Evaluate the candidate, and the current champion, on the candidate's holdout."""
        model = self.registry.get_model(name)
        version = self.registry.get_version(name, number)
        policy = model.deployment
        rows, labels = self.registry.holdout(version)
        champion = model.aliases.get(PRODUCTION)
        found: dict[str, float] = {}
        theirs: dict[str, float] | None = None
        if rows and labels:
            measured = version.validation.holdout_metrics if version.validation else None
            found = dict(measured) if measured else self.quality(version, rows, labels)
            if champion is not None and champion != number:
                theirs = self.quality(self.registry.get_version(name, champion), rows, labels)
        results = evaluate_gates(policy.gates, found, theirs)
        if policy.gates and not (rows and labels):
            results.append(
                GateResult(
                    gate="holdout",
                    metric="holdout",
                    value=None,
                    bound=0,
                    passed=False,
                    detail="the policy has gates but the version has no labelled holdout",
                )
            )
        verdict, reason = route_approval(model.risk_tier, policy, results)
        report = GateReport(
            passed=all(r.passed for r in results),
            verdict=verdict,
            reason=reason,
            gates=results,
            metrics=found,
            champion_metrics=theirs,
            champion_version=champion if theirs is not None else None,
            approval_timeout_s=policy.approval_timeout_s,
            heartbeat_s=heartbeat_for(policy.approval_timeout_s),
        )
        self.registry.conclude_validation(
            name, number, verdict, reason, report.model_dump(mode="json")
        )
        return report

    def heartbeats(self) -> dict[str, int]:
        """Keep every open approval alive (run hourly, below the heartbeat interval)."""
        sent = gone = 0
        token: str | None = None
        while True:
            page = self.registry.pending_approvals(100, token)
            for version in page.items:
                task = self.registry.store.task_token(version.name, version.version)
                if task is None:
                    continue
                if self.registry.workflows.heartbeat(task):
                    sent += 1
                else:
                    gone += 1
            if not (token := page.next_token):
                return {"sent": sent, "gone": gone}

    # -- deployment ----------------------------------------------------------------------

    def deploy(self, name: str, number: int) -> dict[str, Any]:
        """Promote the first version outright; canary every later one (unless 0 %). With
        ``auto_deploy`` off, deploying is left to people (aliases, traffic)."""
        model = self.registry.get_model(name)
        policy = model.deployment
        champion = model.aliases.get(PRODUCTION)
        if not policy.auto_deploy:
            return {"mode": "manual", "champion": champion, "bake_s": 0}
        if champion is None or champion == number or policy.canary_percent == 0:
            self.promote(name, number, "approved: nothing to canary against")
            return {"mode": "promoted", "champion": number, "bake_s": 0}
        traffic = TrafficPolicy(
            champion=champion,
            challenger=number,
            challenger_percent=policy.canary_percent,
            mode="canary",
        )
        self.registry.set_traffic(name, traffic, WORKFLOW)
        return {
            "mode": "canary",
            "champion": champion,
            "challenger": number,
            "percent": policy.canary_percent,
            "bake_s": policy.bake_seconds,
            "since": self.clock().isoformat(),
        }

    def analyze(self, name: str, number: int, champion: int, since: str) -> CanaryVerdict:
        model = self.registry.get_model(name)
        start = datetime.fromisoformat(since)
        challenger_stats, champion_stats, shift = canary_evidence(
            self.logs, name, champion, number, start, self.clock()
        )
        verdict = canary_verdict(model.deployment, challenger_stats, champion_stats, shift)
        self.registry.record(
            name,
            "canary.analyzed",
            f"{name}/{number}",
            "passed" if verdict.passed else "; ".join(verdict.reasons),
            verdict.model_dump(mode="json"),
        )
        return verdict

    def promote(self, name: str, number: int, reason: str) -> dict[str, Any]:
        model = self.registry.set_alias(name, PRODUCTION, number, WORKFLOW, reason)
        return {"production": model.aliases[PRODUCTION]}

    def rollback(self, name: str, number: int, reason: str) -> dict[str, Any]:
        """Take the challenger out of traffic; production stays where it was."""
        model = self.registry.get_model(name)
        if model.traffic.challenger == number and model.traffic.champion is not None:
            model = self.registry.set_traffic(
                name, TrafficPolicy(champion=model.traffic.champion), WORKFLOW
            )
        self.registry.record(name, "canary.rolled_back", f"{name}/{number}", reason)
        return {"production": model.aliases.get(PRODUCTION)}

    def notify(self, event: str, name: str, number: int | None, details: dict[str, Any]) -> None:
        target = f"{name}/{number}" if number is not None else name
        self.notifier.publish(
            f"Steward: {target} {event}",
            {"event": event, "model": name, "version": number, **details},
        )
