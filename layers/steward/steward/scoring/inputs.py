"""Scoring input: parsed, validated against the signature, and quality-flagged per record.

Missing or mistyped features are the caller's fault (422). Values out of the declared range,
unseen categories and nulls are scored but flagged, so that monitoring sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import from_json

from steward.domain.errors import PayloadTooLarge, ValidationFailed, describe_errors
from steward.domain.frames import Columns, columns_from_records, columns_from_split
from steward.domain.models import Signature

MAX_ROWS = 10_000
MAX_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(min_length=1)
    data: list[list[Any]]


class PredictRequest(BaseModel):
    """``{"instances": [...]}`` or ``{"dataframe_split": {...}}``; optional entity keys for
    sticky routing (else each record's request id)."""

    model_config = ConfigDict(extra="forbid")

    instances: list[dict[str, Any]] | None = None
    dataframe_split: Split | None = None
    keys: list[str] | None = None

    @model_validator(mode="after")
    def _one(self) -> PredictRequest:
        if (self.instances is None) == (self.dataframe_split is None):
            raise ValueError("give exactly one of instances or dataframe_split")
        return self

    def __repr__(self) -> str:
        # Frameworks log request objects; a 1,000-row repr costs milliseconds on the hot path.
        return f"PredictRequest(rows={self.rows})"

    @property
    def rows(self) -> int:
        if self.instances is not None:
            return len(self.instances)
        return len(self.dataframe_split.data) if self.dataframe_split else 0


def parse_request(body: str | bytes | None) -> PredictRequest:
    """Parse with pydantic-core's JSON parser (a third of ``json.loads`` here). The common
    shape, ``{"instances": [{...}, ...]}`` with optional string keys, is checked in a few
    set operations, which is half the cost of validating every record's dict again; any
    other body takes the full validation, which also words every error."""
    check_size(body)
    if not body:
        raise ValidationFailed("the request body is empty: send instances or dataframe_split")
    try:
        data = from_json(body)
    except ValueError:
        data = None
    if _plain_instances(data):
        return PredictRequest.model_construct(instances=data["instances"], keys=data.get("keys"))
    try:
        return PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ValidationFailed(describe_errors(exc.errors())) from None


_REQUEST_KEYS = frozenset({"instances", "keys"})
_DICT, _STR = frozenset({dict}), frozenset({str})


def _plain_instances(data: Any) -> bool:
    """Would ``PredictRequest`` accept ``data`` as is, with instances? (JSON object keys are
    always strings, and a record's values are validated against the signature later.)"""
    if type(data) is not dict or "instances" not in data or not _REQUEST_KEYS.issuperset(data):
        return False
    instances, keys = data["instances"], data.get("keys")
    if type(instances) is not list or not _DICT.issuperset(map(type, instances)):
        return False
    return keys is None or (type(keys) is list and _STR.issuperset(map(type, keys)))


def check_size(body: str | bytes | None) -> None:
    if body is not None and len(body) > MAX_BYTES:
        raise PayloadTooLarge(f"request body over {MAX_BYTES // 2**20} MB: split the batch")


def to_columns(request: PredictRequest, signature: Signature) -> Columns:
    if request.rows == 0:
        raise ValidationFailed("no records to score")
    if request.rows > MAX_ROWS:
        raise PayloadTooLarge(f"{request.rows} records: at most {MAX_ROWS} per request")
    if request.keys is not None and len(request.keys) != request.rows:
        raise ValidationFailed("keys must have one entry per record")
    if request.instances is not None:
        return columns_from_records(request.instances, signature)
    assert request.dataframe_split is not None
    split = request.dataframe_split
    return columns_from_split(split.columns, split.data, signature)


def quality_flags(columns: Columns, signature: Signature) -> tuple[list[Sequence[str]], int]:
    """Per record, the names of the checks it failed (empty: clean), and how many records
    failed any. Checks run on whole columns; only flagged records get a list of their own."""
    rows = len(next(iter(columns.values())))
    hits: list[tuple[str, np.ndarray]] = []
    for spec in signature.inputs:
        values = columns[spec.name]
        if spec.numeric:
            hits.append((f"{spec.name}:null", np.isnan(values)))
            if spec.min is not None or spec.max is not None:
                with np.errstate(invalid="ignore"):
                    low = values < spec.min if spec.min is not None else False
                    high = values > spec.max if spec.max is not None else False
                hits.append((f"{spec.name}:out_of_range", np.asarray(low | high)))
        else:
            missing = np.fromiter((v is None for v in values), bool, rows)
            hits.append((f"{spec.name}:null", missing))
            if spec.categories:
                allowed = set(spec.categories)
                unseen = np.fromiter((v not in allowed for v in values), bool, rows) & ~missing
                hits.append((f"{spec.name}:unseen_category", unseen))
    flags: list[Sequence[str]] = [()] * rows
    any_hit = np.zeros(rows, bool)
    for _, mask in hits:
        any_hit |= mask
    for i in np.flatnonzero(any_hit).tolist():
        flags[i] = [name for name, mask in hits if mask[i]]
    return flags, int(any_hit.sum())
