"""``steward trainer set|show``: a model's own trainer (``retrain.trainer: custom`` runs it)."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from steward.cli.base import client, command, record_of


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


TRAINER_KEYS = ["sha256", "backend", "entry_point", "requirements", "hyperparameters"]
TRAINER_KEYS += ["timeout_s", "size", "updated_by", "updated_at"]


def add_trainer_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The model's own trainer (``retrain.trainer: custom`` runs it)."""
    group = sub.add_parser(
        "trainer", help="set or show a model's own trainer", description="A model's trainer."
    ).add_subparsers(dest="trainer_command", required=True)
    st = command(
        group,
        "set",
        "set the model's trainer (audited)",
        trainer_set,
        record_of(TRAINER_KEYS),
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
    sh = command(
        group, "show", "the model's trainer", trainer_show, record_of(TRAINER_KEYS), common
    )
    sh.add_argument("name")
