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
one batched matrix product per leaf. A leaf's game depends on the row only through which of
its slots the row passes (its pattern), so leaves with few slots are tabled once per
background instead, by subtree: a row's key in a subtree (its pass bits on the path down to
it and its way at each split below) fixes every leaf's pattern there, and one lookup per
(subtree, feature) adds all their attributions on that feature (:class:`Background`).

Long: one algorithm in three parts that share private array layouts: the paths' slots and
pass bits (:class:`_Paths`), the subtrees' keys (:class:`_Units`) built from them, and the
tables and per-row fallback that read both. Split apart, each part's invariants (which bit
of a key is which slot of which leaf) would be read in a module that does not state them;
``tests/unit/test_explain_trees.py`` holds them together against the per-row computation.
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
        self.leaf_nodes = np.array(leaves, dtype=np.int64)
        # Each split node is compared once per row, then read by every path through it.
        self._split_nodes, self._condition_node = np.unique(self.nodes, return_inverse=True)
        self.split_index = np.full(len(trees.feature), -1, dtype=np.int64)
        self.split_index[self._split_nodes] = np.arange(len(self._split_nodes))
        self.n_splits = len(self._split_nodes)
        ops = trees.op[self._split_nodes]
        self._op_columns = [(code, np.flatnonzero(ops == code)) for code in np.unique(ops).tolist()]
        # Each condition's row of ``failures``: split u's yes way fails in row u, its no way
        # in row splits + u.
        self._leaf_of, self._slot_of = table[:, 0], table[:, 1]
        self._row_of = self._condition_node + np.where(self.ways, 0, len(self._split_nodes))
        self.leaf_bits = self.conditions_of(np.arange(len(leaves)))
        self._units: dict[int, _Units] = {}
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

    def conditions_of(self, leaves: np.ndarray) -> _Conditions:
        """The bits of ``leaves`` (leaf indexes), in that order (see :meth:`failed`)."""
        position = np.full(self.n_leaves, -1, dtype=np.int64)
        position[leaves] = np.arange(len(leaves))
        kept = position[self._leaf_of] >= 0
        return _Conditions(
            position[self._leaf_of[kept]],
            self._slot_of[kept],
            self._row_of[kept],
            len(leaves),
            self.n_slots,
            2 * len(self._split_nodes),
        )

    def failures(self, x: np.ndarray) -> np.ndarray:
        """(2 * splits + 1, rows) bool: row ``u`` true where the row fails split ``u``'s yes
        way, row ``splits + u`` where it fails its no way; the last row fails nothing
        (padding). Each split node is compared once per row."""
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
        splits = len(nodes)
        failed = np.zeros((2 * splits + 1, x.shape[0]), dtype=bool)
        np.logical_not(way, out=failed[:splits])
        failed[splits : 2 * splits] = way
        return failed

    def failed(self, x: np.ndarray) -> np.ndarray:
        """(leaves, rows) of the smallest unsigned type holding the slots: bit ``s`` set when
        the row fails a split on slot ``s``."""
        return self.leaf_bits.bits(self.failures(x))

    def units(self, cap: int) -> _Units:
        """:func:`_select_units`, once per ``cap``."""
        if cap not in self._units:
            self._units[cap] = _select_units(self.trees, self, cap)
        return self._units[cap]

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


