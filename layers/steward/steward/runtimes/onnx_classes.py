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

from collections.abc import Iterator

LabelList = list[int] | list[str]

CLASSIFIER_OPS = frozenset(
    {b"TreeEnsembleClassifier", b"LinearClassifier", b"SVMClassifier", b"ZipMap"}
)
_LABEL_ATTRIBUTES = frozenset({b"classlabels_int64s", b"classlabels_strings"})
_INT64 = 1 << 64


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of one message: varints as ints, length-delimited
    fields as bytes; fixed 32/64-bit fields are skipped (none of ours are)."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _signed(value: int) -> int:
    return value - _INT64 if value >= 1 << 63 else value


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
            ints.append(_signed(value))
        elif number == 8 and isinstance(value, bytes):  # packed
            pos = 0
            while pos < len(value):
                item, pos = _varint(value, pos)
                ints.append(_signed(item))
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
