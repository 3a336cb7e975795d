"""Artifacts that would run code when loaded (pickle, joblib) are refused before anything
reads them. Nothing in Steward ever calls ``pickle.load``."""

from __future__ import annotations

import bz2
import lzma
import zlib

from steward.domain.errors import ValidationFailed

ZIP_MAGIC = b"PK\x03\x04"
CONVERT_HINT = (
    "pickle and joblib artifacts are refused because loading them runs arbitrary code. "
    "Save scikit-learn models with skops (skops.io.dump(model, 'model.skops')) and register "
    "them with flavor 'sklearn', or convert them to ONNX (skl2onnx, onnxmltools) and use "
    "flavor 'onnx'."
)


def _is_pickle_stream(data: bytes) -> bool:
    head = data[:2]
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True  # pickle protocol 2-5 (and joblib's uncompressed format)
    # protocol 0/1: opcodes such as "(dp0", "(lp0", "cos\nsystem", ending with "."
    return data[:1] in (b"(", b"c", b"}", b"]") and data.rstrip().endswith(b".")


def _decompressed_prefix(data: bytes) -> bytes | None:
    """The first bytes of a zlib/gzip/bz2/xz/lzma stream (joblib's compressed formats)."""
    try:
        if len(data) > 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:
            return zlib.decompressobj().decompress(data[:4096], 64)
        if data[:2] == b"\x1f\x8b":
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[:4096], 64)
        if data[:3] == b"BZh":
            return bz2.BZ2Decompressor().decompress(data[:65536], 64)
        if data[:6] == b"\xfd7zXZ\x00":
            return lzma.LZMADecompressor().decompress(data[:65536], 64)
        if data[:2] == b"\x5d\x00":  # the legacy .lzma format (joblib's compress="lzma")
            decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
            return decompressor.decompress(data[:65536], 64)
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return None
    return None


def looks_like_pickle(data: bytes) -> bool:
    if _is_pickle_stream(data):
        return True
    inner = _decompressed_prefix(data)
    return inner is not None and (inner[:2] == b"\x80\x00" or _is_pickle_stream(inner))


def refuse_pickle(data: bytes) -> None:
    if looks_like_pickle(data):
        raise ValidationFailed(CONVERT_HINT)
