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
        group = table[:, 0] * self.n_slots + table[:, 1]
        self.starts = np.flatnonzero(np.r_[len(group) > 0, group[1:] != group[:-1]])
        self.groups = group[self.starts]  # (G,) leaf*S+slot of each group
        self.nodes, self.ways = table[:, 2], table[:, 3].astype(bool)
        feature = np.full(self.n_leaves * self.n_slots, -1, dtype=np.int64)
        for leaf, order in enumerate(slot_features):
            feature[leaf * self.n_slots : leaf * self.n_slots + len(order)] = order
        self.slot_feature = feature.reshape(self.n_leaves, self.n_slots)
        bits = np.left_shift(np.int64(1), np.arange(self.n_slots, dtype=np.int64))
        self.bits = bits
        self.valid = ((self.slot_feature >= 0) * bits).sum(axis=1)  # (L,) mask of real slots
        self.trees = trees
        used = np.flatnonzero(self.slot_feature.ravel() >= 0)
        self._by_feature = used[np.argsort(self.slot_feature.ravel()[used], kind="stable")]
        sorted_features = self.slot_feature.ravel()[self._by_feature]
        self._feature_starts = np.flatnonzero(
            np.r_[len(sorted_features) > 0, sorted_features[1:] != sorted_features[:-1]]
        )
        self._features = sorted_features[self._feature_starts]
        self.weights_a, self.weights_b = _weights(self.n_slots)
        self.slot_value = np.repeat(self.value, self.n_slots, axis=0)  # (L*S, K)

    def masks(self, x: np.ndarray) -> np.ndarray:
        """(rows, leaves) int64: bit ``s`` set when the row passes every split on slot ``s``
        (padding slots are set)."""
        t = self.trees
        values: np.ndarray = x.astype(t.dtype)[:, t.feature[self.nodes]]
        thresholds = t.threshold[self.nodes]
        ops = t.op[self.nodes]
        way = np.empty(values.shape, dtype=bool)
        for code in np.unique(ops).tolist():
            cols = ops == code
            with np.errstate(invalid="ignore"):
                way[:, cols] = _OPS[code](values[:, cols], thresholds[cols])
        missing = np.isnan(values)
        if missing.any():
            way = np.where(missing, t.missing_yes[self.nodes], way)
        flat = np.ones((x.shape[0], self.n_leaves * self.n_slots), dtype=bool)
        if len(self.starts):  # (a forest of single leaves has no splits)
            passed = way == self.ways
            flat[:, self.groups] = np.logical_and.reduceat(passed, self.starts, axis=1)
        shaped = flat.reshape(x.shape[0], self.n_leaves, self.n_slots)
        masks: np.ndarray = (shaped * self.bits).sum(axis=2)
        return masks

    def outputs(self, masks: np.ndarray) -> np.ndarray:
        """(rows, outputs): the model's margin for rows given by their masks."""
        reached = (masks & self.valid) == self.valid
        out: np.ndarray = reached.astype(np.float64) @ self.value + self.trees.base
        return out

    def by_feature(self, per_slot: np.ndarray, n_features: int) -> np.ndarray:
        """Sum (rows, L*S, K) slot contributions into (rows, features, K)."""
        rows, _, k = per_slot.shape
        out = np.zeros((rows, n_features, k))
        if len(self._by_feature):
            sums = np.add.reduceat(per_slot[:, self._by_feature], self._feature_starts, axis=1)
            out[:, self._features] = sums
        return out


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
    """What TreeSHAP needs of a background, computed once per (ensemble, background)."""

    masks: np.ndarray  # (m, L)
    bits: np.ndarray  # (L, m, S) 1.0 where the background row passes the slot
    not_bits: np.ndarray  # (L, m, S) 1.0 where it does not (real slots only)
    base: np.ndarray  # (outputs,) the background's mean margin


def prepare(trees: TreeEnsemble, background: np.ndarray) -> Background:
    paths = trees.paths
    zm = paths.masks(background)
    real = ((paths.valid[:, None] & paths.bits) != 0)[:, None, :]  # (L, 1, S)
    z_bits = ((zm.T[:, :, None] & paths.bits) != 0).astype(np.float64)  # (L, m, S)
    return Background(
        masks=zm,
        bits=np.ascontiguousarray(z_bits * real),
        not_bits=np.ascontiguousarray((1.0 - z_bits) * real),
        base=paths.outputs(zm).mean(axis=0),
    )


def tree_shap(trees: TreeEnsemble, x: np.ndarray, background: np.ndarray | Background) -> TreeShap:
    """Exact interventional Shapley values of every row of ``x`` against ``background``
    (rows, or prepared once by :func:`prepare`)."""
    paths = trees.paths
    prepared = background if isinstance(background, Background) else prepare(trees, background)
    zm = prepared.masks
    xm = paths.masks(x)  # (n, L)
    m, leaves = zm.shape
    valid = paths.valid
    n = x.shape[0]
    per_slot = np.zeros((n, leaves, paths.n_slots))
    chunk = max(1, _CELLS // max(1, m * leaves))
    for start in range(0, n, chunk):
        xs = xm[start : start + chunk]  # (c, L)
        only_x = xs[:, None, :] & ~zm[None] & valid  # (c, m, L)
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
        sum_a = np.matmul(wa.transpose(2, 0, 1), prepared.not_bits)  # (L, c, S)
        sum_b = np.matmul(wb.transpose(2, 0, 1), prepared.bits)
        x_bits = (xs[:, :, None] & paths.bits) != 0  # (c, L, S)
        per_slot[start : start + chunk] = np.where(
            x_bits, sum_a.transpose(1, 0, 2), sum_b.transpose(1, 0, 2)
        )
    per_slot /= m
    contributions = per_slot.reshape(n, leaves * paths.n_slots, 1) * paths.slot_value[None]
    values = paths.by_feature(contributions, trees.n_features)
    return TreeShap(values=values, base=prepared.base, output=paths.outputs(xm))


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
