"""The class labels an ONNX classifier declares, read from the graph's bytes.

onnxruntime exposes no node attributes and the ``onnx`` package is too heavy for the scoring
function, so this walks the protobuf wire format for the few fields it needs: ``ModelProto.graph``
(7) → ``GraphProto.node`` (1) → ``NodeProto.op_type`` (4) and ``attribute`` (5) →
``AttributeProto.name`` (1), ``ints`` (8) and ``strings`` (9). The ``ai.onnx.ml`` classifiers
(``TreeEnsembleClassifier``, ``LinearClassifier``, ``SVMClassifier``) and ``ZipMap`` order their
probability columns by ``classlabels_int64s`` or ``classlabels_strings``: skl2onnx,
onnxmltools (XGBoost, LightGBM) and sklearn-onnx pipelines all emit them. Attributes other than
these two are skipped by their length, so a large forest costs one step per attribute.
"""

from __future__ import annotations

from steward.runtimes.protobuf import fields as _fields
from steward.runtimes.protobuf import packed_varints, signed

LabelList = list[int] | list[str]

CLASSIFIER_OPS = frozenset(
    {b"TreeEnsembleClassifier", b"LinearClassifier", b"SVMClassifier", b"ZipMap"}
)
_LABEL_ATTRIBUTES = frozenset({b"classlabels_int64s", b"classlabels_strings"})


def _labels(attribute: bytes) -> LabelList | None:
    name = None
    ints: list[int] = []
    strings: list[str] = []
    for number, wire, value in _fields(attribute):
        if number == 1 and isinstance(value, bytes):
            if value not in _LABEL_ATTRIBUTES:
                return None
            name = value
        elif number == 8 and wire == 0 and isinstance(value, int):
            ints.append(signed(value))
        elif number == 8 and isinstance(value, bytes):  # packed
            ints.extend(packed_varints(value))
        elif number == 9 and isinstance(value, bytes):
            strings.append(value.decode("utf-8"))
    if name == b"classlabels_int64s" and ints:
        return ints
    if name == b"classlabels_strings" and strings:
        return strings
    return None


def _node_labels(node: bytes) -> LabelList | None:
    op = None
    found: LabelList | None = None
    for number, _, value in _fields(node):
        if number == 4 and isinstance(value, bytes):
            op = value
        elif number == 5 and isinstance(value, bytes) and found is None:
            found = _labels(value)
    return found if op in CLASSIFIER_OPS else None


def class_labels(model: bytes) -> LabelList | None:
    """The class labels of the graph's classifier nodes, in probability column order; None
    when the graph declares none, or when two nodes disagree (then nothing is assumed)."""
    try:
        found: list[LabelList] = []
        for number, _, graph in _fields(model):
            if number != 7 or not isinstance(graph, bytes):
                continue
            for field, _, node in _fields(graph):
                if field == 1 and isinstance(node, bytes):
                    labels = _node_labels(node)
                    if labels is not None:
                        found.append(labels)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None  # not a protobuf we can read: the classes stay unnamed
    if not found or any(labels != found[0] for labels in found[1:]):
        return None
    return found[0]
