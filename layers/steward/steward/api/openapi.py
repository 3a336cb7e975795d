"""Generate the committed ``openapi.json`` from the code, or check that it is current.

``python -m steward.api.openapi --write`` regenerates it; ``--check`` fails when they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from steward.api.app import build_app, openapi_spec

DEFAULT_PATH = Path("openapi.json")


def render() -> str:
    return json.dumps(openapi_spec(build_app()), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.path.write_text(text)
        return 0
    if not args.path.exists() or args.path.read_text() != text:
        print(f"{args.path} is out of date: run `make openapi` and commit it", file=sys.stderr)
        return 1
    print(f"{args.path} matches the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
