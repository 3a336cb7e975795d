"""Hostile artifacts through the API on moto: code-running pickles and joblib dumps are
refused at registration for every flavor and leave nothing behind, with a canary file
proving no code ran; an artifact tampered with in storage is refused when scoring loads it.

(``tests/unit/test_safety.py`` covers the loader itself; this covers the HTTP path.)
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from steward import wiring
from steward.domain.models import Flavor
from tests.factories import reference_rows, register_body
from tests.moto_stack import Stack
from tests.reliability.conftest import call, create, live_artifact_keys, serve


class _Payload:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.canary}",))


def _hostile(canary: Path) -> dict[str, bytes]:
    joblib = pytest.importorskip("joblib")
    payloads = {f"pickle-{p}": pickle.dumps(_Payload(canary), protocol=p) for p in range(6)}
    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
        path = canary.parent / "m.joblib"
        joblib.dump(_Payload(canary), path, compress=compress)
        payloads[f"joblib-{compress}"] = path.read_bytes()
    return payloads


@pytest.mark.parametrize("flavor", [f.value for f in Flavor])
def test_code_running_artifacts_are_refused_at_registration(
    stack: Stack, tmp_path: Path, flavor: str
) -> None:
    canary = tmp_path / "pwned"
    name = f"hostile-{flavor}"
    create(name)
    for label, data in _hostile(canary).items():
        answer = call(
            stack, "POST", f"/models/{name}/versions", register_body(artifact=data, flavor=flavor)
        )
        assert answer.status == 422, (label, answer.raw)
        assert "pickle" in answer.body["message"]
        assert not canary.exists(), label
    assert call(stack, "GET", f"/models/{name}/versions").body["items"] == []
    assert live_artifact_keys(name) == []
    # Loading one in this process would run it: the canary is a real detector.
    pickle.loads(pickle.dumps(_Payload(canary)))
    assert canary.exists()


def test_a_tampered_artifact_is_refused_when_scoring_loads_it(stack: Stack) -> None:
    from moto.s3.models import s3_backends

    name = "tampered"
    serve(name)
    version = wiring.registry().get_version(name, 1)
    bucket, key = version.artifact.uri[5:].split("/", 1)
    stored = s3_backends["123456789012"]["aws"].get_object(
        bucket, key, version.artifact.s3_version_id
    )
    data = bytearray(stored.value)
    data[len(data) // 2] ^= 0x20
    stored.value = bytes(data)  # what someone with write access to storage would do
    wiring.reset()  # a cold scorer: nothing cached
    path = f"/models/{name}/predict"
    answer = call(stack, "POST", path, {"instances": reference_rows(2)}, resource=path)
    assert answer.status == 500 and answer.body["error"] == "integrity_error", answer.raw
    assert "predictions" not in answer.body
