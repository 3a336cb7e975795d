"""What every CLI command shares: the client from the profile and the flags, a query string,
the parser of one command, and the renderers of its answer."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from steward.cli import render
from steward.client import Client
from steward.profiles import client_for, select

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


def query(**params: Any) -> str:
    present = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(present) if present else ""


def items_table(columns: list[render.Column]) -> Renderer:
    return lambda payload: render.table(payload.get("items", []), columns)


def record_of(keys: list[str] | None = None) -> Renderer:
    return lambda payload: render.record(payload, keys)


def command(
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
