"""``steward``: the local platform and the REST API from a terminal."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from steward.cli import render
from steward.cli.base import client
from steward.cli.commands import add_api_commands, run
from steward.cli.evidence import add_evidence_commands
from steward.cli.practice import add_practice_commands
from steward.client import Client
from steward.profiles import config_path, load_profiles


def _local_up(args: argparse.Namespace) -> int:
    from steward.local.terminal import Terminal, say

    data_dir = Path(args.data_dir)
    level = logging.DEBUG if args.verbose else logging.INFO
    with Terminal(data_dir, level) as terminal:
        try:
            return _serve(args, data_dir)
        except Exception as exc:
            logging.getLogger("steward_local").exception("the local platform stopped")
            say(f"error: {type(exc).__name__}: {exc}; the traceback is in {terminal.path}")
            return 1


def _serve(args: argparse.Namespace, data_dir: Path) -> int:
    from steward.local.platform import LocalPlatform
    from steward.local.terminal import say

    platform = LocalPlatform(port=args.port, data_dir=data_dir)
    say("Starting the Steward local platform (synthesizing the CDK app on first run)...")
    platform.start()
    _announce(platform.url, platform.emulator.endpoint)
    if args.demo:
        from steward.local.demo import load_demo

        try:
            load_demo(Client(url=platform.url))
        except BaseException:
            platform.stop()
            raise
        if getattr(args, "exit", False):
            _summary(Client(url=platform.url, user="admin"))
            platform.stop()
            return 0
    say(f"Console: {platform.url}/   Ctrl-C stops it.")
    platform.serve_forever()
    return 0


def _summary(api: Client) -> None:
    from steward.local.terminal import say

    models = api.get("/models")["items"]
    pending = api.get("/approvals?status=pending")["items"]
    verified = api.get("/audit/verify")
    say("Summary:")
    for model in models:
        production = model["aliases"].get("production")
        drift = render.drift_verdict(model)
        say(
            f"  {model['name']}: {model['latest_version']} version(s), "
            f"production v{production if production else '-'}, drift: {drift}"
        )
    say(f"  pending approvals: {len(pending)}; audit chains verified: {verified['ok']}")


def _announce(url: str, emulator: str) -> None:
    from steward.local.terminal import say

    say(f"Steward is serving {url}  (GET {url}/health; the console at {url}/)")
    say(f"Embedded AWS emulator at {emulator}.")
    say("Emulator state is in memory only: everything is lost when the platform stops.")


def _health(args: argparse.Namespace) -> Any:
    return client(args).get("/health")


def _profiles(args: argparse.Namespace) -> Any:
    items = [p.model_dump() for p in load_profiles().values()]
    return {"config": str(config_path()), "items": items}


def _profile_table(payload: dict[str, Any]) -> str:
    columns = [render.key(k) for k in ("name", "url", "user", "stack", "region", "aws_profile")]
    return f"profiles from {payload['config']}\n" + render.table(payload["items"], columns)


def build_parser() -> argparse.ArgumentParser:
    # Flags every command accepts, before or after its name; SUPPRESS keeps the root's value
    # when the subcommand does not repeat the flag.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON (for scripts)"
    )
    parser = argparse.ArgumentParser(
        prog="steward",
        description="Serverless ModelOps on AWS: the local platform and the REST API.",
        epilog="Profiles: ~/.steward/config.toml (or STEWARD_CONFIG); pick one with --profile "
        "or STEWARD_PROFILE. Without one, the local platform at http://127.0.0.1:8080.",
    )
    parser.add_argument("--profile", help="profile from the config file (env STEWARD_PROFILE)")
    parser.add_argument("--url", help="API URL, overrides the profile (env STEWARD_URL)")
    parser.add_argument("--user", help="local caller, X-Steward-User (env STEWARD_USER)")
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser(
        "local", help="the local platform", description="The local platform."
    ).add_subparsers(dest="local_command", required=True)
    up = local.add_parser(
        "up",
        help="serve the API and the console on an embedded AWS emulator",
        description="Serve the API and the web console on an embedded AWS emulator.",
    )
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--data-dir", default=".steward", help="caches and logs (not emulator state)")
    up.add_argument("--demo", action="store_true", help="load the demo models once up")
    up.set_defaults(func=_local_up)

    demo = sub.add_parser(
        "demo",
        help="the local platform with the demo lifecycle",
        description="Start the local platform, run the demo lifecycle narrating each step, "
        "then serve the console until Ctrl-C (or exit with a summary: --exit).",
    )
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", default=".steward")
    demo.add_argument("--exit", action="store_true", help="exit 0 with a summary when done")
    demo.set_defaults(func=_local_up, demo=True)

    health = sub.add_parser(
        "health", help="GET /health", description="Liveness and version.", parents=[common]
    )
    health.set_defaults(func=_health, render=render.record)
    profiles = sub.add_parser(
        "profiles",
        help="the configured profiles",
        description="List the profiles of the config file.",
        parents=[common],
    )
    profiles.set_defaults(func=_profiles, render=_profile_table)
    add_api_commands(sub, common)
    add_evidence_commands(sub, common)
    add_practice_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.func is _local_up:
        result: int = args.func(args)
        return result
    try:
        code = run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # `steward models list | head`: the reader left; stop quietly (Python's recipe: no
        # second error when the interpreter flushes stdout at exit).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
