"""``steward kpis [NAME]`` and ``steward review NAME``: is the practice working?"""

from __future__ import annotations

import argparse
from typing import Any

from steward.cli import render
from steward.cli.base import client

DURATIONS = ("lead_time_s", "approval_wait_s", "validation_s", "drift_to_redeploy_s")
FIGURES = (
    "deployments",
    "rollbacks",
    "rollback_rate",
    "change_failure_rate",
    "production_models",
    "monitored_share",
    "fresh_report_share",
    "labelled_share",
    "reviews_overdue",
)
COLUMNS: list[render.Column] = [render.key(k) for k in ("step", "p50", "p90", "n")]


def kpis(args: argparse.Namespace) -> Any:
    return client(args).kpis(args.name, args.since, args.until)


def review(args: argparse.Namespace) -> Any:
    return client(args).review(args.name, args.comment)


def _seconds(value: Any) -> str:
    if value is None:
        return "-"
    seconds = float(value)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def shown(payload: dict[str, Any]) -> str:
    """Durations and steps as a table (p50, p90, n), then the counts and shares."""
    rows = [{"step": k, **payload[k]} for k in DURATIONS]
    rows += [{**s, "step": f"  step: {s['step']}"} for s in payload["steps"]]
    for row in rows:
        row["p50"], row["p90"] = _seconds(row.get("p50")), _seconds(row.get("p90"))
    who = payload.get("model") or "portfolio"
    figures = render.record({k: payload.get(k) for k in FIGURES}, list(FIGURES))
    return f"{who} until {payload['until']}\n{render.table(rows, COLUMNS)}\n\n{figures}"


def add_practice_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    what = "practice KPIs from the audit trail: lead time, approval wait, failures, shares"
    kp = sub.add_parser("kpis", help=what, description=what, parents=[common])
    kp.add_argument("name", nargs="?", help="one model (default: the portfolio)")
    kp.add_argument("--since", help="ISO 8601: count what completed from then on")
    kp.add_argument("--until", help="ISO 8601 (default: now)")
    kp.set_defaults(func=kpis, render=shown)
    what = "record the periodic review of a model (approver; goes into the audit trail)"
    rv = sub.add_parser("review", help=what, description=what, parents=[common])
    rv.add_argument("name")
    rv.add_argument("--comment", "-m", required=True, help="what was reviewed")
    rv.set_defaults(func=review, render=lambda p: render.record(p, ["action", "actor", "at"]))
