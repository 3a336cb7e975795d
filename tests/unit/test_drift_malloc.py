"""The allocator tuning the drift kernel was measured with is applied by the drift function's
handler when it loads (a cold start, or the local platform loading it), not by every
evaluation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from steward.domain.models import Signature
from steward.domain.profile import Profile
from steward.drift import malloc
from steward.drift.evaluate import partial_of

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "drift" / "handler.py"


def test_the_drift_handler_tunes_the_allocator_once_and_the_evaluation_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(malloc, "tune_malloc", lambda: bool(calls.append(1)))
    spec = importlib.util.spec_from_file_location("drift_handler_under_test", HANDLER)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert calls == [1]
    signature = Signature.model_validate({"inputs": [{"name": "a"}]})
    partial_of([], Profile(rows=0, features={}), signature, (None, None))  # type: ignore[arg-type]
    assert calls == [1]
