"""Rows as the client sends them: a list of records, or a table shaped like a pandas
DataFrame, without depending on pandas.

A DataFrame is recognised by what it does (``columns`` and ``to_dict(orient="split")``),
so pandas (or anything with that shape) works where a user has it and is never imported
here. Values become JSON's: numpy scalars their Python value, NaN and missing values
``null``, timestamps ISO 8601 text. Files (``.json``, ``.csv``; ``.parquet`` with pyarrow)
are read with the standard library where it can.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"})


@runtime_checkable
class FrameLike(Protocol):
    """What the client needs of a DataFrame (pandas, or any look-alike)."""

    @property
    def columns(self) -> Any: ...

    def to_dict(self, orient: str = ...) -> Any: ...


def plain(value: Any) -> Any:
    """A JSON value for ``value``: NaN, ``pd.NA`` and ``NaT`` are ``None``; numpy scalars
    their Python value; dates and timestamps ISO text."""
    if isinstance(value, float):
        return None if value != value else value
    if value is None or isinstance(value, str | bool | int):
        return value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return plain(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def is_frame(data: Any) -> bool:
    return isinstance(data, FrameLike) and not isinstance(data, Mapping)


def tabular(data: Any) -> dict[str, Any]:
    """The API's tabular body for ``data``: ``{"dataframe_split": ...}`` for a DataFrame,
    ``{"instances": [...]}`` for records (a mapping is one record)."""
    if is_frame(data):
        split = data.to_dict(orient="split")
        return {
            "dataframe_split": {
                "columns": [str(c) for c in split["columns"]],
                "data": [[plain(v) for v in row] for row in split["data"]],
            }
        }
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, Iterable) or isinstance(data, str | bytes):
        raise TypeError("give records (a list of dicts) or a DataFrame")
    return {"instances": [{str(k): plain(v) for k, v in dict(r).items()} for r in data]}


def take_column(body: dict[str, Any], name: str) -> list[Any]:
    """Remove column ``name`` from a :func:`tabular` body and return its values."""
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if name not in split["columns"]:
            raise KeyError(f"no column {name!r}")
        at = split["columns"].index(name)
        del split["columns"][at]
        return [row.pop(at) for row in split["data"]]
    return [record.pop(name) for record in body["instances"]]


def values(data: Any) -> list[Any]:
    """A column of values (labels, keys): a list, or a pandas Series (``tolist``)."""
    if hasattr(data, "tolist"):
        data = data.tolist()
    return [plain(v) for v in data]


def read_file(path: Path) -> list[dict[str, Any]]:
    """The records of a ``.json`` (a list of objects), ``.csv`` or ``.parquet`` file."""
    if path.suffix == ".json":
        rows: list[dict[str, Any]] = json.loads(path.read_text())
        return rows
    if path.suffix == ".csv":
        return read_csv(path)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SystemExit(
            f"reading {path.name} needs pyarrow: pip install pyarrow, or give .csv/.json"
        ) from None
    records: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return records


def read_csv(path: Path) -> list[dict[str, Any]]:
    """A CSV file's records, each column typed as a whole: integers, else numbers, else
    ``true``/``false``, else text; empty cells and ``NA``-like markers are ``None``."""
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        raw = list(reader)
        names = reader.fieldnames or []
    typed = {name: _column([row.get(name) for row in raw]) for name in names}
    return [{name: typed[name][i] for name in names} for i in range(len(raw))]


def _column(cells: list[str | None]) -> list[Any]:
    present = [c for c in cells if c is not None and c not in MISSING]
    for convert in (int, float, _boolean):
        try:
            converted = {c: convert(c) for c in set(present)}
        except ValueError:
            continue
        return [converted.get(c) if c is not None else None for c in cells]
    return [c if c is not None and c not in MISSING else None for c in cells]


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"
