"""The audit chain's hash in the standard library alone.

The domain seals every audit event with :func:`digest`, and ``steward evidence verify``
checks an evidence pack's audit slice with :func:`check`, offline and without the server's
libraries (the CLI imports no server module).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS = "0" * 64
HASHED_AS = (
    "sha256 of the event's JSON without its 'hash' key: keys sorted, separators ',' and ':', "
    "UTF-8; prev_hash is the previous event's hash (the first event's is 64 zeros)"
)


def digest(body: Mapping[str, Any]) -> str:
    """The hash of an event given as JSON values (``hash`` itself is left out)."""
    content = {k: v for k, v in body.items() if k != "hash"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check(stream: str, events: Iterable[Mapping[str, Any]]) -> tuple[int, str | None]:
    """How many events were read, and the first problem (``None`` if the chain holds):
    each event of ``stream`` in sequence from 1, linked to the previous, matching its hash."""
    prev_hash, expected, count = GENESIS, 1, 0
    for event in events:
        count += 1
        seq = event.get("seq")
        if event.get("stream") != stream:
            return count, f"event {seq} belongs to another stream"
        if seq != expected:
            return count, f"sequence gap: expected {expected}, found {seq}"
        if event.get("prev_hash") != prev_hash:
            return count, f"event {seq}: the link to the previous event is broken"
        if event.get("hash") != digest(event):
            return count, f"event {seq}: its content does not match its hash"
        prev_hash, expected = str(event["hash"]), expected + 1
    return count, None
