"""``steward evidence export|verify``: a model's evidence pack, and checking one offline
(verification needs no server, no network and no server library)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from steward.cli.base import Failed, client
from steward.packs import verify


def export(args: argparse.Namespace) -> Any:
    data = client(args).evidence(args.name, args.at)
    out = Path(args.output)
    out.write_bytes(data)
    print(f"wrote {out} ({len(data):,} bytes)", file=sys.stderr)
    return None


def check(args: argparse.Namespace) -> Any:
    key = Path(args.public_key).read_bytes() if args.public_key else None
    with Path(args.file).open("rb") as file:
        verdict = verify(file, key)
    payload = {
        "ok": verdict.ok,
        "problem": verdict.problem,
        "files": verdict.files,
        "audit_events": verdict.events,
        "signed": verdict.signed,
        "signature_checked": verdict.signature_checked,
        "notes": verdict.notes,
    }
    return payload if verdict.ok else Failed(payload)


def _shown(payload: dict[str, Any]) -> str:
    if not payload["ok"]:
        return f"EVIDENCE PACK DOES NOT VERIFY: {payload['problem']}"
    signature = (
        "signature verified"
        if payload["signature_checked"]
        else ("signed, signature not checked" if payload["signed"] else "unsigned")
    )
    lines = [
        f"verified: {payload['files']} files match the manifest, the audit chain of "
        f"{payload['audit_events']} events holds up to the manifest's head; {signature}"
    ]
    return "\n".join(lines + [f"note: {n}" for n in payload["notes"]])


def add_evidence_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "evidence",
        help="export a model's evidence pack; verify one offline",
        description="Evidence packs: a model's records at an instant, as a verifiable zip.",
    ).add_subparsers(dest="evidence_command", required=True)
    what = "download a model's evidence pack at an instant (GET /models/NAME/evidence)"
    ex = group.add_parser("export", help=what, description=what, parents=[common])
    ex.add_argument("name")
    ex.add_argument("--at", help="ISO 8601 instant with zone (default: now)")
    ex.add_argument("-o", "--output", required=True, help="the zip file to write")
    ex.set_defaults(func=export, render=None)
    what = "check a pack offline: every hash, the audit chain and its head (exit 1 on a failure)"
    ve = group.add_parser("verify", help=what, description=what, parents=[common])
    ve.add_argument("file")
    ve.add_argument("--public-key", help="Ed25519 public key (PEM) to check the signature with")
    ve.set_defaults(func=check, render=_shown)
