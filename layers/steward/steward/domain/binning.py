"""Exact histogram binning, fast: a lookup table over the value range narrows each value to
the edges of its own bucket (usually none or one), then a short vectorized search finishes.
Counts are identical to ``np.searchsorted(edges, values, side="right")`` (tested), at a
fraction of its cost for ~100 edges.

:meth:`Binner.count_into` is the streaming path: it never forms a bin index per value. Every
value goes through one monotonic bucket function ``g``; a bucket that holds no edge lies
wholly inside one bin (an edge in an earlier bucket is below every value of the bucket, one
in a later bucket above), so a histogram of buckets gives those counts, and only the few
values whose bucket holds an edge are compared with the edges themselves.

Faster still, a grid on which no bucket straddles an edge, so that counting is a bincount
and nothing else: reference profiles place their edges on one (:func:`snap_edges`), a
power-of-two :class:`TieGrid` (a value's bucket is one add and one integer subtract away)
or, for positive heavy-tailed edges, the logarithmic :class:`BitGrid` (one shift and one
subtract). Edges on neither (profiles made before the grids, or hand-written) take the path
above: all are exact.
"""

from __future__ import annotations

import math
import threading

import numpy as np

BUCKETS_PER_EDGE = 16
COUNT_BUCKETS_PER_EDGE = 64  # finer for counting: few values land in a bucket with an edge

_scratch = threading.local()


def scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-thread scratch arrays of at least ``n`` elements, reused from call to call:
    fresh ~1 MB temporaries per row group would be mapped and page-faulted each time."""
    floats: np.ndarray | None = getattr(_scratch, "floats", None)
    if floats is None or floats.size < n:
        floats = _scratch.floats = np.empty(n, np.float64)
        _scratch.ints = np.empty(n, np.intp)
    ints: np.ndarray = _scratch.ints
    return floats[:n], ints[:n]


def scratch_mask(n: int) -> np.ndarray:
    mask: np.ndarray | None = getattr(_scratch, "mask", None)
    if mask is None or mask.size < n:
        mask = _scratch.mask = np.empty(n, bool)
    return mask[:n]


_MAGIC = 1.5 * 2.0**52  # in [2^52, 2^53) the spacing of doubles is 1: adding it rounds
SNAP = 32  # grid steps per smallest gap between edges: an edge moves by under 1/16 of it
MAX_GRID = 1 << 17  # buckets: the bincount table stays in the core's cache


def snap_edges(edges: list[float] | np.ndarray) -> list[float]:
    """Move each cut point down onto the tie grid of :class:`TieGrid`, by under 1/16 of the
    smallest gap between cut points (so none merge), and counting needs no comparisons at
    all. Positive cut points that no such grid of at most ``MAX_GRID`` buckets can hold
    (crowded in a small part of a wide range, as in heavy-tailed data) go onto the
    logarithmic :class:`BitGrid` instead; others are returned unchanged."""
    array = np.asarray(edges, dtype=np.float64)
    unchanged = [float(e) for e in array]
    if array.size == 0 or not np.all(np.isfinite(array)):
        return unchanged
    if array.size > 1:
        gap = float(np.diff(array).min())
    else:
        gap = abs(float(array[0])) * 2.0**-15 or 1.0
    _, exponent = math.frexp(gap / SNAP)
    if not gap > 0 or exponent < -1000:
        return unchanged
    width = math.ldexp(1.0, exponent - 1)  # a power of two: every step below is exact
    with np.errstate(over="ignore"):
        ticks = np.floor(array / width - 0.5)  # (m + 0.5) * width <= edge
    if np.abs(ticks).max() >= 2.0**50:
        return unchanged
    ticks -= ticks % 2 == 0  # m odd: a value on the edge rounds up, to the even bucket
    snapped = (ticks + 0.5) * width
    if TieGrid.of(snapped) is not None:
        return [float(e) for e in snapped]
    return _snap_bits(array) or unchanged


def _snap_bits(edges: np.ndarray) -> list[float] | None:
    """Positive edges crowded in a wide range (heavy tails): keep only the mantissa bits a
    :class:`BitGrid` needs, which moves each edge down by under 1/32 of its gaps."""
    if not np.all(edges > 0):
        return None
    ratio = float((edges[1:] / edges[:-1]).min() - 1) if edges.size > 1 else 2.0**-15
    if not ratio > 0:
        return None
    kept = math.ceil(math.log2(SNAP * (1 + ratio) / ratio))  # mantissa bits of the grid
    if kept > 50:
        return None
    shift = 52 - kept
    snapped = ((edges.view(np.int64) >> shift) << shift).view(np.float64)
    return [float(e) for e in snapped] if BitGrid.of(snapped) is not None else None


class _Grid:
    """A bucket function under which no bucket straddles an edge: counting is a bincount of
    buckets summed per bin. Edges and values go through the very same arithmetic
    (:meth:`_bucket_into`), which is what makes the counts exact."""

    size: int

    def _bucket_into(
        self, values: np.ndarray, floats: np.ndarray, ints: np.ndarray, inside: bool
    ) -> np.ndarray:
        """Each value's bucket, computed in the scratch arrays; ``inside``: every value is
        known to lie in the grid, so the clip is spared."""
        raise NotImplementedError

    def inside(self, low: float, high: float) -> bool:
        raise NotImplementedError

    def _place(self, edges: np.ndarray) -> bool:
        """The buckets where bins start; whether every edge starts one of its own."""
        self.starts = self.buckets(edges)
        self.reduce_at = np.concatenate([[0], self.starts])
        return bool(np.all(np.diff(self.starts) > 0) and self.starts[0] > 0)

    def buckets(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        floats, ints = np.empty(values.shape, np.float64), np.empty(values.shape, np.intp)
        return self._bucket_into(values, floats, ints, False)

    def count_into(self, values: np.ndarray, out: np.ndarray, inside: bool) -> None:
        floats, ints = scratch(values.shape[0])
        per_bucket = np.bincount(
            self._bucket_into(values, floats, ints, inside), minlength=self.size
        )
        out += np.add.reduceat(per_bucket, self.reduce_at)


class TieGrid(_Grid):
    """Counting when every edge is a tie point of a power-of-two grid: an edge is
    ``(m + 0.5) * w`` with ``m`` odd. Then ``fl(v + D)`` with ``D = (1.5 * 2^52 + o) * w``
    rounds ``v / w + o`` to the nearest integer (ties to even, which sends a value on an edge
    up), and the bits of the result less those of ``1.5 * 2^52 * w`` are that integer: one
    add and one integer subtract give each value's bucket. Built only when the edges allow it."""

    def __init__(self, width: float, offset: int, size: int) -> None:
        self.width = width
        self.size = size
        self.add = (_MAGIC + offset) * width
        self.base = int(np.float64(_MAGIC * width).view(np.int64))
        # value range of buckets 0 .. size - 1: clip to it when a batch may leave it
        self.low = float(-offset * width)
        self.high = float((size - 1 - offset) * width)

    @classmethod
    def of(cls, edges: np.ndarray) -> TieGrid | None:
        if edges.size == 0 or not np.all(np.isfinite(edges)) or np.any(edges == 0):
            return None
        mantissa, exponent = np.frexp(edges)
        ints = (mantissa * 2.0**53).astype(np.int64)  # edge = ints * 2^(exponent - 53)
        trailing = _trailing_zeros(ints)
        half_exponent = exponent - 53 + trailing  # edge = odd * 2^half_exponent
        if np.any(half_exponent != half_exponent[0]):
            return None
        odd = ints >> trailing
        if np.any(odd % 4 != 3):  # odd = 2m + 1 with m odd
            return None
        width = math.ldexp(1.0, int(half_exponent[0]) + 1)
        lo, hi = float(edges[0]), float(edges[-1])
        span = hi - lo if hi > lo else 2 * width
        if not (2.0**-900 < width < 2.0**900 and math.isfinite(hi + span - (lo - span))):
            return None
        low_tick = math.floor((lo - span) / width)
        size = math.ceil((hi + span) / width) - low_tick + 2
        if size > MAX_GRID or abs(low_tick) >= 2**50 or abs(low_tick) + size >= 2**50:
            return None
        offset = -low_tick + (low_tick % 2)  # even, and bucket 0 lies at or below lo - span
        grid = cls(width, offset, size)
        return grid if grid._place(edges) else None

    def _bucket_into(
        self, values: np.ndarray, floats: np.ndarray, ints: np.ndarray, inside: bool
    ) -> np.ndarray:
        if inside:
            np.add(values, self.add, out=floats)
        else:
            np.clip(values, self.low, self.high, out=floats)
            np.add(floats, self.add, out=floats)
        buckets = floats.view(np.int64)  # in place: one scratch array stays in cache
        np.subtract(buckets, self.base, out=buckets)
        return buckets

    def inside(self, low: float, high: float) -> bool:
        return self.low <= low and high <= self.high


