"""Exact histogram binning, fast: a lookup table over the value range narrows each value to
a few candidate edges, then a short vectorized search finishes. Counts are identical to
``np.searchsorted(edges, values, side="right")`` (tested), at a fraction of the cost for
~100 edges."""

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
        self.scale = self.buckets / span if span > 0 else 0.0
        self._sentinel = np.append(self.edges, np.inf)
        if span <= 0:
            return
        # For each bucket [lo + b/scale, lo + (b+1)/scale): where the search starts (the
        # edges at or below the bucket start, less one edge of slack for the rounding of the
        # bucket arithmetic) and how many steps can reach the bucket's last edge.
        starts = self.lo + np.arange(self.buckets + 1) / self.scale
        first = np.searchsorted(self.edges, starts[:-1], side="right").astype(np.int64)
        self.first = np.maximum(first - 1, 0)
        last = np.searchsorted(self.edges, starts[1:], side="right").astype(np.int64)
        self.steps = int((last - self.first).max(initial=0)) + 2

    def bin(self, values: np.ndarray) -> np.ndarray:
        """Bin index of each finite value: edges[i-1] <= v < edges[i] is bin i."""
        if len(self.edges) == 0:
            return np.zeros(values.shape[0], dtype=np.int64)
        if self.hi <= self.lo:
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
