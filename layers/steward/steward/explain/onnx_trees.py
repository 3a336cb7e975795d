"""An ONNX graph's ``TreeEnsembleClassifier``/``TreeEnsembleRegressor`` as a
:class:`~steward.explain.trees.TreeEnsemble`, read from the protobuf wire format.

Only a graph whose trees see the graph's input as is (directly or through a ``Cast``) and
whose other nodes pass the trees' outputs through (``Identity``, ``ZipMap``, ``Cast``) is a tree
model here; anything else answers None (the sampling explainer's case). ONNX Runtime compares
in float32, so the ensemble casts features to float32; its output is the margin before
``post_transform``: the link is ``logistic`` (binary: the positive class's margin), ``softmax``
(per class), ``probability`` (a classifier without a transform: averaged class fractions;
binary: the positive class's) or ``identity`` (regression).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from steward.explain.trees import EQ, GEQ, GT, LEQ, LT, NEQ, Tree, TreeEnsemble, ensemble
from steward.runtimes.protobuf import fields, floats, packed_varints, signed

_MODES = {
    b"BRANCH_LEQ": LEQ,
    b"BRANCH_LT": LT,
    b"BRANCH_GTE": GEQ,
    b"BRANCH_GT": GT,
    b"BRANCH_EQ": EQ,
    b"BRANCH_NEQ": NEQ,
}
_PASS_THROUGH = frozenset({b"Identity", b"ZipMap", b"Cast"})
_TREE_OPS = frozenset({b"TreeEnsembleClassifier", b"TreeEnsembleRegressor"})
_TENSOR_FLOAT, _TENSOR_DOUBLE = 1, 11


def _tensor(data: bytes) -> np.ndarray:
    kind, raw, parts = _TENSOR_FLOAT, b"", []
    for number, _, value in fields(data):
        if number == 2 and isinstance(value, int):
            kind = value
        elif number == 9 and isinstance(value, bytes):
            raw = value
        elif number in (4, 10) and isinstance(value, bytes):
            parts.append(floats(value, np.float32 if number == 4 else np.float64))
    if raw:
        return floats(raw, np.float64 if kind == _TENSOR_DOUBLE else np.float32)
    return np.concatenate(parts) if parts else np.zeros(0)


def _attribute(data: bytes) -> tuple[bytes, Any]:
    """An AttributeProto's name and value: a scalar (f 2, i 3, s 4, t 5) or a list (floats 7,
    ints 8, strings 9)."""
    name: bytes = b""
    lists: dict[int, list[Any]] = defaultdict(list)
    scalar: Any = None
    for number, _, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            name = value
        elif number == 8 and isinstance(value, int):
            lists[8].append(signed(value))
        elif number == 8 and isinstance(value, bytes):
            lists[8].extend(packed_varints(value))
        elif number in (7, 9) and isinstance(value, bytes):
            lists[number].append(value)
        elif number in (2, 3, 4, 5):
            scalar = _SCALARS[number](value)
    if lists[7]:
        return name, np.concatenate([floats(v) for v in lists[7]])
    if lists[8]:
        return name, np.array(lists[8], dtype=np.int64)
    if lists[9]:
        return name, lists[9]
    return name, scalar


_SCALARS: dict[int, Any] = {
    2: lambda v: float(floats(v)[0]),
    3: signed,
    4: lambda v: v,
    5: _tensor,
}


def _nodes(model: bytes) -> tuple[list[str], list[tuple[bytes, list[str], dict[bytes, Any]]]]:
    inputs: list[str] = []
    nodes = []
    for number, _, graph in fields(model):
        if number != 7 or not isinstance(graph, bytes):
            continue
        for field, _, value in fields(graph):
            if field == 11 and isinstance(value, bytes):
                for f, _, name in fields(value):
                    if f == 1 and isinstance(name, bytes):
                        inputs.append(name.decode())
            elif field == 1 and isinstance(value, bytes):
                op, ins, attrs = b"", [], {}
                for f, _, item in fields(value):
                    if f == 1 and isinstance(item, bytes):
                        ins.append(item.decode())
                    elif f == 4 and isinstance(item, bytes):
                        op = item
                    elif f == 5 and isinstance(item, bytes) and op in (b"", *_TREE_OPS):
                        key, val = _attribute(item)
                        attrs[key] = val
                nodes.append((op, ins, attrs))
    return inputs, nodes


def from_onnx(model: bytes, n_features: int) -> tuple[TreeEnsemble, str] | None:
    """The graph's tree ensemble and its link, or None when the graph is not one."""
    try:
        inputs, nodes = _nodes(model)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None
    trees = [n for n in nodes if n[0] in _TREE_OPS]
    if len(trees) != 1 or len(inputs) != 1:
        return None
    op, ins, attrs = trees[0]
    feeds = {inputs[0]} | {
        o for kind, i, _ in nodes for o in i if kind == b"Cast" and inputs[0] in i
    }
    if any(n[0] not in _PASS_THROUGH and n[0] not in _TREE_OPS for n in nodes):
        return None
    if not ins or (ins[0] not in feeds and ins[0] != inputs[0]):
        return None
    try:
        return _build(op == b"TreeEnsembleClassifier", attrs, n_features)
    except (KeyError, IndexError, ValueError):
        return None