class _Conditions:
    """Groups of conditions read as bits: bit ``s`` of group ``g`` is set when the row fails
    a condition on the group's slot ``s``. A condition is a row of :meth:`_Paths.failures`;
    the j-th condition of every group is a row of ``column`` (padding: the row that never
    fails) with the bit of its slot in ``shift``, so that the groups' bits are ``depth`` ORs
    of row gathers (the rows' axis is contiguous)."""

    def __init__(
        self,
        group: np.ndarray,
        slot: np.ndarray,
        row: np.ndarray,
        groups: int,
        slots: int,
        padding: int,
    ) -> None:
        order = np.argsort(group, kind="stable")
        group, slot, row = group[order], slot[order], row[order]
        starts = np.flatnonzero(np.r_[len(group) > 0, group[1:] != group[:-1]])
        position = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
        depth = int(position.max()) + 1 if len(group) else 0
        self.groups = groups
        self.dtype = next(
            t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= slots
        )
        self.column = np.full((depth, groups), padding, dtype=np.intp)
        self.column[position, group] = row
        self.shift = np.zeros((depth, groups), dtype=self.dtype)
        self.shift[position, group] = slot

    def bits(self, failures: np.ndarray) -> np.ndarray:
        """(groups, rows) from :meth:`_Paths.failures`."""
        cleared = np.zeros((self.groups, failures.shape[1]), dtype=self.dtype)
        for rows, shift in zip(self.column, self.shift, strict=True):
            cleared |= np.left_shift(
                failures[rows].view(np.uint8), shift[:, None], dtype=self.dtype
            )
        return cleared


@dataclass
class _Units:
    """Subtrees explained by one table each (see :class:`Background`), as arrays.

    A unit is the leaves below a node. A row's key in it has a bit per distinct feature of
    the path down to the node (set when the row passes every split of the path on that
    feature; these features are the first slots of each of its leaves, in that order) and
    one per split of the subtree (set when the row takes its yes way). A leaf's pattern is
    a function of the key: slot ``s`` passes when ``key & mask[s] == need[s]``."""

    bits: np.ndarray  # (U,) the bits of each unit's key
    features: np.ndarray  # (U, TABLE_SLOTS) each unit's features, -1 after the last
    key: np.ndarray  # (bits, 3) (unit, key bit, row of ``failures`` that clears the bit)
    leaf: np.ndarray  # (M,) each member leaf
    unit: np.ndarray  # (M,) its unit
    mask: np.ndarray  # (M, TABLE_SLOTS) the key bits each slot's conditions read
    need: np.ndarray  # (M, TABLE_SLOTS) the values they need there
    column: np.ndarray  # (M, TABLE_SLOTS) the slot's feature's place in its unit's, or -1


def _select_units(trees: TreeEnsemble, paths: _Paths, cap: int) -> _Units:
    """From each root down, the largest subtrees whose key has at most ``cap`` bits (a leaf
    alone: one bit per slot), ``SUBTREE_BITS`` for several leaves; a leaf in none has more
    slots than ``cap``, or none."""
    found = _UnitsFound(trees, paths)
    for root in trees.roots.tolist():
        stack: list[tuple[int, list[tuple[int, bool]], list[int]]] = [(root, [], [])]
        while stack:
            node, path, known = stack.pop()
            bits = len(known) + found.below[node]
            if 0 < bits <= (min(cap, SUBTREE_BITS) if found.below[node] else cap):
                found.add(node, path, known)
            elif found.feature[node] >= 0:  # (a leaf left out is computed per row)
                f = found.feature[node]
                more = known if f in known else [*known, f]
                stack.append((found.no[node], [*path, (node, False)], more))
                stack.append((found.yes[node], [*path, (node, True)], more))
    return found.arrays()


