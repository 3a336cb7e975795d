"""The API commands of the CLI: each one a request; its answer printed as a table (or a
``key value`` record), or as JSON with ``--json``. The trainer's commands are in
:mod:`.trainer`, drift, audit and logs in :mod:`.monitoring`, what they share in :mod:`.base`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from steward.cli import render
from steward.cli.base import Failed, Renderer, client, command, items_table, query, record_of
from steward.cli.monitoring import add_monitoring_commands
from steward.cli.progress import Spinner
from steward.cli.trainer import add_trainer_commands
from steward.client import MAX_INLINE, ApiError, Client, RunFailed, Unreachable
from steward.polling import until
from steward.records import read_file

SETTLED = {"PENDING_APPROVAL", "APPROVED", "REJECTED", "ARCHIVED"}


def _metrics(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = float(value)
    return out


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


def executions(args: argparse.Namespace) -> Any:
    return client(args).get(f"/models/{args.name}/executions" + query(limit=args.limit))


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


def _page_through(args: argparse.Namespace, path: str, counts: tuple[str, ...]) -> Any:
    """POST ``path`` with ``next_token`` until it is absent; the sums of ``counts``."""
    api = client(args)
    totals = {"calls": 0, **{key: 0 for key in counts}}
    token: str | None = None
    while True:
        result = api.request("POST", path + query(limit=args.limit, next_token=token))
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


VERSION_KEYS = ["name", "version", "status", "flavor", "created_by", "created_at", "metrics"]
MODEL_KEYS = ["name", "task", "risk_tier", "owner", "aliases", "traffic", "latest_drift"]


def _models_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The models group: create, list, show."""
    models = sub.add_parser(
        "models", help="create, list, show models", description="Models: create, list, show."
    ).add_subparsers(dest="models_command", required=True)
    create = command(
        models, "create", "create a model", models_create, record_of(MODEL_KEYS), common
    )
    create.add_argument("--file", help="JSON model spec (flags below override its fields)")
    create.add_argument("--name", help="model name: lowercase, digits, dashes")
    create.add_argument("--task", choices=["classification", "regression", "decision"])
    create.add_argument("--risk-tier", dest="risk_tier", choices=["low", "medium", "high"])
    create.add_argument("--description")
    create.add_argument("--owner", help="who answers for the model (default: you)")
    listing = command(
        models,
        "list",
        "list models with production version and drift verdict",
        models_list,
        items_table(render.MODEL_COLUMNS),
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
    show = command(models, "show", "read a model", models_show, record_of(MODEL_KEYS), common)
    show.add_argument("name")


def _versions_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """A model's versions and registering one."""
    ver = command(
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

    reg = command(
        sub,
        "register",
        "register a version (uploads the artifact; --wait follows validation)",
        register,
        record_of(VERSION_KEYS),
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
        p = command(
            sub, verb, f"{verb} a pending version", decide(verb), record_of(VERSION_KEYS), common
        )
        p.add_argument("name")
        p.add_argument("version", type=int)
        p.add_argument("--comment", "-m", required=True, help="why (goes into the audit trail)")
    ar = command(
        sub,
        "archive",
        "retire a version that serves no alias or traffic (approver or admin)",
        archive,
        record_of(VERSION_KEYS),
        common,
    )
    ar.add_argument("name")
    ar.add_argument("version", type=int)
    ar.add_argument("--comment", "-m", required=True, help="why (goes into the audit trail)")
    command(
        sub,
        "approvals",
        "the approval inbox (pending versions)",
        approvals,
        items_table(render.VERSION_COLUMNS),
        common,
    )


def _release_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Which version serves: deploy, traffic, rollback."""
    dep = command(
        sub,
        "deploy",
        "point an alias (default production) at a version",
        deploy,
        record_of(MODEL_KEYS),
        common,
    )
    dep.add_argument("name")
    dep.add_argument("version", type=int)
    dep.add_argument("--alias", default="production")

    tr = command(
        sub, "traffic", "set champion and challenger", traffic, record_of(MODEL_KEYS), common
    )
    tr.add_argument("name")
    tr.add_argument("--champion", type=int, required=True)
    tr.add_argument("--challenger", type=int)
    tr.add_argument("--percent", type=int, default=10, help="challenger share (canary)")
    tr.add_argument("--mode", choices=["canary", "shadow"], default="canary")

    rb = command(
        sub,
        "rollback",
        "production back to the previous version",
        rollback,
        record_of(MODEL_KEYS),
        common,
    )
    rb.add_argument("name")
    rb.add_argument("--reason", default="rollback from the CLI")


def _workflows_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The retrain workflow and a model's executions."""
    rt = command(
        sub,
        "retrain",
        "start the retrain workflow now (it checks the policy and the model's lease)",
        retrain,
        record_of(["run", "execution"]),
        common,
    )
    rt.add_argument("name")
    ex = command(
        sub,
        "executions",
        "a model's approval and retrain workflow executions, newest first",
        executions,
        items_table(render.EXECUTION_COLUMNS),
        common,
    )
    ex.add_argument("name")
    ex.add_argument("--limit", type=int)
    add_trainer_commands(sub, common)


def _scoring_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Predictions and their labels."""
    pr = command(sub, "predict", "score records", predict, render.predictions, common)
    ex = command(sub, "explain", "feature attributions of records", explain, record_of(), common)
    for parser in (pr, ex):
        parser.add_argument("name")
        parser.add_argument("--file", help="records: .json (a list), .csv or .parquet")
        parser.add_argument("--instances", help="records as JSON: '[{\"tenure\": 3, ...}]'")
        parser.add_argument("--version", type=int, help="pin a version")
        parser.add_argument("--alias", help="pin an alias")
    pr.add_argument("--explain", type=int, metavar="K", help="add K adverse reasons per record")
    ex.add_argument("--budget", type=int, help="sampling_shap: model evaluations per record")
    ex.add_argument("--error", type=float, help="sampling_shap: standard error to reach")

    fb = command(sub, "feedback", "send ground-truth labels", feedback, record_of(), common)
    fb.add_argument("name")
    fb.add_argument("--file", help="records [{request_id, label}]: .json, .csv or .parquet")
    fb.add_argument("--request-id", dest="request_id")
    fb.add_argument("--label", help="the label (JSON value, or a string)")


def _admin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Upkeep (admin)."""
    admin = sub.add_parser(
        "admin", help="upkeep of derived data (admin)", description="Administration."
    ).add_subparsers(dest="admin_command", required=True)
    bf = command(
        admin,
        "backfill-inventory",
        "write the inventory index entries that models lack (idempotent; admin)",
        admin_backfill_inventory,
        record_of(),
        common,
    )
    bf.add_argument("--limit", type=int, default=200, help="models per API call")
    rs = command(
        admin,
        "refresh-schedules",
        "put every model's drift schedule again, e.g. after an upgrade (idempotent; admin)",
        admin_refresh_schedules,
        record_of(),
        common,
    )
    rs.add_argument("--limit", type=int, default=200, help="models per API call")


def add_api_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Every command that calls the API, group by group (the order of ``--help``)."""
    command(
        sub, "me", "who you are to Steward: user, roles and their source", me, record_of(), common
    )
    _models_commands(sub, common)
    _versions_commands(sub, common)
    _approvals_commands(sub, common)
    _release_commands(sub, common)
    _workflows_commands(sub, common)
    _scoring_commands(sub, common)
    add_monitoring_commands(sub, common)
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
