"""Turn a request's tabular data (inline rows or an s3:// Parquet/CSV object) into rows."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

from steward.domain.errors import ValidationFailed
from steward.ports import ArtifactStore
from steward.registry.requests import MAX_ROWS, TabularData


def _parse_file(uri: str, data: bytes) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if uri.endswith(".csv") or uri.endswith(".csv.gz"):
            table = pacsv.read_csv(io.BytesIO(data))
        else:
            table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError):
        raise ValidationFailed(f"{uri} is not readable Parquet or CSV") from None
    if table.num_rows > MAX_ROWS:
        table = table.slice(0, MAX_ROWS)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def rows_of(data: TabularData, artifacts: ArtifactStore) -> list[dict[str, Any]]:
    if data.instances is not None:
        return data.instances
    if data.dataframe_split is not None:
        split = data.dataframe_split
        width = len(split.columns)
        for i, row in enumerate(split.data):
            if len(row) != width:
                raise ValidationFailed(f"row {i} has {len(row)} values for {width} columns")
        return [dict(zip(split.columns, row, strict=True)) for row in split.data]
    assert data.uri is not None
    return _parse_file(data.uri, artifacts.get(data.uri))


def encode_sample(rows: list[dict[str, Any]], labels: list[Any] | None = None) -> bytes:
    """A small row sample (reference or holdout) as gzipped JSON lines: readable by every
    function without pyarrow."""
    lines = [
        json.dumps({"row": row, **({"label": labels[i]} if labels else {})})
        for i, row in enumerate(rows)
    ]
    return gzip.compress("\n".join(lines).encode(), mtime=0)


def decode_sample(data: bytes) -> tuple[list[dict[str, Any]], list[Any] | None]:
    records = [json.loads(line) for line in gzip.decompress(data).decode().splitlines() if line]
    rows = [r["row"] for r in records]
    labels = [r["label"] for r in records] if records and "label" in records[0] else None
    return rows, labels
