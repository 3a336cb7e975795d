"""The trainer contract, SageMaker's training layout under ``$STEWARD_ML_ROOT``.

In: ``input/data/{train,validation}/data.parquet`` (the model's features plus ``label``),
``input/config/hyperparameters.json`` and the ``SM_*`` variables. Out: ``model/`` with one
artifact of a Steward flavor (plus an optional ``signature.json``), an optional
``output/metrics.json`` and, on a non-zero exit, ``output/failure``. Rows go to ``train``
or ``validation`` by ``held_out(request_id)``: the retrain workflow passes
:func:`steward.lifecycle.retrain.is_holdout`, the built-in trainer's 80/20 split by a hash.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steward.domain import log_schema as schema
from steward.domain.errors import ValidationFailed
from steward.domain.models import Flavor
from steward.runtimes.safety import looks_like_pickle

CHANNELS = ("train", "validation")
ARTIFACTS = {"model.onnx": Flavor.ONNX, "model.skops": Flavor.SKLEARN, "model.json": None}
SIGNATURE = "signature.json"
MAX_FAILURE = 2000  # characters of output/failure kept as the run's error
MAX_METRICS = 100
HeldOut = Callable[[str], bool]  # whether a request id's row goes to validation


class TrainerFailed(ValidationFailed):
    """The trainer ran and failed, or left a result the contract refuses."""


@dataclass(frozen=True)
class TrainerResult:
    flavor: Flavor
    artifact: bytes
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def model_dir(root: Path) -> Path:
    return root / "model"


def environment(
    root: Path, hyperparameters: dict[str, Any], extra: Iterable[str] = ()
) -> dict[str, str]:
    """The variables SageMaker sets for a training job, rooted at ``root``; ``extra``: the
    retrain policy's channels by URI, each ``SM_CHANNEL_<NAME>`` beside train and
    validation."""
    data = root / "input" / "data"
    channels = [*CHANNELS, *sorted(extra)]
    return {
        "STEWARD_ML_ROOT": str(root),
        "SM_MODEL_DIR": str(model_dir(root)),
        "SM_INPUT_DIR": str(root / "input"),
        "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_CHANNELS": json.dumps(channels),
        **{f"SM_CHANNEL_{c.upper()}": str(data / c) for c in channels},
        "SM_HPS": json.dumps(hyperparameters, sort_keys=True),
    }


def channel_tables(
    rows: list[dict[str, Any]], features: list[str], held_out: HeldOut
) -> dict[str, bytes]:
    """Steward's two channels as Parquet files (``data.parquet`` of each)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables: dict[str, bytes] = {}
    columns = [*features, "label"]
    for name, part in channel_rows(rows, features, held_out).items():
        sink = io.BytesIO()
        pq.write_table(pa.table({c: [r[c] for r in part] for c in columns}), sink)
        tables[name] = sink.getvalue()
    return tables


def extra_path(channel: str, prefix_uri: str, uri: str) -> str:
    """Where an object of an extra channel lands, relative to ``input/data``: its key
    below the channel's prefix (a prefix naming one object keeps the object's name)."""
    rest = uri[len(prefix_uri) :].lstrip("/") if uri != prefix_uri else uri.rsplit("/", 1)[-1]
    parts = [p for p in rest.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise TrainerFailed(f"channel {channel}: {uri} has no safe name below its prefix")
    return "/".join([channel, *parts])


def channel_rows(
    rows: list[dict[str, Any]], features: list[str], held_out: HeldOut
) -> dict[str, list[dict[str, Any]]]:
    """The joined rows (log columns) as the trainer sees them: the model's features by
    name plus ``label``, in request-id order, split by a hash of the request id."""
    split: dict[str, list[dict[str, Any]]] = {c: [] for c in CHANNELS}
    for row in sorted(rows, key=lambda r: str(r[schema.REQUEST_ID])):
        out = {f: row[schema.column_of(f)] for f in features}
        out["label"] = row[schema.LABEL]
        split["validation" if held_out(str(row[schema.REQUEST_ID])) else "train"].append(out)
    return split


def write_layout(
    root: Path,
    rows: list[dict[str, Any]],
    features: list[str],
    hyperparameters: dict[str, Any],
    held_out: HeldOut,
    extra: dict[str, dict[str, bytes]] | None = None,
) -> dict[str, str]:
    """Lay out the input of a run under ``root``; returns its ``SM_*`` environment.
    ``extra``: each extra channel's files by their path below ``input/data``."""
    for name, data in channel_tables(rows, features, held_out).items():
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data.parquet").write_bytes(data)
    for files in (extra or {}).values():
        for relative, data in files.items():
            target = root / "input" / "data" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    for name in extra or {}:
        (root / "input" / "data" / name).mkdir(parents=True, exist_ok=True)
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters, sort_keys=True))
    for folder in (model_dir(root), root / "output" / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    return environment(root, hyperparameters, extra or {})


def failure_text(root: Path) -> str | None:
    path = root / "output" / "failure"
    if not path.is_file():
        return None
    text = path.read_text(errors="replace").strip()
    return text[:MAX_FAILURE] or None


def _metrics(root: Path) -> dict[str, float]:
    path = root / "output" / "metrics.json"
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text())
    except ValueError:
        raise TrainerFailed("output/metrics.json is not JSON") from None
    if not isinstance(found, dict) or len(found) > MAX_METRICS:
        raise TrainerFailed(f"output/metrics.json must be an object of ≤ {MAX_METRICS} numbers")
    metrics: dict[str, float] = {}
    for key, value in found.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise TrainerFailed(f"output/metrics.json: {str(key)[:60]!r} is not a finite number")
        metrics[str(key)[:100]] = float(value)
    return metrics


def read_result(root: Path, decision: Flavor | None = None) -> TrainerResult:
    """What a successful run left in ``model/`` and ``output/``; anything outside the
    contract (a pickle, two artifacts, none, a stray file) is a :class:`TrainerFailed`.
    ``decision``: the flavor a ``model.json`` is (the champion's decision flavor)."""
    folder = model_dir(root)
    found = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    artifacts = [n for n in found if n in ARTIFACTS]
    stray = [n for n in found if n not in ARTIFACTS and n != SIGNATURE]
    allowed = ", ".join(ARTIFACTS)
    if stray:
        raise TrainerFailed(
            f"model/ holds {', '.join(stray[:5])}: only one of {allowed} (plus {SIGNATURE}) "
            "is accepted; pickles are never loaded"
        )
    if len(artifacts) != 1:
        raise TrainerFailed(f"model/ must hold exactly one of {allowed}, found {len(artifacts)}")
    data = (folder / artifacts[0]).read_bytes()
    if looks_like_pickle(data):
        raise TrainerFailed(f"model/{artifacts[0]} is a pickle: write ONNX, skops or JSON")
    flavor = ARTIFACTS[artifacts[0]] or decision
    if flavor is None:
        raise TrainerFailed("model/model.json is a decision model: the champion is not one")
    signature = None
    if (folder / SIGNATURE).is_file():
        try:
            signature = json.loads((folder / SIGNATURE).read_text())
        except ValueError:
            raise TrainerFailed(f"model/{SIGNATURE} is not JSON") from None
    return TrainerResult(flavor, data, signature, _metrics(root))
