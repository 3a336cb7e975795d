"""The API commands of the CLI: each one a request, its answer printed as JSON."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from steward.client import ApiError, Client

MAX_INLINE = 5 * 1024 * 1024


class Failed:
    """A command's answer that must also make the process exit non-zero."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload


def _print(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _client(args: argparse.Namespace) -> Client:
    return Client(url=args.url, user=args.user)


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        rows: list[dict[str, Any]] = json.loads(path.read_text())
        return rows
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)
    records: list[dict[str, Any]] = table.to_pylist()
    return records


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
    return _client(args).post("/models", spec)


def models_list(args: argparse.Namespace) -> Any:
    return _client(args).get("/models")


def models_show(args: argparse.Namespace) -> Any:
    return _client(args).get(f"/models/{args.name}")


def register(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"flavor": args.flavor, "metrics": _metrics(args.metric or [])}
    if args.artifact.startswith("s3://"):
        body["artifact_uri"] = args.artifact
    else:
        data = Path(args.artifact).read_bytes()
        if len(data) > MAX_INLINE:
            raise SystemExit("artifacts over 5 MB go to S3 first: pass an s3:// URI")
        body["artifact_b64"] = base64.b64encode(data).decode()
        body["sha256"] = hashlib.sha256(data).hexdigest()
    if args.signature:
        body["signature"] = json.loads(Path(args.signature).read_text())
    if args.reference:
        if args.reference.startswith("s3://"):
            body["reference_data"] = {"uri": args.reference}
        else:
            body["reference_data"] = {"instances": _rows(Path(args.reference))}
    for key in ("code_ref", "parent_version", "description"):
        if getattr(args, key, None) is not None:
            body[key] = getattr(args, key)
    return _client(args).post(f"/models/{args.name}/versions", body)


def decide(decision: str) -> Any:
    def run(args: argparse.Namespace) -> Any:
        path = f"/models/{args.name}/versions/{args.version}/decision"
        return _client(args).post(path, {"decision": decision, "comment": args.comment})

    return run


def approvals(args: argparse.Namespace) -> Any:
    return _client(args).get("/approvals?status=pending")


def deploy(args: argparse.Namespace) -> Any:
    return _client(args).put(f"/models/{args.name}/aliases/{args.alias}", {"version": args.version})


def traffic(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"champion": args.champion, "mode": args.mode}
    if args.challenger is not None:
        body.update(challenger=args.challenger, challenger_percent=args.percent)
    return _client(args).put(f"/models/{args.name}/traffic", body)


def rollback(args: argparse.Namespace) -> Any:
    return _client(args).post(f"/models/{args.name}/rollback", {"reason": args.reason})


def audit(args: argparse.Namespace) -> Any:
    client = _client(args)
    if args.action == "verify":
        result = client.get("/audit/verify" + (f"?model={args.name}" if args.name else ""))
        return Failed(result) if not result["ok"] else result
    return client.get(f"/models/{args.name}/audit" if args.name else "/audit")


def add_api_commands(sub: Any) -> None:
    models = sub.add_parser("models", help="create, list, show models").add_subparsers(
        dest="models_command", required=True
    )
    create = models.add_parser("create", help="create a model")
    create.add_argument("--file", help="JSON model spec")
    create.add_argument("--name")
    create.add_argument("--task", choices=["classification", "regression", "decision"])
    create.add_argument("--risk-tier", dest="risk_tier", choices=["low", "medium", "high"])
    create.add_argument("--description")
    create.add_argument("--owner")
    create.set_defaults(func=models_create)
    models.add_parser("list", help="list models").set_defaults(func=models_list)
    show = models.add_parser("show", help="read a model")
    show.add_argument("name")
    show.set_defaults(func=models_show)

    reg = sub.add_parser("register", help="register a version")
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
    reg.set_defaults(func=register)

    for verb in ("approve", "reject"):
        p = sub.add_parser(verb, help=f"{verb} a pending version")
        p.add_argument("name")
        p.add_argument("version", type=int)
        p.add_argument("--comment", "-m", required=True)
        p.set_defaults(func=decide(verb))
    sub.add_parser("approvals", help="the approval inbox").set_defaults(func=approvals)

    dep = sub.add_parser("deploy", help="point an alias (default production) at a version")
    dep.add_argument("name")
    dep.add_argument("version", type=int)
    dep.add_argument("--alias", default="production")
    dep.set_defaults(func=deploy)

    tr = sub.add_parser("traffic", help="champion and challenger")
    tr.add_argument("name")
    tr.add_argument("--champion", type=int, required=True)
    tr.add_argument("--challenger", type=int)
    tr.add_argument("--percent", type=int, default=10)
    tr.add_argument("--mode", choices=["canary", "shadow"], default="canary")
    tr.set_defaults(func=traffic)

    rb = sub.add_parser("rollback", help="production back to the previous version")
    rb.add_argument("name")
    rb.add_argument("--reason", default="rollback from the CLI")
    rb.set_defaults(func=rollback)

    au = sub.add_parser("audit", help="the audit trail; `audit verify` checks the hash chains")
    au.add_argument("action", nargs="?", choices=["list", "verify"], default="list")
    au.add_argument("name", nargs="?")
    au.set_defaults(func=audit)


def run(args: argparse.Namespace) -> int:
    try:
        result = args.func(args)
    except ApiError as exc:
        print(f"error: {exc.status} {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    if isinstance(result, Failed):
        _print(result.payload)
        return 1
    if result is not None:
        _print(result)
    return 0