class _UnitsFound:
    """The units :func:`_select_units` finds, as lists, then as :class:`_Units`."""

    def __init__(self, trees: TreeEnsemble, paths: _Paths) -> None:
        self.paths = paths
        self.feature, self.yes, self.no = (a.tolist() for a in (trees.feature, trees.yes, trees.no))
        self.below = [0] * len(self.feature)  # split nodes in each node's subtree
        order: list[int] = []
        for root in trees.roots.tolist():
            stack = [root]
            while stack:
                node = stack.pop()
                order.append(node)
                if self.feature[node] >= 0:
                    stack += [self.yes[node], self.no[node]]
        for node in reversed(order):
            if self.feature[node] >= 0:
                self.below[node] = 1 + self.below[self.yes[node]] + self.below[self.no[node]]
        self.leaf_index = dict(zip(paths.leaf_nodes.tolist(), range(paths.n_leaves), strict=True))
        self.row = paths.split_index.tolist()
        self.bits: list[int] = []
        self.features: list[list[int]] = []
        self.key: list[tuple[int, int, int]] = []  # (unit, bit, row)
        self.leaves: list[tuple[int, int]] = []  # (leaf, unit)
        self.conditions: list[tuple[int, int, int, bool]] = []  # (member, slot, bit, need)

    def add(self, root: int, path: list[tuple[int, bool]], known: list[int]) -> None:
        """The unit below ``root``, reached by ``path`` whose features are ``known``: the
        path's conditions clear their feature's bit (its slot), and the subtree's splits,
        depth first, get the next bits (cleared by their no way)."""
        unit, feature, row = len(self.bits), self.feature, self.row
        splits = self.paths.n_splits
        self.key += [
            (unit, known.index(feature[v]), row[v] + (0 if w else splits)) for v, w in path
        ]
        features, count = list(known), len(known)
        first = [(slot, slot, True) for slot in range(len(known))]
        stack: list[tuple[int, list[int], list[tuple[int, int, bool]]]] = [(root, known, first)]
        while stack:
            node, seen, conditions = stack.pop()
            if feature[node] < 0:
                self.conditions += [(len(self.leaves), *c) for c in conditions]
                self.leaves.append((self.leaf_index[node], unit))
                continue
            bit, count = count, count + 1
            self.key.append((unit, bit, row[node]))
            f = feature[node]
            if f not in features:
                features.append(f)
            seen = seen if f in seen else [*seen, f]
            slot = seen.index(f)
            stack.append((self.no[node], seen, [*conditions, (slot, bit, False)]))
            stack.append((self.yes[node], seen, [*conditions, (slot, bit, True)]))
        self.bits.append(count)
        self.features.append(features)

    def arrays(self) -> _Units:
        member = np.array(self.leaves, dtype=np.int64).reshape(-1, 2)
        found = np.array(self.conditions, dtype=np.int64).reshape(-1, 4)
        mask = np.zeros((len(member), TABLE_SLOTS), dtype=np.uint8)
        need = np.zeros((len(member), TABLE_SLOTS), dtype=np.uint8)
        where = (found[:, 0], found[:, 1])
        np.bitwise_or.at(mask, where, (1 << found[:, 2]).astype(np.uint8))
        np.bitwise_or.at(need, where, (found[:, 3] << found[:, 2]).astype(np.uint8))
        features = np.full((len(self.bits), TABLE_SLOTS), -1, dtype=np.int64)
        for unit, known in enumerate(self.features):
            features[unit, : len(known)] = known
        slot_feature = np.full((len(member), TABLE_SLOTS), -1, dtype=np.int64)
        width = min(TABLE_SLOTS, self.paths.n_slots)
        slot_feature[:, :width] = self.paths.slot_feature[member[:, 0], :width]
        same = features[member[:, 1]][:, None, :] == slot_feature[:, :, None]  # (M, slot, place)
        return _Units(
            bits=np.array(self.bits, dtype=np.int64),
            features=features,
            key=np.array(self.key, dtype=np.int64).reshape(-1, 3),
            leaf=member[:, 0],
            unit=member[:, 1],
            mask=mask,
            need=need,
            column=np.where(slot_feature >= 0, same.argmax(axis=2), -1),
        )


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

    Subtrees whose key has at most ``SUBTREE_BITS`` bits (:class:`_Units`: the largest such
    from each root down; a leaf alone if need be, up to ``TABLE_SLOTS``) get a table: for
    every key a row can have (``2^bits`` of them), per feature of the subtree, the Shapley
    weights of the leaves' slots on that feature times the leaves' values, averaged over the
    background; and the value of the leaf the row reaches. Explaining a row is one lookup
    per (subtree, feature): several leaves at once (a depth-6 tree is 16 subtrees of 4
    leaves, where a table per leaf took 64 lookups of ~5 slots). The other leaves (``rest``:
    more than ``TABLE_SLOTS`` slots) keep the background's pass bits and are computed per
    row."""

    masks: np.ndarray  # (m, L)
    base: np.ndarray  # (outputs,) the background's mean margin
    tabled: np.ndarray  # leaves with a table (their subtree's)
    units: _Conditions  # each tabled subtree's key (the bits a row fails: flip them)
    unit_mask: np.ndarray  # (U,) the bits of each key
    offsets: np.ndarray  # (U,) each subtree's first key in ``reached``
    reached: np.ndarray  # (outputs, Σ 2^bits) the value of the leaf a row with that key reaches
    table: np.ndarray  # (outputs, Σ features * 2^bits) per subtree, a block of keys per
    # feature: the leaves' Shapley weights on it times their values, averaged over the
    # background
    # Every (tabled subtree, feature) cell, ordered by feature: its subtree, its block in
    # ``table[k]`` (add the row's key), where each feature's run starts and the features, so
    # that a row's lookups are one ``take`` and summed by feature with one ``add.reduceat``.
    cell_unit: np.ndarray
    cell_offset: np.ndarray
    cell_starts: np.ndarray
    cell_features: np.ndarray
    others: np.ndarray  # (O,) the leaves without a table
    other_bits: _Conditions
    rest: np.ndarray  # (R,) those with slots: computed per row
    rest_position: np.ndarray  # (R,) their positions in ``others``
    bits: np.ndarray  # (R, m, S) 1.0 where the background row passes the slot
    not_bits: np.ndarray  # (R, m, S) 1.0 where it does not (real slots only)


TABLE_SLOTS = 8  # a table has at most 2^8 keys; a leaf's pattern game matrix 4^slots·slots
SUBTREE_BITS = 7  # several leaves' table: at most 2^7 keys (prepared 1.5x faster than with
# 2^8 on a 100-tree depth-6 ensemble, as fast to look up)
_TABLE_CELLS = 1 << 22  # floats in all the tables together (32 MB): beyond, leaves go per row
_CHUNK_CELLS = 1 << 20  # (leaves, splits or tabled cells) * rows per chunk of rows explained:
# bounds the working memory (a few arrays of 8 MB) whatever the number of rows


def prepare(
    trees: TreeEnsemble, background: np.ndarray, table_slots: int = TABLE_SLOTS
) -> Background:
    """``table_slots``: keys of more bits than this are not tabled, leaves with more slots
    are computed per row (0: all)."""
    paths = trees.paths
    zm = paths.masks(background)
    slots = np.bitwise_count(paths.valid).astype(np.int64)  # (L,) real slots per leaf
    units = paths.units(min(table_slots, TABLE_SLOTS))
    # Tables as long as they fit (the smallest first); the leaves of the others go per row.
    sizes = (1 << units.bits) * (units.features >= 0).sum(axis=1)
    by_size = np.argsort(sizes, kind="stable")
    kept = np.zeros(len(sizes), dtype=bool)
    kept[by_size[np.cumsum(sizes[by_size]) <= _TABLE_CELLS]] = True
    chosen = np.flatnonzero(kept)
    chosen = chosen[np.argsort(units.bits[chosen], kind="stable")]  # each key width together
    renumbered = np.full(len(sizes), -1, dtype=np.int64)
    renumbered[chosen] = np.arange(len(chosen))
    members = np.flatnonzero(kept[units.unit])
    tabled = np.sort(units.leaf[members])
    other = np.setdiff1d(np.arange(paths.n_leaves), tabled)
    per_leaf, leaf_offsets = _leaf_tables(paths, zm, tabled, slots)
    bits, features = units.bits[chosen], units.features[chosen]
    table, reached, offsets, blocks = _unit_tables(
        paths,
        units,
        members,
        renumbered[units.unit[members]],
        bits,
        features,
        per_leaf,
        leaf_offsets[np.searchsorted(tabled, units.leaf[members])],
    )
    unit, place = np.nonzero(features >= 0)
    order = np.argsort(features[unit, place], kind="stable")  # the cells by feature
    unit, place = unit[order], place[order]
    cell_feature = features[unit, place]
    cell_starts = np.flatnonzero(np.r_[len(order) > 0, np.diff(cell_feature) != 0])
    key = units.key[kept[units.key[:, 0]]]  # (unit, bit, row) of the kept units
    rest_position = np.flatnonzero(slots[other] > 0)
    rest = other[rest_position]
    real = ((paths.valid[rest][:, None] & paths.bits) != 0)[:, None, :]  # (R, 1, S)
    z_bits = ((zm[:, rest].T[:, :, None] & paths.bits) != 0).astype(np.float64)  # (R, m, S)
    return Background(
        masks=zm,
        base=paths.outputs(zm).mean(axis=0),
        tabled=tabled,
        units=_Conditions(
            renumbered[key[:, 0]], key[:, 1], key[:, 2], len(bits), TABLE_SLOTS, 2 * paths.n_splits
        ),
        unit_mask=((1 << bits) - 1).astype(np.uint8),
        offsets=offsets,
        table=table,
        reached=reached,
        cell_unit=unit,
        cell_offset=blocks[unit] + (place << bits[unit]),
        cell_starts=cell_starts,
        cell_features=cell_feature[cell_starts],
        others=other,
        other_bits=paths.conditions_of(other),
        rest=rest,
        rest_position=rest_position,
        bits=np.ascontiguousarray(z_bits * real),
        not_bits=np.ascontiguousarray((1.0 - z_bits) * real),
    )


def _leaf_tables(
    paths: _Paths, zm: np.ndarray, leaves: np.ndarray, slots: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per slot and (leaf, pattern) of ``leaves``: the leaf's value times the slot's Shapley
    weight, averaged over the background (outputs, width, Σ 2^s); each leaf's offset."""
    m = zm.shape[0]
    width = int(slots[leaves].max()) if len(leaves) else 0
    sizes = 1 << slots[leaves]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros((paths.value.shape[1], width, int(sizes.sum())))
    for s in np.unique(slots[leaves]).tolist():
        group = np.flatnonzero(slots[leaves] == s)  # positions in ``leaves``
        chosen = leaves[group]
        patterns = 1 << s
        # How many background rows take each pattern on each leaf: (leaves, 2^s).
        z = (zm[:, chosen] & (patterns - 1)) + np.arange(len(chosen)) * patterns
        counts = np.bincount(z.ravel(), minlength=len(chosen) * patterns)
        counts = counts.reshape(len(chosen), patterns).astype(np.float64) / m
        weights = (counts @ _pattern_game(s)).reshape(len(chosen), patterns, s)
        rows = (offsets[group][:, None] + np.arange(patterns)).ravel()
        for k in range(table.shape[0]):
            value = paths.value[chosen, k][:, None, None]
            table[k][:s, rows] = (weights * value).reshape(-1, s).T
    return table, offsets


