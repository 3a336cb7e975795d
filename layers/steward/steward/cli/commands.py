"""The API commands of the CLI: each one a request; its answer printed as a table (or a
``key value`` record), or as JSON with ``--json``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from steward.cli import render
from steward.cli.progress import Spinner
from steward.client import MAX_INLINE, ApiError, Client, RunFailed, Unreachable
from steward.polling import until
from steward.profiles import client_for, select
from steward.records import read_file

SETTLED = {"PENDING_APPROVAL", "APPROVED", "REJECTED", "ARCHIVED"}
Renderer = Callable[[Any], str]


class Failed:
    """A command's answer that must also make the process exit non-zero."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload


def client(args: argparse.Namespace) -> Client:
    profile = select(getattr(args, "profile", None))
    url = getattr(args, "url", None) or os.environ.get("STEWARD_URL")
    user = getattr(args, "user", None) or os.environ.get("STEWARD_USER")
    return client_for(profile, url=url, user=user)


def _metrics(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = float(value)
    return out


def _query(**params: Any) -> str:
    present = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(present) if present else ""


def models_create(args: argparse.Namespace) -> Any:
    spec = json.loads(Path(args.file).read_text()) if args.file else {}
    for key in ("name", "task", "risk_tier", "description", "owner"):
        if getattr(args, key, None):
            spec[key] = getattr(args, key)
    return client(args).post("/models", spec)


INVENTORY_FILTERS = ("owner", "risk_tier", "task", "status", "drift", "q")


def models_list(args: argparse.Namespace) -> Any:
    """One page, or every page with ``--all`` (a filtered page may be short: the token says
    whether more follow)."""
    params: list[tuple[str, Any]] = [(k, getattr(args, k)) for k in INVENTORY_FILTERS]
    params += [("tag", t) for t in args.tag or ()] + [("limit", args.limit)]
    query = [(k, v) for k, v in params if v is not None]
    api = client(args)
    items: list[Any] = []
    token = args.next_token
    while True:
        pairs = query + ([("next_token", token)] if token else [])
        page = api.get("/models" + ("?" + urlencode(pairs) if pairs else ""))
        items += page["items"]
        token = page.get("next_token")
        if not args.all or not token:
            return {"items": items, "next_token": token}


def models_show(args: argparse.Namespace) -> Any:
    return client(args).get(f"/models/{args.name}")


def versions(args: argparse.Namespace) -> Any:
    api = client(args)
    if args.version is not None:
        return api.get(f"/models/{args.name}/versions/{args.version}")
    return api.get(f"/models/{args.name}/versions")


def _await_settled(api: Client, path: str, timeout_s: float) -> Any:
    """The version once validation has settled; :class:`TimeoutError` (exit 1) if it has
    not within ``timeout_s``."""
    with Spinner("waiting for validation") as progress:

        def settled() -> Any:
            version = api.get(path)
            progress.update(f"waiting for validation: {version['status']}")
            return version if version["status"] in SETTLED else None

        return until(settled, timeout_s, step_s=0.5, what=f"the validation of {path}")


def register(args: argparse.Namespace) -> Any:
    fields: dict[str, Any] = {"metrics": _metrics(args.metric or [])}
    if args.signature:
        fields["signature"] = json.loads(Path(args.signature).read_text())
    for key in ("code_ref", "parent_version", "description"):
        if getattr(args, key, None) is not None:
            fields[key] = getattr(args, key)
    reference: Any = None
    if args.reference:
        reference = args.reference
        if not reference.startswith("s3://"):
            reference = read_file(Path(reference))
    artifact: bytes | str = args.artifact
    if not args.artifact.startswith("s3://"):
        artifact = Path(args.artifact).read_bytes()
        if len(artifact) > MAX_INLINE:
            raise SystemExit("artifacts over 5 MB go to S3 first: pass an s3:// URI")
    api = client(args)
    size = len(artifact) if isinstance(artifact, bytes) else 0
    with Spinner(f"uploading {args.name} ({size / 1e6:.1f} MB)"):
        version = api.register(
            args.name, flavor=args.flavor, artifact=artifact, reference=reference, **fields
        )
    if args.wait:
        path = f"/models/{args.name}/versions/{version['version']}"
        return _await_settled(api, path, args.timeout)
    return version


def decide(decision: str) -> Callable[[argparse.Namespace], Any]:
    def run(args: argparse.Namespace) -> Any:
        path = f"/models/{args.name}/versions/{args.version}/decision"
        return client(args).post(path, {"decision": decision, "comment": args.comment})

    return run


def archive(args: argparse.Namespace) -> Any:
    path = f"/models/{args.name}/versions/{args.version}/archive"
    return client(args).post(path, {"comment": args.comment})


def me(args: argparse.Namespace) -> Any:
    return client(args).get("/me")


def approvals(args: argparse.Namespace) -> Any:
    return client(args).get("/approvals?status=pending")


def deploy(args: argparse.Namespace) -> Any:
    return client(args).put(f"/models/{args.name}/aliases/{args.alias}", {"version": args.version})


def traffic(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"champion": args.champion, "mode": args.mode}
    if args.challenger is not None:
        body.update(challenger=args.challenger, challenger_percent=args.percent)
    return client(args).put(f"/models/{args.name}/traffic", body)


def rollback(args: argparse.Namespace) -> Any:
    return client(args).post(f"/models/{args.name}/rollback", {"reason": args.reason})


def retrain(args: argparse.Namespace) -> Any:
    return client(args).post(f"/models/{args.name}/retrain", {})


def _hyperparameter(pair: str) -> tuple[str, Any]:
    """``KEY=VALUE``: a JSON value (``3``, ``0.1``, ``true``), or else the text itself."""
    key, _, value = pair.partition("=")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def trainer_set(args: argparse.Namespace) -> Any:
    settings: dict[str, Any] = {"entry_point": shlex.split(args.entry_point)}
    settings["requirements"] = args.requirement or []
    settings["hyperparameters"] = dict(_hyperparameter(pair) for pair in args.hp or [])
    for key in ("backend", "timeout_s", "image", "instance_type"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    source = Path(args.source)
    code = str(source) if source.is_dir() else source.read_bytes()
    return client(args).set_trainer(args.name, code, **settings)


def trainer_show(args: argparse.Namespace) -> Any:
    return client(args).get(f"/models/{args.name}/trainer")


def executions(args: argparse.Namespace) -> Any:
    return client(args).get(f"/models/{args.name}/executions" + _query(limit=args.limit))


def _instances(args: argparse.Namespace) -> Any:
    if args.file:
        return read_file(Path(args.file))
    if args.instances:
        parsed = json.loads(args.instances)
        return parsed if isinstance(parsed, list) else [parsed]
    raise SystemExit("give the records with --file or --instances")


def predict(args: argparse.Namespace) -> Any:
    return client(args).predict(
        args.name, _instances(args), version=args.version, alias=args.alias, explain=args.explain
    )


def explain(args: argparse.Namespace) -> Any:
    return client(args).explain(
        args.name,
        _instances(args),
        version=args.version,
        alias=args.alias,
        budget=args.budget,
        error=args.error,
    )


def feedback(args: argparse.Namespace) -> Any:
    if args.file:
        records = read_file(Path(args.file))
    elif args.request_id is not None and args.label is not None:
        label: Any = args.label
        with contextlib.suppress(ValueError):  # else a string label
            label = json.loads(args.label)
        records = [{"request_id": args.request_id, "label": label}]
    else:
        raise SystemExit("give labels with --file, or --request-id and --label")
    return client(args).post(f"/models/{args.name}/feedback", {"records": records})


def drift_run(args: argparse.Namespace) -> Any:
    window = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    with Spinner(f"evaluating drift of {args.name}") as progress:

        def waiting(run: dict[str, Any]) -> None:
            progress.update(f"evaluating drift of {args.name}: {run['batches']} batches running")

        return client(args).evaluate_drift(
            args.name, window, timeout_s=args.timeout, waiting=waiting
        )


def drift_list(args: argparse.Namespace) -> Any:
    return client(args).get(f"/models/{args.name}/drift" + _query(limit=args.limit))


def drift_portfolio(args: argparse.Namespace) -> Any:
    query = _query(since=args.since, until=args.until, limit=args.limit, next_token=args.next_token)
    return client(args).get("/drift/runs" + query)


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
        result = api.request("POST", "/logs/redrive" + _query(limit=args.limit))
        moved += int(result["moved"])
        if not result["moved"] or not result["remaining"]:
            return {"moved": moved, "remaining": result["remaining"]}


def _page_through(args: argparse.Namespace, path: str, counts: tuple[str, ...]) -> Any:
    """POST ``path`` with ``next_token`` until it is absent; the sums of ``counts``."""
    api = client(args)
    totals = {"calls": 0, **{key: 0 for key in counts}}
    token: str | None = None
    while True:
        result = api.request("POST", path + _query(limit=args.limit, next_token=token))
        totals["calls"] += 1
        for key in counts:
            totals[key] += int(result[key])
        token = result.get("next_token")
        if not token:
            return totals


def admin_backfill_inventory(args: argparse.Namespace) -> Any:
    """Call the API until every model was examined; the totals of all calls."""
    return _page_through(args, "/admin/inventory/backfill", ("examined", "repaired", "entries"))


def admin_refresh_schedules(args: argparse.Namespace) -> Any:
    """Call the API until every model's schedule was put again; the totals."""
    return _page_through(args, "/admin/schedules/refresh", ("examined", "refreshed"))


def logs_dead_letters(args: argparse.Namespace) -> Any:
    return client(args).get("/logs/dead-letters")


def _items(columns: list[render.Column]) -> Renderer:
    return lambda payload: render.table(payload.get("items", []), columns)


def _record(keys: list[str] | None = None) -> Renderer:
    return lambda payload: render.record(payload, keys)


VERSION_KEYS = ["name", "version", "status", "flavor", "created_by", "created_at", "metrics"]
MODEL_KEYS = ["name", "task", "risk_tier", "owner", "aliases", "traffic", "latest_drift"]


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


def _command(
    sub: Any,
    name: str,
    help_text: str,
    func: Callable[[argparse.Namespace], Any],
    shown: Renderer,
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, parents=[common]
    )
    parser.set_defaults(func=func, render=shown)
    return parser


def _models_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The models group: create, list, show."""
    models = sub.add_parser(
        "models", help="create, list, show models", description="Models: create, list, show."
    ).add_subparsers(dest="models_command", required=True)
    create = _command(
        models, "create", "create a model", models_create, _record(MODEL_KEYS), common
    )
    create.add_argument("--file", help="JSON model spec (flags below override its fields)")
    create.add_argument("--name", help="model name: lowercase, digits, dashes")
    create.add_argument("--task", choices=["classification", "regression", "decision"])
    create.add_argument("--risk-tier", dest="risk_tier", choices=["low", "medium", "high"])
    create.add_argument("--description")
    create.add_argument("--owner", help="who answers for the model (default: you)")
    listing = _command(
        models,
        "list",
        "list models with production version and drift verdict",
        models_list,
        _items(render.MODEL_COLUMNS),
        common,
    )
    listing.add_argument("--limit", type=int, help="at most this many a page (default 50)")
    listing.add_argument("--owner")
    listing.add_argument("--risk-tier", dest="risk_tier", choices=["low", "medium", "high"])
    listing.add_argument("--task", choices=["classification", "regression", "decision"])
    listing.add_argument("--status", help="the production version's status, or none")
    listing.add_argument("--drift", choices=["detected", "clear", "none"])
    listing.add_argument("--tag", action="append", help="key:value (repeatable, all must hold)")
    listing.add_argument("-q", "--search", dest="q", help="words in the name or description")
    listing.add_argument("--next-token", dest="next_token")
    listing.add_argument("--all", action="store_true", help="follow next_token to the end")
    show = _command(models, "show", "read a model", models_show, _record(MODEL_KEYS), common)
    show.add_argument("name")


def _versions_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """A model's versions and registering one."""
    ver = _command(
        sub,
        "versions",
        "list a model's versions, or read one",
        versions,
        lambda p: (
            render.table(p["items"], render.VERSION_COLUMNS)
            if "items" in p
            else render.record(p, [*VERSION_KEYS, "validation", "approvals", "lineage"])
        ),
        common,
    )
    ver.add_argument("name")
    ver.add_argument("version", type=int, nargs="?")

    reg = _command(
        sub,
        "register",
        "register a version (uploads the artifact; --wait follows validation)",
        register,
        _record(VERSION_KEYS),
        common,
    )
    reg.add_argument("name")
    reg.add_argument(
        "--flavor",
        required=True,
        choices=["onnx", "sklearn", "linear", "logistic", "scorecard", "rules"],
    )
    reg.add_argument("--artifact", required=True, help="a file, or an s3:// URI")
    reg.add_argument("--signature", help="JSON signature file (else inferred)")
    reg.add_argument("--reference", help="reference rows: .json/.csv/.parquet or s3:// URI")
    reg.add_argument("--metric", action="append", help="name=value, repeatable")
    reg.add_argument("--code-ref", dest="code_ref")
    reg.add_argument("--parent-version", dest="parent_version", type=int)
    reg.add_argument("--description")
    reg.add_argument("--wait", action="store_true", help="wait until validation settles")
    reg.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits")


def _approvals_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Deciding on versions and the approval inbox."""
    for verb in ("approve", "reject"):
        p = _command(
            sub, verb, f"{verb} a pending version", decide(verb), _record(VERSION_KEYS), common
        )
        p.add_argument("name")
        p.add_argument("version", type=int)
        p.add_argument("--comment", "-m", required=True, help="why (goes into the audit trail)")
    ar = _command(
        sub,
        "archive",
        "retire a version that serves no alias or traffic (approver or admin)",
        archive,
        _record(VERSION_KEYS),
        common,
    )
    ar.add_argument("name")
    ar.add_argument("version", type=int)
    ar.add_argument("--comment", "-m", required=True, help="why (goes into the audit trail)")
    _command(
        sub,
        "approvals",
        "the approval inbox (pending versions)",
        approvals,
        _items(render.VERSION_COLUMNS),
        common,
    )


def _release_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Which version serves: deploy, traffic, rollback."""
    dep = _command(
        sub,
        "deploy",
        "point an alias (default production) at a version",
        deploy,
        _record(MODEL_KEYS),
        common,
    )
    dep.add_argument("name")
    dep.add_argument("version", type=int)
    dep.add_argument("--alias", default="production")

    tr = _command(
        sub, "traffic", "set champion and challenger", traffic, _record(MODEL_KEYS), common
    )
    tr.add_argument("name")
    tr.add_argument("--champion", type=int, required=True)
    tr.add_argument("--challenger", type=int)
    tr.add_argument("--percent", type=int, default=10, help="challenger share (canary)")
    tr.add_argument("--mode", choices=["canary", "shadow"], default="canary")

    rb = _command(
        sub,
        "rollback",
        "production back to the previous version",
        rollback,
        _record(MODEL_KEYS),
        common,
    )
    rb.add_argument("name")
    rb.add_argument("--reason", default="rollback from the CLI")


def _workflows_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The retrain workflow and a model's executions."""
    rt = _command(
        sub,
        "retrain",
        "start the retrain workflow now (it checks the policy and the model's lease)",
        retrain,
        _record(["run", "execution"]),
        common,
    )
    rt.add_argument("name")
    ex = _command(
        sub,
        "executions",
        "a model's approval and retrain workflow executions, newest first",
        executions,
        _items(render.EXECUTION_COLUMNS),
        common,
    )
    ex.add_argument("name")
    ex.add_argument("--limit", type=int)
    _trainer_commands(sub, common)


TRAINER_KEYS = ["sha256", "backend", "entry_point", "requirements", "hyperparameters"]
TRAINER_KEYS += ["timeout_s", "size", "updated_by", "updated_at"]


def _trainer_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The model's own trainer (``retrain.trainer: custom`` runs it)."""
    group = sub.add_parser(
        "trainer", help="set or show a model's own trainer", description="A model's trainer."
    ).add_subparsers(dest="trainer_command", required=True)
    st = _command(
        group,
        "set",
        "set the model's trainer (audited)",
        trainer_set,
        _record(TRAINER_KEYS),
        common,
    )
    st.add_argument("name")
    st.add_argument("source", help="a folder (zipped as is) or a .zip file")
    st.add_argument("--entry-point", default="python train.py", help="the command, in the code")
    st.add_argument("--requirement", action="append", help="a pip requirement (repeatable)")
    st.add_argument("--backend", choices=["local", "lambda", "codebuild", "sagemaker"])
    st.add_argument("--hp", action="append", help="a hyperparameter KEY=VALUE (JSON value)")
    st.add_argument("--timeout", dest="timeout_s", type=int, help="seconds")
    st.add_argument("--image")
    st.add_argument("--instance-type", dest="instance_type")
    sh = _command(group, "show", "the model's trainer", trainer_show, _record(TRAINER_KEYS), common)
    sh.add_argument("name")


def _scoring_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Predictions and their labels."""
    pr = _command(sub, "predict", "score records", predict, render.predictions, common)
    ex = _command(sub, "explain", "feature attributions of records", explain, _record(), common)
    for parser in (pr, ex):
        parser.add_argument("name")
        parser.add_argument("--file", help="records: .json (a list), .csv or .parquet")
        parser.add_argument("--instances", help="records as JSON: '[{\"tenure\": 3, ...}]'")
        parser.add_argument("--version", type=int, help="pin a version")
        parser.add_argument("--alias", help="pin an alias")
    pr.add_argument("--explain", type=int, metavar="K", help="add K adverse reasons per record")
    ex.add_argument("--budget", type=int, help="sampling_shap: model evaluations per record")
    ex.add_argument("--error", type=float, help="sampling_shap: standard error to reach")

    fb = _command(sub, "feedback", "send ground-truth labels", feedback, _record(), common)
    fb.add_argument("name")
    fb.add_argument("--file", help="records [{request_id, label}]: .json, .csv or .parquet")
    fb.add_argument("--request-id", dest="request_id")
    fb.add_argument("--label", help="the label (JSON value, or a string)")


def _drift_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The drift group: run, list, show, portfolio."""
    drift = sub.add_parser(
        "drift", help="run, list and show drift reports", description="Drift reports."
    ).add_subparsers(dest="drift_command", required=True)
    run_p = _command(
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
    ls = _command(
        drift, "list", "a model's drift reports", drift_list, _items(render.REPORT_COLUMNS), common
    )
    ls.add_argument("name")
    ls.add_argument("--limit", type=int)
    sh = _command(drift, "show", "one drift report", drift_show, render.drift_report, common)
    sh.add_argument("name")
    sh.add_argument("report_id")
    sh.add_argument("--html", help="also write the HTML report to this file")
    pf = _command(
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
    au = _command(
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
    rd = _command(
        logs,
        "redrive",
        "move dead-lettered log batches back to the log queue (admin)",
        logs_redrive,
        _record(),
        common,
    )
    rd.add_argument("--limit", type=int, default=1000, help="messages per API call")
    _command(
        logs,
        "dead-letters",
        "how many log batches wait in the dead-letter queue (admin)",
        logs_dead_letters,
        _record(),
        common,
    )


def _admin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Upkeep (admin)."""
    admin = sub.add_parser(
        "admin", help="upkeep of derived data (admin)", description="Administration."
    ).add_subparsers(dest="admin_command", required=True)
    bf = _command(
        admin,
        "backfill-inventory",
        "write the inventory index entries that models lack (idempotent; admin)",
        admin_backfill_inventory,
        _record(),
        common,
    )
    bf.add_argument("--limit", type=int, default=200, help="models per API call")
    rs = _command(
        admin,
        "refresh-schedules",
        "put every model's drift schedule again, e.g. after an upgrade (idempotent; admin)",
        admin_refresh_schedules,
        _record(),
        common,
    )
    rs.add_argument("--limit", type=int, default=200, help="models per API call")


def add_api_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Every command that calls the API, group by group (the order of ``--help``)."""
    _command(
        sub, "me", "who you are to Steward: user, roles and their source", me, _record(), common
    )
    _models_commands(sub, common)
    _versions_commands(sub, common)
    _approvals_commands(sub, common)
    _release_commands(sub, common)
    _workflows_commands(sub, common)
    _scoring_commands(sub, common)
    _drift_commands(sub, common)
    _audit_commands(sub, common)
    _admin_commands(sub, common)


def emit(args: argparse.Namespace, payload: Any) -> None:
    shown: Renderer | None = getattr(args, "render", None)
    if getattr(args, "json", False) or shown is None or not isinstance(payload, dict):
        print(render.as_json(payload))
    else:
        print(shown(payload))


def run(args: argparse.Namespace) -> int:
    try:
        result = args.func(args)
    except ApiError as exc:
        print(f"error: {exc.status} {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (TimeoutError, RunFailed, Unreachable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, Failed):
        emit(args, result.payload)
        return 1
    if result is not None:
        emit(args, result)
    return 0