class BitGrid(_Grid):
    """Counting when every edge is positive and its bits end in ``shift`` zeros. For
    ``v >= 0`` the bits of a double, read as an integer, grow with ``v`` (negative values
    read as negative integers), so ``v >= edge`` exactly when ``bits(v) >> shift >=
    bits(edge) >> shift``: a logarithmic grid of ``2^(52 - shift)`` buckets per octave, one
    shift and one subtract per value. Values at or below zero and beyond the grid are
    clipped to its ends, below and above every edge."""

    def __init__(self, shift: int, first: int, size: int) -> None:
        self.shift = shift
        self.first = first
        self.size = size

    @classmethod
    def of(cls, edges: np.ndarray) -> BitGrid | None:
        if edges.size == 0 or not (np.all(np.isfinite(edges)) and np.all(edges > 0)):
            return None
        bits = np.ascontiguousarray(edges, dtype=np.float64).view(np.int64)
        shift = int(_trailing_zeros(bits).min())
        if shift < 2:  # shifted by 2 or more, bits less ``first`` cannot wrap around
            return None
        low, high = int(bits[0]) >> shift, int(bits[-1]) >> shift
        span = max(high - low, 1)  # as many buckets again on each side: tails need no clip
        first = max(low - span, 0)
        size = high + span - first + 1
        if size > MAX_GRID:
            return None
        grid = cls(shift, first, size)
        return grid if grid._place(edges) else None

    def _bucket_into(
        self, values: np.ndarray, floats: np.ndarray, ints: np.ndarray, inside: bool
    ) -> np.ndarray:
        np.right_shift(np.ascontiguousarray(values).view(np.int64), self.shift, out=ints)
        np.subtract(ints, self.first, out=ints)
        if not inside:
            np.clip(ints, 0, self.size - 1, out=ints)
        return ints

    def inside(self, low: float, high: float) -> bool:
        ends = np.array([low, high], dtype=np.float64).view(np.int64) >> self.shift
        return bool(ends[0] >= self.first and ends[1] - self.first <= self.size - 1)


def _trailing_zeros(ints: np.ndarray) -> np.ndarray:
    """Trailing zero bits of positive or negative nonzero int64s."""
    magnitude = np.abs(ints)
    lowest = magnitude & -magnitude
    zeros: np.ndarray = np.log2(lowest.astype(np.float64)).astype(np.int64)
    return zeros


