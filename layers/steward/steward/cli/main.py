"""``steward``: the local platform and the REST API from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from steward.cli.commands import add_api_commands, run
from steward.client import Client


def _local_up(args: argparse.Namespace) -> int:
    from steward.local.platform import LocalPlatform

    platform = LocalPlatform(port=args.port, data_dir=Path(args.data_dir))
    print("Starting the Steward local platform (synthesizing the CDK app on first run)...")
    platform.start()
    _announce(platform.url, platform.emulator.endpoint)
    if args.demo:
        from steward.local.demo import load_demo

        load_demo(Client(url=platform.url))
    print("Ctrl-C stops it.", flush=True)
    platform.serve_forever()
    return 0


def _announce(url: str, emulator: str) -> None:
    print(f"Steward is serving {url}  (GET {url}/health)")
    print(f"Embedded AWS emulator at {emulator}.")
    print("Emulator state is in memory only: everything is lost when the platform stops.")


def _health(args: argparse.Namespace) -> int:
    print(json.dumps(Client(url=args.url).get("/health")))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steward", description="Serverless ModelOps on AWS")
    parser.add_argument("--url", default=Client.url, help="API URL (env STEWARD_URL)")
    parser.add_argument("--user", default=Client.user, help="caller (env STEWARD_USER)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="the local platform").add_subparsers(
        dest="local_command", required=True
    )
    up = local.add_parser("up", help="serve the API on an embedded AWS emulator")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--data-dir", default=".steward", help="caches and logs (not emulator state)")
    up.add_argument("--demo", action="store_true", help="load the demo models once up")
    up.set_defaults(func=_local_up)

    demo = sub.add_parser("demo", help="`local up --demo`: the platform with demo models")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", default=".steward")
    demo.set_defaults(func=_local_up, demo=True)

    health = sub.add_parser("health", help="GET /health")
    health.set_defaults(func=_health)
    add_api_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.func in (_local_up, _health):
        result: int = args.func(args)
        return result
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
