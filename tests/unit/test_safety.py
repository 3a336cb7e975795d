"""Artifacts that would run code on load are refused, and no code runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from steward.domain.errors import ValidationFailed
from steward.domain.models import Flavor, Signature, Task
from steward.runtimes.loader import load_runtime
from steward.runtimes.safety import looks_like_pickle


class _Payload:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.canary}",))


SIG = Signature.model_validate({"inputs": [{"name": "x"}]})


@pytest.mark.parametrize("flavor", list(Flavor))
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickle_is_refused_and_never_runs(
    tmp_path: Path, flavor: Flavor, protocol: int
) -> None:
    canary = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(canary), protocol=protocol)
    with pytest.raises(ValidationFailed):
        load_runtime(flavor, payload, SIG, Task.CLASSIFICATION)
    assert not canary.exists()


def test_joblib_dumps_are_recognised(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
        path = tmp_path / "m.joblib"
        joblib.dump({"a": 1}, path, compress=compress)
        assert looks_like_pickle(path.read_bytes()), compress


def test_json_and_onnx_are_not_pickles() -> None:
    assert not looks_like_pickle(b'{"coefficients": {}}')
    assert not looks_like_pickle(b"\x08\x09\x12\x04onnx")


def test_skops_with_untrusted_types_is_refused() -> None:
    skops_io = pytest.importorskip("skops.io")
    from fractions import Fraction

    data = skops_io.dumps(Fraction(1, 3))
    with pytest.raises(ValidationFailed):
        load_runtime(Flavor.SKLEARN, data, SIG, Task.CLASSIFICATION)
