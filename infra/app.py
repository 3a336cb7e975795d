"""CDK entry point: ``cdk synth`` runs ``python -m infra.app``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.auth import DeploymentError, auth_settings
from infra.constructs.evidence import CONTEXT as EVIDENCE_CONTEXT
from infra.constructs.evidence import signing_key
from infra.constructs.governance import AUDIT_RETENTION_YEARS
from infra.constructs.monitoring import DRIFT_CONCURRENCY
from infra.constructs.scoring import SCORING_CONCURRENCY
from infra.stack import StewardStack
from steward.runtimes.skops_trust import CONTEXT as SKOPS_CONTEXT
from steward.runtimes.skops_trust import parse_extra

STACK_NAME = "Steward"
CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The feature flags of ``cdk.json``, so that tests and the local platform synthesize
    exactly what ``cdk synth`` does."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text()).get("context", {})
    return context


def reserved_concurrency(value: Any, default: int) -> int | None:
    """A function's reserved concurrency from context: absent is ``default``, 0 is none
    (an account whose concurrency limit is too small to reserve any)."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DeploymentError(
            f"reserved concurrency must be a whole number, not {value!r}"
        ) from None
    if number < 0:
        raise DeploymentError(f"reserved concurrency must be 0 (none) or more, not {number}")
    return number or None


def build_app(
    *, outdir: str | None = None, context: dict[str, Any] | None = None, nag: bool = True
) -> tuple[cdk.App, StewardStack]:
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    auth = auth_settings(app.node.try_get_context)
    try:  # types the admin trusts in skops artifacts; forbidden ones refuse the synth
        skops_trusted = parse_extra(app.node.try_get_context(SKOPS_CONTEXT))
        evidence_key = signing_key(app.node.try_get_context(EVIDENCE_CONTEXT))
    except ValueError as exc:
        raise DeploymentError(str(exc)) from None
    ask = app.node.try_get_context
    scoring = reserved_concurrency(ask("steward:scoringConcurrency"), SCORING_CONCURRENCY)
    drift = reserved_concurrency(ask("steward:driftConcurrency"), DRIFT_CONCURRENCY)
    stack = StewardStack(
        app,
        STACK_NAME,
        object_lock_days=int(app.node.try_get_context("steward:objectLockDays") or 30),
        audit_retention_years=int(
            app.node.try_get_context("steward:auditRetentionYears") or AUDIT_RETENTION_YEARS
        ),
        alarm_email=app.node.try_get_context("steward:alarmEmail") or None,
        auth=auth,
        skops_trusted=skops_trusted,
        evidence_signing_key=evidence_key,
        console=auth.console,
        scoring_concurrency=scoring,
        drift_concurrency=drift,
        # CodeBuild is missing in a few young regions: leave that trainer backend out there.
        codebuild_trainer=str(app.node.try_get_context("steward:codebuildTrainer")).lower()
        != "false",
        description="Steward: serverless ModelOps",
    )
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except DeploymentError as exc:  # a bad role mapping, a header-trusting API, ...
        raise SystemExit(f"steward: {exc}") from None
    app.synth()


if __name__ == "__main__":
    main()
