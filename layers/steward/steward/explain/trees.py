"""Exact interventional TreeSHAP over a tree ensemble, in numpy.

With a background row ``z``, the interventional value of a coalition ``S`` for the row ``x``
is the model evaluated on ``x`` for the features in ``S`` and ``z`` elsewhere; the model is a
sum of leaf values, so the game is a sum of one game per leaf. A leaf is reached under ``S``
when every feature on its path takes the path's way: each feature ``f`` on the path either
lets ``x`` through (``x``-ok), lets ``z`` through (``z``-ok), both, or neither. The leaf's game
is then ``v · [A ⊆ S, B ∩ S = ∅]`` with ``A`` the features only ``x`` lets through and ``B``
those only ``z`` lets through (nothing when one lets neither through), whose Shapley values
are closed-form: ``v·(|A|-1)!|B|!/(|A|+|B|)!`` for each feature of ``A`` and
``-v·|A|!(|B|-1)!/(|A|+|B|)!`` for each of ``B`` (the interventional Tree SHAP of Lundberg
et al. 2020, one leaf at a time). Averaged over the background, these are the exact Shapley
values of the interventional game, so ``base + Σφ = f(x)`` with ``base`` the background's
mean output.

Vectorised: each leaf's path features are bits of a mask; per (row, background row, leaf)
the counts ``|A|``, ``|B|`` are popcounts, and the per-feature sums over the background are
one batched matrix product per leaf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import factorial

import numpy as np

from steward.domain.errors import ValidationFailed

# Split operators: true when ``x OP threshold``.
LEQ, LT, GEQ, GT, EQ, NEQ = range(6)
_OPS = {
    LEQ: np.less_equal,
    LT: np.less,
    GEQ: np.greater_equal,
    GT: np.greater,
    EQ: np.equal,
    NEQ: np.not_equal,
}
MAX_PATH_FEATURES = 62  # distinct features on one root-to-leaf path (bits of an int64 mask)
_CELLS = 4_000_000  # (rows * background * leaves) per chunk: bounds the working memory


@dataclass
class TreeEnsemble:
    """Every tree's nodes in one set of arrays (children are absolute node indexes).

    ``value``: (nodes, outputs) leaf contributions (zero at split nodes) in the model's
    margin; ``base``: (outputs,) added to every row; ``dtype``: the precision the model casts
    a feature to before comparing it with the (float64) threshold: float32 for ONNX graphs
    (whose thresholds are float32 values) and scikit-learn's trees."""

    feature: np.ndarray
    threshold: np.ndarray
    op: np.ndarray
    yes: np.ndarray
    no: np.ndarray
    missing_yes: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    base: np.ndarray
    n_features: int
    dtype: type = np.float32
    _paths: _Paths | None = field(default=None, repr=False)

    @property
    def paths(self) -> _Paths:
        if self._paths is None:
            self._paths = _Paths(self)
        return self._paths