def _unit_tables(
    paths: _Paths,
    units: _Units,
    members: np.ndarray,
    unit: np.ndarray,
    bits: np.ndarray,
    features: np.ndarray,
    per_leaf: np.ndarray,
    leaf_offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tables and reached values (see :class:`Background`) of the units whose ``bits``
    and ``features`` are given (in order of width), from the tables of their leaves
    (``members`` of ``units``, each in ``unit``, its table at ``leaf_offsets``), and where
    each unit starts in ``reached`` and in ``table``. For every key, each leaf's pattern
    picks its slots' weights, added into the unit's features."""
    outputs = paths.value.shape[1]
    sizes = 1 << bits
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cells = sizes * (features >= 0).sum(axis=1)  # a block of keys per feature of the unit
    blocks = np.concatenate([[0], np.cumsum(cells)]).astype(np.int64)
    table = np.zeros((outputs, int(blocks[-1])))
    reached = np.zeros((outputs, int(offsets[-1])))
    stride = per_leaf.shape[2]  # between a leaf's slots in ``per_leaf[k]``
    for width in np.unique(bits).tolist():
        first, last = np.searchsorted(bits, [width, width + 1])  # the units of this width
        group = np.flatnonzero((unit >= first) & (unit < last))
        chosen, at = members[group], unit[group]
        keys = np.arange(1 << width, dtype=np.uint8)
        valid = paths.valid[units.leaf[chosen]].astype(np.uint8)[:, None]
        # Slot s passes where key & mask == need: the slots packed into each pattern's byte.
        wide = int(np.bitwise_count(valid).max())
        mask, need = units.mask[chosen, :wide, None], units.need[chosen, :wide, None]
        pattern = np.packbits((keys & mask) == need, axis=1, bitorder="little")[:, 0] & valid
        # Each unit's keys are one row of ``reached`` and, per feature, one of ``table``; a
        # group's members come unit after unit: their rows are summed with one reduceat.
        units_at = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
        for k in range(outputs):
            hit = (pattern == valid) * paths.value[units.leaf[chosen], k][:, None]
            reached[k, offsets[first] : offsets[last]] = np.add.reduceat(hit, units_at).ravel()
        member, slot = np.nonzero(units.column[chosen] >= 0)  # every real (leaf, slot)
        row = (blocks[at[member]] - blocks[first] >> width) + units.column[chosen[member], slot]
        order = np.argsort(row, kind="stable")
        member, slot, row = member[order], slot[order], row[order]
        rows = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        source = (slot * stride + leaf_offsets[group[member]])[:, None] + pattern[member]
        for k in range(outputs):
            block = table[k, blocks[first] : blocks[last]].reshape(-1, 1 << width)
            block[row[rows]] = np.add.reduceat(np.take(per_leaf[k], source), rows, axis=0)
    return table, reached, offsets[:-1], blocks[:-1]


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
    output = np.zeros((n, outputs))
    widest = max(1, 2 * paths.n_splits, len(prepared.cell_unit), len(prepared.others))
    chunk = max(1, _CHUNK_CELLS // widest)
    for start in range(0, n, chunk):  # in chunks of rows whose working set stays in cache
        failures = paths.failures(x[start : start + chunk])
        part = values[start : start + chunk]
        if len(prepared.unit_mask):
            keys = ~prepared.units.bits(failures) & prepared.unit_mask[:, None]  # (U, c)
            index = prepared.offsets + keys.T  # (c, U): each row's sum in its own order
            for k in range(outputs):
                output[start : start + chunk, k] += np.take(prepared.reached[k], index).sum(axis=1)
            _look_up(prepared, keys, part)
        if len(prepared.others):
            failed = prepared.other_bits.bits(failures)  # (O, c)
            reached = (failed == 0).T.astype(np.float64)
            output[start : start + chunk] += reached @ paths.value[prepared.others]
            if len(prepared.rest):
                xm = ~failed[prepared.rest_position].T.astype(np.int64)  # (c, R) masks
                per_slot = _per_row(paths, xm, prepared)  # (c, R, S)
                value = paths.value[prepared.rest].T[:, None, :, None]  # (outputs, 1, R, 1)
                paths.add_by_feature(part, per_slot[None] * value, prepared.rest)
    return TreeShap(
        values=values[:, : trees.n_features], base=prepared.base, output=output + trees.base
    )


def _look_up(prepared: Background, keys: np.ndarray, out: np.ndarray) -> None:
    """Add the tabled subtrees' attributions of rows given by their keys (units, c) into
    ``out`` (c, features + 1, outputs): one lookup per (subtree, feature, row), summed by
    feature."""
    index = prepared.cell_offset[:, None] + keys[prepared.cell_unit]  # (cells, c)
    for k in range(out.shape[2]):
        looked_up = np.take(prepared.table[k], index)
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
