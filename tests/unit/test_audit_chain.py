from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from steward.domain.audit import GENESIS, next_event, verify_chain


def _chain(n: int) -> list:  # type: ignore[type-arg]
    events = []
    head = None
    for i in range(n):
        head = next_event(
            head,
            stream="m",
            actor="alice",
            action=f"a{i}",
            target="m",
            at=datetime(2026, 1, 1, tzinfo=UTC),
            after={"i": i},
        )
        events.append(head)
    return events


def test_chain_links_and_verifies() -> None:
    events = _chain(5)
    assert events[0].prev_hash == GENESIS and events[0].seq == 1
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert verify_chain("m", events).ok


@given(st.integers(1, 12), st.data())
def test_any_single_change_removal_or_swap_is_detected(n: int, data: st.DataObject) -> None:
    events = _chain(n)
    i = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["edit", "drop", "swap", "rehash"]))
    tampered = list(events)
    if kind == "edit":
        tampered[i] = events[i].model_copy(update={"reason": "covered up"})
    elif kind == "rehash":  # edit and recompute its own hash: the next link breaks
        tampered[i] = events[i].model_copy(update={"actor": "mallory"}).sealed()
        if i == n - 1:
            tampered.append(events[-1])  # a duplicate tail is also caught
    elif kind == "drop":
        del tampered[i]
        if not tampered:
            return
    elif n > 1:
        j = (i + 1) % n
        tampered[i], tampered[j] = tampered[j], tampered[i]
    else:
        return
    checkpoint = (events[-1].seq, events[-1].hash)
    assert not verify_chain("m", tampered, checkpoint).ok
    if kind != "drop" or i != n - 1:  # only truncation needs the checkpoint to be seen
        assert not verify_chain("m", tampered).ok
