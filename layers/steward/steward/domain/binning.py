"""Exact histogram binning, fast: a lookup table over the value range narrows each value to
the edges of its own bucket (usually none or one), then a short vectorized search finishes.
Counts are identical to ``np.searchsorted(edges, values, side="right")`` (tested), at a
fraction of its cost for ~100 edges."""

from __future__ import annotations

import numpy as np

BUCKETS_PER_EDGE = 16


class Binner:
    def __init__(self, edges: list[float] | np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        n = len(self.edges)
        self.bins = n + 1
        if n == 0:
            return
        self.lo, self.hi = float(self.edges[0]), float(self.edges[-1])
        self.buckets = max(BUCKETS_PER_EDGE * n, 1)
        span = self.hi - self.lo
        with np.errstate(divide="ignore", over="ignore"):
            scale = self.buckets / span if span > 0 else np.inf
        # A span too narrow to scale (all edges equal, or a few ulps apart) is searched plainly.
        self.lookup = bool(np.isfinite(scale))
        self.scale = float(scale) if self.lookup else 0.0
        self._sentinel = np.append(self.edges, np.inf)
        if not self.lookup:
            return
        # The edges go through the very arithmetic the values will: an edge in an earlier
        # bucket than a value is below it (the mapping is monotonic), so the search for a
        # value starts after those and only compares with the edges of its own bucket.
        edge_buckets = np.minimum(
            ((self.edges - self.lo) * self.scale).astype(np.int64), self.buckets - 1
        )
        self.first = np.searchsorted(edge_buckets, np.arange(self.buckets), side="left")
        self.steps = int(np.bincount(edge_buckets, minlength=self.buckets).max())

    def bin(self, values: np.ndarray) -> np.ndarray:
        """Bin index of each finite value: edges[i-1] <= v < edges[i] is bin i."""
        if len(self.edges) == 0:
            return np.zeros(values.shape[0], dtype=np.int64)
        if not self.lookup:
            return np.searchsorted(self.edges, values, side="right")
        with np.errstate(invalid="ignore", over="ignore"):  # far outliers: fixed below
            bucket = ((values - self.lo) * self.scale).astype(np.int64)
        np.clip(bucket, 0, self.buckets - 1, out=bucket)
        index = self.first[bucket]
        below = values < self.lo
        above = values >= self.hi
        for _ in range(self.steps):
            index += values >= self._sentinel[index]
        index[below] = 0
        index[above] = len(self.edges)
        return index

    def counts(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.bin(values), minlength=self.bins)
