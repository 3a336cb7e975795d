"""The protobuf wire format, read without the ``protobuf`` or ``onnx`` packages (too heavy for
the scoring function): enough to walk an ONNX ModelProto's graph for the fields we need."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

_INT64 = 1 << 64


def varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of one message: varints as ints, length-delimited
    and fixed 32/64-bit fields as bytes."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = varint(data, pos)
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 1:
            yield number, wire, data[pos : pos + 8]
            pos += 8
        elif wire == 5:
            yield number, wire, data[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def signed(value: int) -> int:
    return value - _INT64 if value >= 1 << 63 else value


def packed_varints(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        item, pos = varint(data, pos)
        out.append(signed(item))
    return out


def floats(data: bytes, dtype: type = np.float32) -> np.ndarray:
    """Packed (or single) little-endian fixed-width floats."""
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).astype(np.float64)
