"""Planning a distributed drift run: the window's log files, grouped into batches that one
map child evaluates well within its time limit.

Rows come from each file's Parquet footer (one ranged read per file, in parallel); bytes
from the listing (one per hour folder, in parallel). A file whose footer cannot be read
counts its bytes only: the evaluation skips and reports it anyway.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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


def footer_rows(tail: bytes) -> int | None:
    """Rows of a Parquet file from its last bytes, or ``None`` if they are not a footer
    (or the footer is longer than ``tail``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(tail) < 12 or tail[-4:] != _MAGIC:
        return None
    (length,) = struct.unpack("<I", tail[-8:-4])
    if length + 8 > len(tail):
        return None
    metadata = tail[-8 - length :]  # the thrift footer, its length and the magic
    try:
        return int(pq.read_metadata(pa.BufferReader(_MAGIC + metadata)).num_rows)
    except (pa.ArrowInvalid, OSError):
        return None


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
    sizes: dict[str, int], tail: Callable[[str, int], bytes], threads: int = 16
) -> list[LogFile]:
    """The files in key order, each with its row count read from its footer."""

    def one(key: str) -> LogFile:
        size = sizes[key]
        return LogFile(key, size, footer_rows(tail(key, min(size, FOOTER_READ))) if size else 0)

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