def _link(classifier: bool, attrs: dict[bytes, Any], targets: np.ndarray) -> tuple[str, int] | None:
    """The link (``logistic``, ``softmax``, ``probability``, ``identity``) and the margins."""
    post = attrs.get(b"post_transform") or b"NONE"
    if not classifier:
        return ("identity", int(attrs.get(b"n_targets") or 1)) if post == b"NONE" else None
    labels = attrs.get(b"classlabels_int64s")
    n_labels = len(labels) if labels is not None else len(attrs[b"classlabels_strings"])
    outputs = int(targets.max()) + 1 if len(targets) else 1
    if n_labels == 2 and outputs == 1:  # binary: one margin, the positive class's
        link = {b"LOGISTIC": "logistic", b"NONE": "probability"}.get(post)
    elif outputs == n_labels:
        link = {b"SOFTMAX": "softmax", b"NONE": "probability"}.get(post)
    else:
        return None
    return (link, outputs) if link is not None else None


def _either(attrs: dict[bytes, Any], name: bytes) -> Any:
    """An attribute or its ``_as_tensor`` (double precision) form."""
    value = attrs.get(name + b"_as_tensor")
    return attrs.get(name) if value is None else value


def _build(
    classifier: bool, attrs: dict[bytes, Any], n_features: int
) -> tuple[TreeEnsemble, str] | None:
    prefix = b"class_" if classifier else b"target_"
    targets = attrs[prefix + b"ids"]
    linked = _link(classifier, attrs, targets)
    aggregate = attrs.get(b"aggregate_function") or b"SUM"
    if linked is None or aggregate not in (b"SUM", b"AVERAGE"):
        return None
    link, outputs = linked
    base = _either(attrs, b"base_values")
    base = np.zeros(outputs) if base is None or not len(base) else np.asarray(base, np.float64)
    if len(base) != outputs:
        return None
    per_tree: dict[int, list[int]] = defaultdict(list)
    for row, tree in enumerate(attrs[b"nodes_treeids"].tolist()):
        per_tree[tree].append(row)
    leaf_weights: dict[tuple[int, int], list[int]] = defaultdict(list)
    keys = zip(
        attrs[prefix + b"treeids"].tolist(), attrs[prefix + b"nodeids"].tolist(), strict=True
    )
    for row, key in enumerate(keys):
        leaf_weights[key].append(row)
    scale = 1.0 / len(per_tree) if aggregate == b"AVERAGE" else 1.0
    built = [
        _tree(attrs, tree, rows, leaf_weights, prefix, outputs, scale)
        for tree, rows in sorted(per_tree.items())
    ]
    features = np.concatenate([t.feature for t in built])
    if (features >= n_features).any() or any(
        ((t.feature >= 0) & ((t.yes < 0) | (t.no < 0))).any() for t in built
    ):
        return None
    return ensemble(built, base, n_features, np.float32), link


def _tree(
    attrs: dict[bytes, Any],
    tree: int,
    rows: list[int],
    leaf_weights: dict[tuple[int, int], list[int]],
    prefix: bytes,
    outputs: int,
    scale: float,
) -> Tree:
    modes = attrs[b"nodes_modes"]
    weights, targets = _either(attrs, prefix + b"weights"), attrs[prefix + b"ids"]
    index = {int(attrs[b"nodes_nodeids"][r]): i for i, r in enumerate(rows)}
    leaf = np.array([modes[r] == b"LEAF" for r in rows])
    value = np.zeros((len(rows), outputs))
    for node, i in index.items():
        for w in leaf_weights.get((tree, node), []):
            value[i, targets[w]] += weights[w] * scale
    missing = attrs.get(b"nodes_missing_value_tracks_true")
    return Tree(
        feature=np.where(leaf, -1, attrs[b"nodes_featureids"][rows]),
        threshold=_either(attrs, b"nodes_values")[rows],
        yes=np.array([index.get(int(attrs[b"nodes_truenodeids"][r]), -1) for r in rows]),
        no=np.array([index.get(int(attrs[b"nodes_falsenodeids"][r]), -1) for r in rows]),
        missing_yes=np.zeros(len(rows), bool) if missing is None else missing[rows] != 0,
        value=value,
        op=np.array([_MODES.get(modes[r], LEQ) for r in rows]),
    )
