"""Allocator tuning for streaming evaluation (measured: bench/drift.py).

By default glibc serves allocations of 128 KB and more with fresh ``mmap`` calls and returns
them on free, so the ~1 MB buffers of each row group are mapped and page-faulted every time.
Raising ``M_MMAP_THRESHOLD`` keeps them in the heap, where the next row group reuses them.
Arrow's own pool (mimalloc) purges freed pages between row groups when numpy work runs in
between, so decoding cost 1.4-1.8x the bare scan; on the tuned glibc heap it costs the same.
Where mallopt is missing (musl, macOS) nothing changes. Applied once per process by the drift
function's handler (``functions/drift/handler.py``, which the local platform loads too), not
by the evaluation itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 64 * 1024 * 1024

_state: dict[str, bool] = {}


def tune_malloc() -> bool:
    """Once per process: raise glibc's mmap and trim thresholds and have Arrow allocate from
    that heap. True if it applied. ``STEWARD_MALLOC_TUNING=off`` leaves both alone."""
    if "applied" in _state:
        return _state["applied"]
    _state["applied"] = False
    if os.environ.get("STEWARD_MALLOC_TUNING") == "off":
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    if not (mallopt(M_MMAP_THRESHOLD, THRESHOLD) and mallopt(M_TRIM_THRESHOLD, 2 * THRESHOLD)):
        return False
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    _state["applied"] = True
    return True
