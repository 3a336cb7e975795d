"""Planning a distributed drift run: the window's log files, grouped into batches that one
map child evaluates well within its time limit.

Rows come from each file's Parquet footer (one ranged read per file, in parallel): given the
window, only the row groups whose ``ts`` statistics do not place them wholly outside it (the
rate of the attribution sample depends on it); bytes from the listing (one per hour folder,
in parallel). A file whose footer cannot be read counts its bytes only: the evaluation skips
and reports it anyway.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from steward.domain import log_schema as schema
from steward.domain.limits import MAX_BATCH_BYTES, MAX_BATCH_ROWS, MAX_BATCHES

FOOTER_READ = 64 * 1024
_MAGIC = b"PAR1"


@dataclass(frozen=True)
class LogFile:
    key: str
    size: int
    rows: int | None = None  # from the footer; None when it cannot be read


@dataclass
class Batch:
    keys: list[str] = field(default_factory=list)
    bytes: int = 0
    rows: int = 0


def footer_rows(tail: bytes, window: tuple[datetime, datetime] | None = None) -> int | None:
    """Rows of a Parquet file from its last bytes (in the row groups that may hold rows of
    ``window``), or ``None`` if they are not a footer (or the footer is longer than
    ``tail``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(tail) < 12 or tail[-4:] != _MAGIC:
        return None
    (length,) = struct.unpack("<I", tail[-8:-4])
    if length + 8 > len(tail):
        return None
    metadata = tail[-8 - length :]  # the thrift footer, its length and the magic
    try:
        meta = pq.read_metadata(pa.BufferReader(_MAGIC + metadata))
    except (pa.ArrowInvalid, OSError):
        return None
    return int(meta.num_rows) if window is None else _window_rows(meta, window)


def _window_rows(meta: Any, window: tuple[datetime, datetime]) -> int:
    from steward.logs.reader import NONE, coverage

    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if schema.TS not in names:
        return int(meta.num_rows)
    ts = names.index(schema.TS)
    start, end = window[0], window[1] - timedelta(microseconds=1)
    groups = (meta.row_group(i) for i in range(meta.num_row_groups))
    return sum(g.num_rows for g in groups if coverage(g.column(ts).statistics, start, end) != NONE)


def listed(
    folders: list[str], sizes: Callable[[str], dict[str, int]], threads: int = 16
) -> dict[str, int]:
    """Every file of the folders with its size: one listing per folder, ``threads`` at a
    time (a 31-day window is 744 hour folders: in series, most of the API's 29 s)."""
    found: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(folders)))) as pool:
        for part in pool.map(sizes, folders):
            found |= part
    return found


def with_rows(
    sizes: dict[str, int],
    tail: Callable[[str, int], bytes],
    threads: int = 16,
    window: tuple[datetime, datetime] | None = None,
) -> list[LogFile]:
    """The files in key order, each with its row count (in ``window``) read from its footer."""

    def one(key: str) -> LogFile:
        size = sizes[key]
        rows = footer_rows(tail(key, min(size, FOOTER_READ)), window) if size else 0
        return LogFile(key, size, rows)

    keys = sorted(sizes)
    if len(keys) <= 1:
        return [one(k) for k in keys]
    with ThreadPoolExecutor(max_workers=min(threads, len(keys))) as pool:
        return list(pool.map(one, keys))


def batches(
    files: Iterable[LogFile],
    max_rows: int = MAX_BATCH_ROWS,
    max_bytes: int = MAX_BATCH_BYTES,
    max_batches: int = MAX_BATCHES,
) -> list[Batch]:
    """Consecutive files per batch, each batch within ``max_rows`` and ``max_bytes`` (a file
    larger than either gets a batch of its own); at most ``max_batches`` batches, the limits
    growing together when the window would need more."""
    files = list(files)
    needed = max(
        sum(f.rows or 0 for f in files) / (max_rows * max_batches),
        sum(f.size for f in files) / (max_bytes * max_batches),
    )
    scale = 1.0
    while True:
        out = _greedy(files, math.ceil(max_rows * scale), math.ceil(max_bytes * scale))
        if len(out) <= max_batches:
            return out
        scale = max(scale * 1.25, needed)


def _greedy(files: list[LogFile], max_rows: int, max_bytes: int) -> list[Batch]:
    out: list[Batch] = []
    current = Batch()
    for f in files:
        rows = f.rows or 0
        if current.keys and (current.rows + rows > max_rows or current.bytes + f.size > max_bytes):
            out.append(current)
            current = Batch()
        current.keys.append(f.key)
        current.rows += rows
        current.bytes += f.size
    if current.keys:
        out.append(current)
    return out
