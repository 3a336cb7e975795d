"""The monitoring commands: ``steward drift`` (run, list, show, portfolio), ``steward audit``
(list, verify) and ``steward logs`` (the prediction logs' dead letters)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from steward.cli import render
from steward.cli.base import Failed, client, command, items_table, query, record_of
from steward.cli.progress import Spinner


def drift_run(args: argparse.Namespace) -> Any:
    window = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    with Spinner(f"evaluating drift of {args.name}") as progress:

        def waiting(run: dict[str, Any]) -> None:
            progress.update(f"evaluating drift of {args.name}: {run['batches']} batches running")

        return client(args).evaluate_drift(
            args.name, window, timeout_s=args.timeout, waiting=waiting
        )


def drift_list(args: argparse.Namespace) -> Any:
    return client(args).get(f"/models/{args.name}/drift" + query(limit=args.limit))


def drift_portfolio(args: argparse.Namespace) -> Any:
    period = query(since=args.since, until=args.until, limit=args.limit, next_token=args.next_token)
    return client(args).get("/drift/runs" + period)


PORTFOLIO_COLUMNS: list[render.Column] = [
    render.key("model"),
    render.key("outcome"),
    render.key("reason"),
    render.key("at"),
    render.key("report_id"),
    render.key("drift_detected"),
]


def _portfolio(payload: dict[str, Any]) -> str:
    counts = payload.get("counts", {})
    head = f"{payload.get('since')} .. {payload.get('until')}: " + ", ".join(
        f"{counts.get(k, 0)} {k}" for k in ("evaluated", "skipped", "failed", "missed")
    )
    more = (
        "\n(more: --next-token " + payload["next_token"] + ")" if payload.get("next_token") else ""
    )
    return head + "\n" + render.table(payload.get("items", []), PORTFOLIO_COLUMNS) + more


def drift_show(args: argparse.Namespace) -> Any:
    api = client(args)
    path = f"/models/{args.name}/drift/{args.report_id}"
    if args.html:
        Path(args.html).write_text(api.request("GET", path, accept="text/html"))
        print(f"wrote {args.html}", file=sys.stderr)
    return api.get(path)


def audit(args: argparse.Namespace) -> Any:
    api = client(args)
    if args.action == "verify":
        result = api.get("/audit/verify" + (f"?model={args.name}" if args.name else ""))
        return Failed(result) if not result["ok"] else result
    return api.get(f"/models/{args.name}/audit" if args.name else "/audit")


def logs_redrive(args: argparse.Namespace) -> Any:
    """Call the API until the dead-letter queue is empty (or a call moves nothing)."""
    api = client(args)
    moved = 0
    while True:
        result = api.request("POST", "/logs/redrive" + query(limit=args.limit))
        moved += int(result["moved"])
        if not result["moved"] or not result["remaining"]:
            return {"moved": moved, "remaining": result["remaining"]}


def logs_dead_letters(args: argparse.Namespace) -> Any:
    return client(args).get("/logs/dead-letters")


AUDIT_REPORT_KEYS = ("stream", "ok", "events", "copied", "pending", "broken_at", "problem")


def _verified(payload: dict[str, Any]) -> str:
    rows = payload.get("streams", [])
    columns = [render.key(k) for k in AUDIT_REPORT_KEYS]
    if payload.get("ok"):
        return "audit trail verified against its write-once copy\n" + render.table(rows, columns)
    lines = ["AUDIT TRAIL DIVERGED"]
    for row in rows:
        if not row.get("ok"):
            lines.append(f"  {row['stream']}: first at seq {row['broken_at']}: {row['problem']}")
            for kind in ("missing", "altered", "uncopied"):
                if row.get(kind):
                    lines.append(f"    {kind}: {', '.join(map(str, row[kind]))}")
    return "\n".join(lines) + "\n" + render.table(rows, columns)


def _drift_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The drift group: run, list, show, portfolio."""
    drift = sub.add_parser(
        "drift", help="run, list and show drift reports", description="Drift reports."
    ).add_subparsers(dest="drift_command", required=True)
    run_p = command(
        drift, "run", "evaluate drift now over a window", drift_run, render.drift_report, common
    )
    run_p.add_argument("name")
    run_p.add_argument("--start", help="ISO 8601 with zone (default: the policy's window)")
    run_p.add_argument("--end", help="ISO 8601 with zone (default: now)")
    run_p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds to wait for a distributed run's report (a large window)",
    )
    ls = command(
        drift,
        "list",
        "a model's drift reports",
        drift_list,
        items_table(render.REPORT_COLUMNS),
        common,
    )
    ls.add_argument("name")
    ls.add_argument("--limit", type=int)
    sh = command(drift, "show", "one drift report", drift_show, render.drift_report, common)
    sh.add_argument("name")
    sh.add_argument("report_id")
    sh.add_argument("--html", help="also write the HTML report to this file")
    pf = command(
        drift,
        "portfolio",
        "every model's latest drift run in a period: evaluated, skipped, failed or missed",
        drift_portfolio,
        _portfolio,
        common,
    )
    pf.add_argument("--since", help="ISO 8601 (default: 24 hours before --until)")
    pf.add_argument("--until", help="ISO 8601 (default: now)")
    pf.add_argument("--limit", type=int, help="models a page (at most 1,000; default 100)")
    pf.add_argument("--next-token", dest="next_token")


def _audit_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The audit trail."""
    au = command(
        sub,
        "audit",
        "the audit trail; `audit verify` checks it against its write-once copy",
        audit,
        lambda p: (
            _verified(p) if "streams" in p else render.table(p["items"], render.AUDIT_COLUMNS)
        ),
        common,
    )
    au.add_argument("action", nargs="?", choices=["list", "verify"], default="list")
    au.add_argument("name", nargs="?")

    logs = sub.add_parser(
        "logs", help="the prediction logs' dead letters", description="Prediction logs."
    ).add_subparsers(dest="logs_command", required=True)
    rd = command(
        logs,
        "redrive",
        "move dead-lettered log batches back to the log queue (admin)",
        logs_redrive,
        record_of(),
        common,
    )
    rd.add_argument("--limit", type=int, default=1000, help="messages per API call")
    command(
        logs,
        "dead-letters",
        "how many log batches wait in the dead-letter queue (admin)",
        logs_dead_letters,
        record_of(),
        common,
    )


def add_monitoring_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The drift group, then the audit trail and the logs' dead letters."""
    _drift_commands(sub, common)
    _audit_commands(sub, common)
