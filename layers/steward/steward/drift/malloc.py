"""glibc malloc tuning for streaming evaluation.

By default glibc serves allocations of 128 KB and more with fresh ``mmap`` calls and returns
them on free, so the ~1 MB temporaries made for each row group are mapped and page-faulted
every time. Raising ``M_MMAP_THRESHOLD`` keeps them in the heap, where they are reused.
Anywhere else (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 64 * 1024 * 1024

_done = False


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True if it applied."""
    global _done
    if _done or os.environ.get("STEWARD_MALLOC_TUNING") == "off":
        return _done
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, 2 * THRESHOLD)
    )