class Binner:
    def __init__(self, edges: list[float] | np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        n = len(self.edges)
        self.bins = n + 1
        self.grid: TieGrid | BitGrid | None = None
        self.counting = False
        if n == 0:
            return
        self.grid = TieGrid.of(self.edges) or BitGrid.of(self.edges)
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
        if self.grid is None:  # a grid counts without it
            self._counting_table(span)

    def _counting_table(self, span: float) -> None:
        """bucket(v) = trunc(clip(v * slope + offset, 0, top)): as fine between the edges as
        beyond them for one more span each side (tails need no search, and a batch within that
        range needs no clip); bucket 0 and ``top`` take whatever lies further out."""
        inner = COUNT_BUCKETS_PER_EDGE * len(self.edges)
        with np.errstate(over="ignore", invalid="ignore"):
            slope = inner / span
            offset = 1.0 + inner - self.lo * slope
        self.counting = bool(np.isfinite(slope) and np.isfinite(offset) and slope > 0)
        if not self.counting:
            return
        self._slope, self._offset, self._top = float(slope), float(offset), float(3 * inner + 2)
        size = 3 * inner + 3
        edge_buckets = self._bucket_of(self.edges)
        # first[b]: edges in buckets before b, the bin of every value of a bucket without edges
        self._first = np.searchsorted(edge_buckets, np.arange(size), side="left")
        self._has_edge = np.zeros(size, dtype=bool)
        self._has_edge[edge_buckets] = True
        self._edge_buckets = np.unique(edge_buckets)
        # The buckets of bin i run up to last[i]: a running sum of the bucket counts, taken
        # at those points and differenced, gives the counts of the buckets without edges.
        self._last = np.searchsorted(self._first, np.arange(self.bins), side="right") - 1
        self._size = size

    def _bucket_of(self, values: np.ndarray) -> np.ndarray:
        """The bucket function, for the edges; :meth:`count_into` repeats it step by step
        into scratch arrays (the same operations, so the same roundings)."""
        floats: np.ndarray = values * self._slope
        floats += self._offset
        np.clip(floats, 0.0, self._top, out=floats)
        return floats.astype(np.intp)

    def _inside(self, low: float, high: float) -> bool:
        """Whether the bucket function needs no clip for values in [low, high]: the same
        float operations on the two ends (monotonic, so they bound every value's)."""
        with np.errstate(over="ignore"):  # infinite ends: outside, and clipped
            first = np.float64(low) * self._slope + self._offset
            last = np.float64(high) * self._slope + self._offset
        return bool(first >= 0.0 and last <= self._top)

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
        out = np.zeros(self.bins, dtype=np.int64)
        self.count_into(values, out)
        return out

    def count_into(
        self, values: np.ndarray, out: np.ndarray, span: tuple[float, float] | None = None
    ) -> None:
        """Add the bin counts of finite ``values`` to ``out`` (int64, one slot per bin).
        ``span``, the min and max of ``values`` if known, can spare a pass."""
        n = values.shape[0]
        if len(self.edges) == 0:
            out[0] += n
            return
        if self.grid is not None:
            self.grid.count_into(values, out, span is not None and self.grid.inside(*span))
            return
        if not (self.lookup and self.counting) or n < 64:
            out += np.bincount(self.bin(values), minlength=self.bins)
            return
        floats, bucket = scratch(n)
        with np.errstate(over="ignore"):  # far outliers: infinite here, clipped below
            np.multiply(values, self._slope, out=floats)
            np.add(floats, self._offset, out=floats)
        if not (span and self._inside(*span)):
            np.clip(floats, 0.0, self._top, out=floats)
        np.copyto(bucket, floats, casting="unsafe")
        per_bucket = np.bincount(bucket, minlength=self._size)
        per_bucket[self._edge_buckets] = 0
        running = np.cumsum(per_bucket)[self._last]
        out[0] += running[0]
        out[1:] += np.diff(running)
        near_edge = values[np.take(self._has_edge, bucket, out=scratch_mask(n))]
        if near_edge.size:
            # Edges crowded into few buckets (skewed data) make the lookup walk long.
            index = (
                self.bin(near_edge)
                if self.steps <= 4
                else np.searchsorted(self.edges, near_edge, side="right")
            )
            out += np.bincount(index, minlength=self.bins)
