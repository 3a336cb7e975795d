"""The prediction log's Parquet files read for drift: row group by row group, only the
columns drift needs, within the window and for the version. Row groups whose ``ts`` and
``version`` statistics place them wholly inside the window are read without those columns;
wholly outside, not at all; the rest are filtered with one mask.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, Protocol

from steward.domain.models import Signature


class ColumnNotes(Protocol):
    """Where a read notes the columns it found missing, extra or of the wrong type."""

    missing_columns: set[str]
    extra_columns: set[str]
    type_mismatches: set[str]


class SkipFile(Exception):
    """A log file that cannot be evaluated; reported, never fatal."""


LOG_META = ("request_id", "ts", "version", "variant", "prediction", "score", "latency_ms", "flags")


def is_number(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_floating(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


ALL, NONE, SOME = "all", "none", "some"


def _coverage(statistics: Any, low: Any, high: Any) -> str:
    """Whether a row group's values of one column all lie in [low, high], none do, or it
    takes reading them to know (no statistics, nulls, types that do not compare)."""
    try:
        if statistics is None or not statistics.has_min_max or statistics.null_count != 0:
            return SOME
        lo, hi = statistics.min, statistics.max
        if lo >= low and hi <= high:
            return ALL
        if hi < low or lo > high:
            return NONE
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        pass
    return SOME


def _row_group_coverage(
    meta: Any, positions: dict[str, int], window: tuple[datetime, datetime], version: int | None
) -> str:
    from datetime import timedelta

    start, end = window
    # ts < end, at microsecond precision (statistics come back as datetimes)
    cover = _coverage(
        meta.column(positions["ts"]).statistics, start, end - timedelta(microseconds=1)
    )
    if cover != ALL or not version or "version" not in positions:
        return cover
    return _coverage(meta.column(positions["version"]).statistics, version, version)


def _in_window(table: Any, window: tuple[datetime, datetime], version: int | None) -> Any:
    """Filter a row group the statistics could not decide: the mask is computed once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    start, end = (pa.scalar(t, pa.timestamp("us", tz="UTC")) for t in window)
    ts = table.column("ts")
    mask = pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))
    if version and "version" in table.column_names:
        mask = pc.and_(mask, pc.equal(table.column("version"), version))
    mask = pc.fill_null(mask, False)
    kept = table.drop_columns([c for c in ("ts", "version") if c in table.column_names])
    if pc.all(mask).as_py():  # filtering copies every column: only when needed
        return kept
    return kept.filter(mask)


Source = bytes | IO[bytes] | str


def read_file(
    key: str,
    data: Source,
    signature: Signature,
    window: tuple[datetime, datetime],
    version: int | None,
    partial: ColumnNotes,
) -> Iterator[tuple[Any, str | None]]:
    """Yield ``(table, score column)`` row group by row group, within the window, with only
    the columns drift needs. Row groups that the ``ts``/``version`` statistics place wholly
    inside the window are read without those columns; wholly outside, not read at all.
    ``data`` is the file's bytes or a seekable binary file: with a file, only the needed
    column chunks are read, so memory follows row groups, not files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pa.BufferReader(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise SkipFile(f"not a readable Parquet file ({type(exc).__name__})") from None
    names = set(schema.names)
    if "ts" not in names:
        raise SkipFile("no ts column")
    inputs = {f.name for f in signature.inputs}
    partial.missing_columns |= inputs - names
    partial.extra_columns |= names - inputs - set(LOG_META)
    score = next((c for c in ("score", "prediction") if c in names), None)
    columns: list[str] = []
    for spec in signature.inputs:
        if spec.name not in names:
            continue
        if spec.numeric and not is_number(schema.field(spec.name).type):
            partial.type_mismatches.add(spec.name)
            continue
        columns.append(spec.name)
    columns += [score] if score else []
    strings = [
        c
        for c in columns
        if pa.types.is_string(schema.field(c).type)
        or pa.types.is_large_string(schema.field(c).type)
    ]
    if strings:  # read string columns as dictionaries: counted on indices
        parquet = pq.ParquetFile(source, metadata=parquet.metadata, read_dictionary=strings)
    metadata = parquet.metadata
    positions = {
        metadata.schema.column(i).name: i
        for i in range(metadata.num_columns)
        if metadata.schema.column(i).name in ("ts", "version")
    }
    for index in range(metadata.num_row_groups):
        meta = metadata.row_group(index)
        if not meta.num_rows:
            continue
        cover = _row_group_coverage(meta, positions, window, version)
        if cover == NONE:
            continue
        if cover == ALL:
            table = parquet.read_row_group(index, columns=columns, use_threads=False)
        else:
            extra = ["ts"] + (["version"] if version and "version" in names else [])
            table = parquet.read_row_group(index, columns=columns + extra, use_threads=False)
            table = _in_window(table, window, version)
        if table.num_rows:
            yield table, score
