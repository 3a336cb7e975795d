"""The one reader of the prediction and feedback logs (drift, outcomes, retrain, canary).

A file is opened once (:class:`LogFile`) and read row group by row group, only the columns
asked for, within the window and for the version: row groups whose ``ts`` and ``version``
statistics place them wholly inside are read without those columns, wholly outside not at
all, the rest filtered with one mask. Features are read from their log columns
(:func:`steward.domain.log_schema.column_of`), never from the log's own columns.

Several readers can share one pass (:func:`stream`): a drift map child counts a row group for
drift and joins it with the labels from a single read. Small windows (retrain, canary) are
read whole by :func:`read_window`, de-duplicated by ``request_id``: the writer delivers at
least once. The streaming pass does not de-duplicate (it would have to read and hash every
request id; the outcomes join de-duplicates the labelled rows in its reduce).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, Protocol

from steward.domain import log_schema as schema
from steward.ports.monitoring import LogFiles

Source = bytes | IO[bytes] | str
Window = tuple[datetime, datetime]
ALL, NONE, SOME = "all", "none", "some"


class SkipFile(Exception):
    """A log file that cannot be read; reported, never fatal."""


def is_number(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_floating(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


def coverage(statistics: Any, low: Any, high: Any) -> str:
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


def _in_window(table: Any, window: Window, version: int | None, added: list[str]) -> Any:
    """Filter a row group the statistics could not decide (one mask); drop the ``added``
    columns read only to filter."""
    import pyarrow as pa
    import pyarrow.compute as pc

    start, end = (pa.scalar(t, pa.timestamp("us", tz="UTC")) for t in window)
    ts = table.column(schema.TS)
    mask = pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))
    if version and schema.VERSION in table.column_names:
        mask = pc.and_(mask, pc.equal(table.column(schema.VERSION), version))
    mask = pc.fill_null(mask, False)
    kept = table.drop_columns(added) if added else table
    if pc.all(mask).as_py():  # filtering copies every column: only when needed
        return kept
    return kept.filter(mask)


class LogFile:
    """One log file (its bytes, or a seekable binary file: then only the footer and the
    column chunks read are fetched, so memory follows row groups, not files)."""

    def __init__(self, data: Source) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.source = pa.BufferReader(data) if isinstance(data, bytes | bytearray) else data
        try:
            self.parquet = pq.ParquetFile(self.source)
            self.schema = self.parquet.schema_arrow
        except (pa.ArrowInvalid, OSError) as exc:
            raise SkipFile(f"not a readable Parquet file ({type(exc).__name__})") from None
        self.names = set(self.schema.names)

    def timed(self) -> None:
        """Raise :class:`SkipFile` unless the file has a time column (windows filter on it)."""
        if schema.TS not in self.names:
            raise SkipFile("no ts column")

    def type_of(self, column: str) -> Any:
        return self.schema.field(column).type

    def is_string(self, column: str) -> bool:
        import pyarrow as pa

        kind = self.type_of(column)
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))

    def features(self) -> set[str]:
        """The features this file holds a column for."""
        return {f for c in self.names if (f := schema.feature_of(c)) is not None}

    def row_groups(
        self,
        window: Window,
        version: int | None,
        columns: Sequence[str],
        dictionary: Sequence[str] = (),
    ) -> Iterator[Any]:
        """The window's (and the version's) rows, one Arrow table per row group, with
        ``columns`` only; string ``dictionary`` columns come dictionary-encoded."""
        import pyarrow.parquet as pq

        self.timed()
        parquet = self.parquet
        if dictionary:  # strings read as dictionaries are counted on their indices
            parquet = pq.ParquetFile(
                self.source, metadata=parquet.metadata, read_dictionary=list(dictionary)
            )
        metadata = parquet.metadata
        positions = {
            metadata.schema.column(i).name: i
            for i in range(metadata.num_columns)
            if metadata.schema.column(i).name in (schema.TS, schema.VERSION)
        }
        filters = [schema.TS] + (
            [schema.VERSION] if version and schema.VERSION in self.names else []
        )
        added = [c for c in filters if c not in columns]
        for index in range(metadata.num_row_groups):
            meta = metadata.row_group(index)
            if not meta.num_rows:
                continue
            cover = self._coverage(meta, positions, window, version)
            if cover == NONE:
                continue
            if cover == ALL:
                table = parquet.read_row_group(index, columns=list(columns), use_threads=False)
            else:
                table = parquet.read_row_group(index, columns=[*columns, *added], use_threads=False)
                table = _in_window(table, window, version, added)
            if table.num_rows:
                yield table

    @staticmethod
    def _coverage(meta: Any, positions: dict[str, int], window: Window, version: int | None) -> str:
        start, end = window
        # ts < end, at microsecond precision (statistics come back as datetimes)
        ts = meta.column(positions[schema.TS]).statistics
        cover = coverage(ts, start, end - timedelta(microseconds=1))
        if cover != ALL or not version or schema.VERSION not in positions:
            return cover
        return coverage(meta.column(positions[schema.VERSION]).statistics, version, version)


@dataclass
class Wanted:
    """What one reader reads of a file: ``columns``, and which of them as dictionaries."""

    columns: list[str]
    dictionary: list[str] = field(default_factory=list)


class RowReader(Protocol):
    """One consumer of a streaming pass (:func:`stream`)."""

    def wants(self, file: LogFile, key: str) -> Wanted | None:
        """The columns to read from ``file``; ``None``: nothing from this file (the
        reader noted why), or raise :class:`SkipFile`."""

    def add(self, table: Any) -> None:
        """One row group of the window's rows."""

    def read(self, key: str) -> None:
        """``key`` was read to its end."""

    def skip(self, key: str, reason: str) -> None:
        """``key`` could not be read (after what was added of it)."""