class _Paths:
    """Every leaf's path, as (leaf, slot) groups of conditions: slot ``s`` of leaf ``l`` is
    the ``s``-th distinct feature on the path, its conditions the path's splits on it."""

    def __init__(self, trees: TreeEnsemble) -> None:
        leaves: list[int] = []
        conditions: list[tuple[int, int, int, bool]] = []  # (leaf index, slot, node, way)
        slot_features: list[list[int]] = []
        for root in trees.roots.tolist():
            stack: list[tuple[int, list[tuple[int, bool]]]] = [(root, [])]
            while stack:
                node, path = stack.pop()
                if trees.feature[node] < 0:
                    index = len(leaves)
                    leaves.append(node)
                    order: list[int] = []
                    for split, way in path:
                        f = int(trees.feature[split])
                        if f not in order:
                            order.append(f)
                        conditions.append((index, order.index(f), split, way))
                    slot_features.append(order)
                    continue
                if len(path) > 10_000:
                    raise ValidationFailed("a tree is too deep to explain")
                stack.append((int(trees.yes[node]), [*path, (node, True)]))
                stack.append((int(trees.no[node]), [*path, (node, False)]))
        slots = max((len(o) for o in slot_features), default=0)
        if slots > MAX_PATH_FEATURES:
            raise ValidationFailed(
                f"a path tests {slots} distinct features: more than TreeSHAP here allows"
            )
        self.n_leaves, self.n_slots = len(leaves), max(slots, 1)
        self.value = trees.value[np.array(leaves, dtype=np.int64)]  # (L, K)
        table = np.array(conditions, dtype=np.int64).reshape(-1, 4)
        table = table[np.lexsort((table[:, 1], table[:, 0]))]
        self.nodes, self.ways = table[:, 2], table[:, 3].astype(bool)
        # Each split node is compared once per row, then read by every path through it.
        self._split_nodes, self._condition_node = np.unique(self.nodes, return_inverse=True)
        ops = trees.op[self._split_nodes]
        self._op_columns = [(code, np.flatnonzero(ops == code)) for code in np.unique(ops).tolist()]
        # The conditions as (depth, leaves) matrices: the j-th condition of every leaf as a
        # row of ``failed``'s split failures (padding: its last row, which never fails) and
        # the bit of its slot, so that the leaves' bits are ``depth`` ORs.
        starts = np.flatnonzero(np.r_[len(table) > 0, table[1:, 0] != table[:-1, 0]])
        position = np.arange(len(table)) - np.repeat(starts, np.diff(np.r_[starts, len(table)]))
        depth = int(position.max()) + 1 if len(table) else 0
        splits = len(self._split_nodes)
        self._bits_dtype = next(
            t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= slots
        )
        self._fail_column = np.full((depth, self.n_leaves), 2 * splits, dtype=np.intp)
        self._fail_column[position, table[:, 0]] = self._condition_node + np.where(
            self.ways, 0, splits
        )
        self._fail_shift = np.zeros((depth, self.n_leaves), dtype=self._bits_dtype)
        self._fail_shift[position, table[:, 0]] = table[:, 1]
        feature = np.full(self.n_leaves * self.n_slots, -1, dtype=np.int64)
        for leaf, order in enumerate(slot_features):
            feature[leaf * self.n_slots : leaf * self.n_slots + len(order)] = order
        self.slot_feature = feature.reshape(self.n_leaves, self.n_slots)
        bits = np.left_shift(np.int64(1), np.arange(self.n_slots, dtype=np.int64))
        self.bits = bits
        self.valid = ((self.slot_feature >= 0) * bits).sum(axis=1)  # (L,) mask of real slots
        self.trees = trees
        # Where each (leaf, slot) adds its attribution: its feature, or a spare column for
        # padding slots (dropped).
        self.slot_column = np.where(self.slot_feature >= 0, self.slot_feature, trees.n_features)
        self.weights_a, self.weights_b = _weights(self.n_slots)

    def failed(self, x: np.ndarray) -> np.ndarray:
        """(leaves, rows) of the smallest unsigned type holding the slots: bit ``s`` set when
        the row fails a split on slot ``s``. Each split node is compared once per row; the
        leaves' bits are then ``depth`` ORs of row gathers (the rows' axis is contiguous)."""
        t = self.trees
        nodes = self._split_nodes
        values: np.ndarray = np.ascontiguousarray(x.T, dtype=t.dtype)[t.feature[nodes]]
        thresholds = t.threshold[nodes][:, None]
        way = np.empty(values.shape, dtype=bool)  # (splits, rows)
        for code, rows in self._op_columns:
            with np.errstate(invalid="ignore"):
                way[rows] = _OPS[code](values[rows], thresholds[rows])
        missing = np.isnan(values)
        if missing.any():
            way = np.where(missing, t.missing_yes[nodes][:, None], way)
        # Row u fails a condition wanting split u's yes way, row splits + u one wanting its
        # no way; the last row fails nothing (padding).
        splits = len(nodes)
        failed = np.zeros((2 * splits + 1, x.shape[0]), dtype=bool)
        np.logical_not(way, out=failed[:splits])
        failed[splits : 2 * splits] = way
        cleared = np.zeros((self.n_leaves, x.shape[0]), dtype=self._bits_dtype)
        for rows, shift in zip(self._fail_column, self._fail_shift, strict=True):
            cleared |= np.left_shift(
                failed[rows].view(np.uint8), shift[:, None], dtype=self._bits_dtype
            )
        return cleared

    def masks(self, x: np.ndarray) -> np.ndarray:
        """(rows, leaves) int64: bit ``s`` set when the row passes every split on slot ``s``
        (bits of padding slots are set)."""
        return ~self.failed(x).T.astype(np.int64)

    def outputs(self, masks: np.ndarray) -> np.ndarray:
        """(rows, outputs): the model's margin for rows given by their masks."""
        reached = (masks & self.valid) == self.valid
        out: np.ndarray = reached.astype(np.float64) @ self.value + self.trees.base
        return out

    def add_by_feature(self, out: np.ndarray, per_slot: np.ndarray, leaves: np.ndarray) -> None:
        """Add per-slot attributions (outputs, rows, len(leaves), width) of the given leaves
        into ``out`` (rows, features + 1, outputs): one weighted bincount per output."""
        k, n, _, width = per_slot.shape
        columns = out.shape[1]
        index = (np.arange(n) * columns)[:, None, None] + self.slot_column[leaves, :width]
        for j in range(k):
            out[:, :, j] += np.bincount(
                index.ravel(), weights=per_slot[j].ravel(), minlength=n * columns
            ).reshape(n, columns)


