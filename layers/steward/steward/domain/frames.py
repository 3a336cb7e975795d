"""Tabular input as columns: numeric features as float64 arrays (NaN for missing), the
others as object arrays (None for missing). No pandas: this is on the scoring path."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from steward.domain.errors import ValidationFailed
from steward.domain.models import FeatureSpec, Signature

Columns = dict[str, np.ndarray]


def _numeric(spec: FeatureSpec, values: Sequence[Any], row0: int = 0) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None:
            out[i] = math.nan  # missing: scored where the model allows, and profiled
        elif isinstance(value, (bool, int | float)):
            out[i] = float(value)
        else:
            raise ValidationFailed(
                f"row {row0 + i}: {spec.name} must be a number, not {type(value).__name__}"
            )
    return whole_numbers(spec, out)


def whole_numbers(spec: FeatureSpec, values: np.ndarray) -> np.ndarray:
    """``values`` (float64, NaN for missing) checked as an integer feature's must be."""
    if spec.type == "integer":
        given = values[~np.isnan(values)]
        if given.size and not np.all(given == np.round(given)):
            raise ValidationFailed(f"{spec.name} must be an integer")
    return values


def _strings(spec: FeatureSpec, values: Sequence[Any], row0: int = 0) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if value is None or isinstance(value, str):
            out[i] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[i] = str(value)
        else:
            raise ValidationFailed(f"row {row0 + i}: {spec.name} must be a string")
    return out


_PLAIN_NUMBERS = frozenset({float, int})
_STR = frozenset({str})
_DICT = frozenset({dict})


def column(spec: FeatureSpec, values: Sequence[Any]) -> np.ndarray:
    if spec.numeric:
        # Fast path: plain floats and ints convert in one numpy call; anything else (None,
        # bools, wrong types) takes the checking path, which names the offending row.
        if _PLAIN_NUMBERS.issuperset(map(type, values)):
            out = np.array(values, dtype=np.float64)
            if spec.type == "integer" and not np.all(out == np.round(out)):
                raise ValidationFailed(f"{spec.name} must be an integer")
            return out
        return _numeric(spec, values)
    if _STR.issuperset(map(type, values)):
        return np.array(values, dtype=object)
    return _strings(spec, values)


def columns_from_records(records: Sequence[Mapping[str, Any]], signature: Signature) -> Columns:
    """Validate records against the signature's inputs; a missing feature is a 422."""
    if not _DICT.issuperset(map(type, records)):  # the common case, checked fast
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise ValidationFailed(f"row {i}: each instance must be an object")
    missing = [f.name for f in signature.inputs if records and f.name not in records[0]]
    if missing:
        raise ValidationFailed(f"missing feature(s): {', '.join(missing)}")
    columns: Columns = {}
    for spec in signature.inputs:
        try:
            values = list(map(itemgetter(spec.name), records))
        except KeyError:
            raise ValidationFailed(f"missing feature: {spec.name}") from None
        columns[spec.name] = column(spec, values)
    return columns


def columns_from_split(
    names: Sequence[str], data: Sequence[Sequence[Any]], signature: Signature
) -> Columns:
    index = {name: i for i, name in enumerate(names)}
    missing = [f.name for f in signature.inputs if f.name not in index]
    if missing:
        raise ValidationFailed(f"missing feature(s): {', '.join(missing)}")
    width = len(names)
    for i, row in enumerate(data):
        if len(row) != width:
            raise ValidationFailed(f"row {i} has {len(row)} values for {width} columns")
    return {
        spec.name: column(spec, [row[index[spec.name]] for row in data])
        for spec in signature.inputs
    }


def infer_signature(records: Sequence[Mapping[str, Any]]) -> Signature:
    """A signature from example rows: numbers are doubles, strings categorical."""
    if not records:
        raise ValidationFailed("cannot infer a signature from no rows")
    features = []
    for name in records[0]:
        values = [r.get(name) for r in records if r.get(name) is not None]
        if values and all(isinstance(v, str) for v in values):
            categories = sorted({str(v) for v in values})[:1000]
            features.append(FeatureSpec(name=name, type="string", categories=categories))
        elif all(isinstance(v, int | float) for v in values):
            features.append(FeatureSpec(name=name, type="double"))
        else:
            raise ValidationFailed(f"cannot infer a type for {name}: mixed values")
    return Signature(inputs=features)


def n_rows(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0
