"""Synthesize the CDK app (with cdk-nag) once per test session, and on demand with a
mutation applied, to show the gates catch what they claim to catch."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.app import STACK_NAME, build_app
from infra.stack import StewardStack

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


@dataclass
class Synth:
    template: dict[str, Any]
    report: dict[str, Any]
    error: str | None

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}

    def violations(self) -> list[tuple[str, str]]:
        """Unacknowledged nag findings: (rule, construct path)."""
        found = []
        for plugin in self.report.get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    found.append((violation["ruleName"], construct["constructPath"]))
        return found


def synthesize(
    mutate: Callable[[StewardStack], None] | None = None, context: dict[str, Any] | None = None
) -> Synth:
    outdir = tempfile.mkdtemp(prefix="steward-synth-")
    app, stack = build_app(outdir=outdir, context={**NO_BUNDLING, **(context or {})})
    if mutate is not None:
        mutate(stack)
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # nag findings fail synthesis: the report says which
        error = str(exc)
    template = json.loads((Path(outdir) / f"{STACK_NAME}.template.json").read_text())
    report_path = Path(outdir) / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return Synth(template, report, error)


@pytest.fixture(scope="session")
def synth() -> Synth:
    return synthesize()