def _weights(slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapley weights of the leaf game indexed by (|A|, |B|): for a feature of A and B."""
    a = np.zeros((slots + 1, slots + 1))
    b = np.zeros((slots + 1, slots + 1))
    for i in range(slots + 1):
        for j in range(slots + 1 - i):
            total = factorial(i + j)
            if i:
                a[i, j] = factorial(i - 1) * factorial(j) / total
            if j:
                b[i, j] = -factorial(i) * factorial(j - 1) / total
    return a, b


@dataclass
class TreeShap:
    """Attributions (rows, features, outputs), the base (outputs,) and the margin
    (rows, outputs), in the ensemble's margin."""

    values: np.ndarray
    base: np.ndarray
    output: np.ndarray


@dataclass
class Background:
    """What TreeSHAP needs of a background, computed once per (ensemble, background).

    Leaves whose path tests at most ``TABLE_SLOTS`` distinct features get a table: for every
    way a row can pass or fail the path's slots (a pattern, ``2^s`` of them), the slots'
    Shapley weights summed over the background, so that explaining a row is one lookup per
    leaf. The other leaves (``rest``) keep the background's pass bits and are computed per
    row."""

    masks: np.ndarray  # (m, L)
    base: np.ndarray  # (outputs,) the background's mean margin
    tabled: np.ndarray  # (T,) leaves with a table
    offsets: np.ndarray  # (T,) each tabled leaf's first row in ``table``
    table: np.ndarray  # (outputs, width, Σ 2^s) per slot and (leaf, pattern): the leaf's value
    # times the slot's Shapley weight, averaged over the background
    # Every real (tabled leaf, slot) cell, ordered by the slot's feature: its leaf's position
    # in ``tabled``, its first entry in ``table[k]`` flattened (add the row's pattern), where
    # each feature's run starts and the features, so that a row's lookups are one ``take``
    # and summed by feature with one ``add.reduceat``.
    cell_leaf: np.ndarray
    cell_offset: np.ndarray
    cell_starts: np.ndarray
    cell_features: np.ndarray
    rest: np.ndarray  # (R,) leaves computed per row
    bits: np.ndarray  # (R, m, S) 1.0 where the background row passes the slot
    not_bits: np.ndarray  # (R, m, S) 1.0 where it does not (real slots only)


TABLE_SLOTS = 8  # a leaf's table has 2^slots patterns; the pattern game's matrix 4^slots·slots
_TABLE_CELLS = 1 << 22  # floats in all the tables together (32 MB): beyond, leaves go per row
_CHUNK_CELLS = 1 << 20  # (leaves or tabled cells) * rows per chunk of rows explained: bounds
# the working memory (a few arrays of 8 MB) whatever the number of rows


def prepare(
    trees: TreeEnsemble, background: np.ndarray, table_slots: int = TABLE_SLOTS
) -> Background:
    """``table_slots``: leaves with more slots than this are computed per row (0: all)."""
    paths = trees.paths
    zm = paths.masks(background)
    m = zm.shape[0]
    slots = np.bitwise_count(paths.valid).astype(np.int64)  # (L,) real slots per leaf
    candidates = np.flatnonzero((slots > 0) & (slots <= min(table_slots, TABLE_SLOTS)))
    candidates = candidates[np.argsort(slots[candidates], kind="stable")]
    cells = np.cumsum((1 << slots[candidates]) * slots[candidates])
    tabled = np.sort(candidates[cells <= _TABLE_CELLS])
    rest = np.setdiff1d(np.flatnonzero(slots > 0), tabled)
    width = int(slots[tabled].max()) if len(tabled) else 0
    sizes = 1 << slots[tabled]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros((paths.value.shape[1], width, int(sizes.sum())))
    for s in np.unique(slots[tabled]).tolist():
        group = np.flatnonzero(slots[tabled] == s)  # positions in ``tabled``
        leaves = tabled[group]
        patterns = 1 << s
        # How many background rows take each pattern on each leaf: (leaves, 2^s).
        z = (zm[:, leaves] & (patterns - 1)) + np.arange(len(leaves)) * patterns
        counts = np.bincount(z.ravel(), minlength=len(leaves) * patterns)
        counts = counts.reshape(len(leaves), patterns).astype(np.float64) / m
        weights = (counts @ _pattern_game(s)).reshape(len(leaves), patterns, s)
        rows = (offsets[group][:, None] + np.arange(patterns)).ravel()
        for k in range(table.shape[0]):
            value = paths.value[leaves, k][:, None, None]
            table[k][:s, rows] = (weights * value).reshape(-1, s).T
    feature = paths.slot_feature[tabled, :width]  # (T, width), -1: padding
    leaf, slot = np.nonzero(feature >= 0)
    order = np.argsort(feature[leaf, slot], kind="stable")
    leaf, slot = leaf[order], slot[order]
    cell_feature = feature[leaf, slot]
    cell_starts = np.flatnonzero(np.r_[len(order) > 0, np.diff(cell_feature) != 0])
    real = ((paths.valid[rest][:, None] & paths.bits) != 0)[:, None, :]  # (R, 1, S)
    z_bits = ((zm[:, rest].T[:, :, None] & paths.bits) != 0).astype(np.float64)  # (R, m, S)
    return Background(
        masks=zm,
        base=paths.outputs(zm).mean(axis=0),
        tabled=tabled,
        offsets=offsets,
        table=table,
        cell_leaf=leaf,
        cell_offset=offsets[leaf] + slot * table.shape[2],
        cell_starts=cell_starts,
        cell_features=cell_feature[cell_starts],
        rest=rest,
        bits=np.ascontiguousarray(z_bits * real),
        not_bits=np.ascontiguousarray((1.0 - z_bits) * real),
    )


@lru_cache(maxsize=TABLE_SLOTS + 1)
def _pattern_game(s: int) -> np.ndarray:
    """(2^s background patterns, 2^s row patterns * s slots): the Shapley value of each slot
    in the leaf game of a row with pattern ``p`` against a background row with pattern ``q``
    (bit ``t`` set: passes slot ``t``). The same for every leaf with ``s`` slots."""
    full = (1 << s) - 1
    q = np.arange(1 << s, dtype=np.int64)[:, None]
    p = np.arange(1 << s, dtype=np.int64)[None, :]
    only_x, only_z = p & ~q & full, ~p & q & full
    dead = (~p & ~q & full) != 0
    weights_a, weights_b = _weights(s)
    a, b = np.bitwise_count(only_x), np.bitwise_count(only_z)
    wa = np.where(dead, 0.0, weights_a[a, b])
    wb = np.where(dead, 0.0, weights_b[a, b])
    bit = np.left_shift(np.int64(1), np.arange(s, dtype=np.int64))
    game = np.where(
        (only_x[:, :, None] & bit) != 0,
        wa[:, :, None],
        np.where((only_z[:, :, None] & bit) != 0, wb[:, :, None], 0.0),
    )
    game.flags.writeable = False
    return game.reshape(1 << s, -1)


def tree_shap(trees: TreeEnsemble, x: np.ndarray, background: np.ndarray | Background) -> TreeShap:
    """Exact interventional Shapley values of every row of ``x`` against ``background``
    (rows, or prepared once by :func:`prepare`)."""
    paths = trees.paths
    prepared = background if isinstance(background, Background) else prepare(trees, background)
    n = x.shape[0]
    outputs = paths.value.shape[1]
    values = np.zeros((n, trees.n_features + 1, outputs))  # + a spare column for padding
    output = np.empty((n, outputs))
    chunk = max(1, _CHUNK_CELLS // max(1, paths.n_leaves, len(prepared.cell_leaf)))
    for start in range(0, n, chunk):  # in chunks of rows whose working set stays in cache
        failed = paths.failed(x[start : start + chunk])  # (L, c)
        part = values[start : start + chunk]
        output[start : start + chunk] = (failed == 0).T.astype(np.float64) @ paths.value
        if len(prepared.tabled):
            _look_up(paths, prepared, failed, part)
        if len(prepared.rest):
            xm = ~failed[prepared.rest].T.astype(np.int64)  # (c, R) masks
            per_slot = _per_row(paths, xm, prepared)  # (c, R, S)
            value = paths.value[prepared.rest].T[:, None, :, None]  # (outputs, 1, R, 1)
            paths.add_by_feature(part, per_slot[None] * value, prepared.rest)
    return TreeShap(
        values=values[:, : trees.n_features], base=prepared.base, output=output + trees.base
    )


def _look_up(paths: _Paths, prepared: Background, failed: np.ndarray, out: np.ndarray) -> None:
    """Add the tabled leaves' attributions of rows given by their failed bits (leaves, c)
    into ``out`` (c, features + 1, outputs): one lookup per (leaf, slot, row), summed by
    feature."""
    tabled = prepared.tabled
    valid = paths.valid[tabled].astype(failed.dtype)[:, None]
    patterns = ~failed[tabled] & valid  # (T, c)
    index = prepared.cell_offset[:, None] + patterns[prepared.cell_leaf]  # (cells, c)
    for k in range(out.shape[2]):
        looked_up = np.take(prepared.table[k].reshape(-1), index)
        sums = np.add.reduceat(looked_up, prepared.cell_starts, axis=0)  # (features, c)
        out[:, prepared.cell_features, k] += sums.T


def _per_row(paths: _Paths, xm: np.ndarray, prepared: Background) -> np.ndarray:
    """(n, R, S): the leaves without a table, row by row against every background row."""
    rest = prepared.rest
    zm = prepared.masks[:, rest]
    valid = paths.valid[rest]
    m, leaves = zm.shape
    n = xm.shape[0]
    out = np.empty((n, leaves, paths.n_slots))
    chunk = max(1, _CELLS // max(1, m * leaves))
    for start in range(0, n, chunk):
        xs = xm[start : start + chunk]  # (c, R)
        only_x = xs[:, None, :] & ~zm[None] & valid  # (c, m, R)
        only_z = ~xs[:, None, :] & zm[None] & valid
        dead = (~xs[:, None, :] & ~zm[None] & valid) != 0
        a = np.bitwise_count(only_x)
        b = np.bitwise_count(only_z)
        wa = paths.weights_a[a, b]
        wb = paths.weights_b[a, b]
        wa[dead] = 0.0
        wb[dead] = 0.0
        # Σ_background of the weight, for each slot the row owns alone (A) or the
        # background owns alone (B): one (c, m) @ (m, S) product per leaf.
        sum_a = np.matmul(wa.transpose(2, 0, 1), prepared.not_bits)  # (R, c, S)
        sum_b = np.matmul(wb.transpose(2, 0, 1), prepared.bits)
        x_bits = (xs[:, :, None] & paths.bits) != 0  # (c, R, S)
        out[start : start + chunk] = np.where(
            x_bits, sum_a.transpose(1, 0, 2), sum_b.transpose(1, 0, 2)
        )
    out /= m
    return out


@dataclass
class Tree:
    """One tree's arrays, children as indexes into them (-1 at leaves)."""

    feature: np.ndarray
    threshold: np.ndarray
    yes: np.ndarray
    no: np.ndarray
    missing_yes: np.ndarray
    value: np.ndarray  # (nodes, outputs)
    op: np.ndarray | None = None  # default: x <= threshold


def ensemble(trees: list[Tree], base: np.ndarray, n_features: int, dtype: type) -> TreeEnsemble:
    """Concatenate trees into one :class:`TreeEnsemble`."""
    offsets = np.cumsum([0] + [len(t.feature) for t in trees])
    leaf = [t.feature < 0 for t in trees]

    def children(t: Tree, ids: np.ndarray, offset: int, is_leaf: np.ndarray) -> np.ndarray:
        return np.where(is_leaf, -1, ids.astype(np.int64) + offset)

    return TreeEnsemble(
        feature=np.concatenate(
            [np.where(lf, -1, t.feature) for t, lf in zip(trees, leaf, strict=True)]
        ).astype(np.int64),
        threshold=np.concatenate([t.threshold for t in trees]).astype(np.float64),
        op=np.concatenate(
            [t.op if t.op is not None else np.full(len(t.feature), LEQ) for t in trees]
        ).astype(np.int8),
        yes=np.concatenate(
            [children(t, t.yes, o, lf) for t, o, lf in zip(trees, offsets, leaf, strict=False)]
        ),
        no=np.concatenate(
            [children(t, t.no, o, lf) for t, o, lf in zip(trees, offsets, leaf, strict=False)]
        ),
        missing_yes=np.concatenate([t.missing_yes for t in trees]).astype(bool),
        value=np.concatenate(
            [np.where(lf[:, None], t.value, 0.0) for t, lf in zip(trees, leaf, strict=True)]
        ).astype(np.float64),
        roots=offsets[:-1].astype(np.int64),
        base=np.asarray(base, dtype=np.float64).ravel(),
        n_features=n_features,
        dtype=dtype,
    )