def stream(
    files: Iterable[tuple[str, Source]],
    window: Window,
    version: int | None,
    readers: Sequence[RowReader],
) -> None:
    """One pass over ``files``: each opened once, each row group read once with the union
    of the columns the readers want, and handed to each of them."""
    import pyarrow as pa

    for key, data in files:
        active: list[RowReader] = []
        try:
            file = LogFile(data)
            file.timed()
            columns: dict[str, None] = {}
            dictionary: dict[str, None] = {}
            for reader in readers:
                wanted = reader.wants(file, key)
                if wanted is not None:
                    active.append(reader)
                    columns |= dict.fromkeys(wanted.columns)
                    dictionary |= dict.fromkeys(wanted.dictionary)
            if active:
                for table in file.row_groups(window, version, list(columns), list(dictionary)):
                    for reader in active:
                        reader.add(table)
            for reader in active:
                reader.read(key)
        except SkipFile as exc:
            for reader in active or readers:
                reader.skip(key, str(exc))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            for reader in active or readers:
                reader.skip(key, f"unreadable ({type(exc).__name__})")


def latest(table: Any, keys: Sequence[str]) -> Any:
    """One row per ``keys``: the last one (files are read in time order: the latest)."""
    import numpy as np
    import pyarrow as pa

    if not table.num_rows:
        return table
    numbered = table.append_column("__row", pa.array(np.arange(table.num_rows)))
    rows = numbered.group_by(list(keys), use_threads=False).aggregate([("__row", "max")])
    return table.take(np.sort(rows.column("__row_max").to_numpy()))  # in the order read


def read_window(
    logs: LogFiles,
    kind: str,
    name: str,
    window: Window,
    columns: Sequence[str] = (),
    features: Sequence[str] = (),
) -> Any:
    """One Arrow table of a (small) window's rows, or ``None`` when it has no file: the log
    ``columns`` and the ``features`` under their log columns (:func:`column_of`), a file
    without one unified with nulls; one row per ``request_id`` (per request id and version
    when ``version`` is a column: a shadow scores the same request), the latest. A file
    that cannot be read is left out."""
    import pyarrow as pa

    wanted = [schema.REQUEST_ID, *columns, *(schema.column_of(f) for f in features)]
    wanted = list(dict.fromkeys(wanted))
    tables = []
    for key in logs.window_keys(kind, name, *window):
        try:
            file = LogFile(logs.read(key))
            present = [c for c in wanted if c in file.names]
            tables += list(file.row_groups(window, None, present))
        except SkipFile:
            continue
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="permissive")
    for column in wanted:
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows))
    by = [schema.REQUEST_ID] + ([schema.VERSION] if schema.VERSION in columns else [])
    return latest(table.select(wanted), by)
