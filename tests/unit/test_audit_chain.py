from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from steward.domain.audit import GENESIS, AuditEvent, compare_with_copy, next_event, verify_chain

AT = datetime(2026, 1, 1, tzinfo=UTC)


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
            at=AT,
            after={"i": i},
        )
        events.append(head)
    return events


def test_chain_links_and_verifies() -> None:
    events = _chain(5)
    assert events[0].prev_hash == GENESIS and events[0].seq == 1
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert verify_chain("m", events).ok


def _copy(events: list[AuditEvent]) -> dict[int, set[str]]:
    return {e.seq: {e.content_hash()} for e in events}


def _compare(table: list[AuditEvent], copied: dict[int, set[str]], later: float = 3600):
    now = AT + timedelta(seconds=later)
    return compare_with_copy("m", table, copied, now=now, grace=timedelta(minutes=5))


def _rewritten(events: list[AuditEvent], start: int) -> list[AuditEvent]:
    """The events from index ``start`` forged and re-chained with recomputed hashes."""
    forged = list(events[:start])
    head = forged[-1] if forged else None
    for event in events[start:]:
        head = next_event(
            head, stream="m", actor="mallory", action=event.action, target="m", at=event.at
        )
        forged.append(head)
    return forged


@given(st.integers(1, 12), st.data())
def test_any_change_removal_swap_truncation_or_rewrite_is_detected_with_its_first_point(
    n: int, data: st.DataObject
) -> None:
    events = _chain(n)
    i = data.draw(st.integers(0, n - 1))
    kind = data.draw(st.sampled_from(["edit", "drop", "swap", "rehash", "truncate", "rewrite"]))
    tampered = list(events)
    first = i + 1  # the sequence number of the first event at fault
    if kind == "edit":
        tampered[i] = events[i].model_copy(update={"reason": "covered up"})
    elif kind == "rehash":  # edit and recompute its own hash: the next link breaks
        tampered[i] = events[i].model_copy(update={"actor": "mallory"}).sealed()
    elif kind == "drop":
        del tampered[i]
    elif kind == "truncate":  # the newest events cut off: the chain still holds
        del tampered[i:]
        assert verify_chain("m", tampered).ok
    elif kind == "rewrite":  # the tail forged with recomputed hashes: the chain holds too
        tampered = _rewritten(events, i)
        assert verify_chain("m", tampered).ok
    elif n > 1:
        j = (i + 1) % n
        tampered[i], tampered[j] = tampered[j], tampered[i]
        first = min(i, j) + 1
    else:
        return
    report = _compare(tampered, _copy(events))
    assert not report.ok
    assert report.broken_at == first, (kind, report)


def test_an_untouched_trail_matches_its_copy_and_new_events_may_be_pending() -> None:
    events = _chain(4)
    assert _compare(events, _copy(events)).ok
    fresh = _compare(events, _copy(events[:2]), later=60)
    assert fresh.ok and fresh.pending == 2
    late = _compare(events, _copy(events[:2]))
    assert not late.ok and late.uncopied == [3, 4] and late.broken_at == 3


def test_a_second_copy_under_one_sequence_number_is_reported() -> None:
    events = _chain(3)
    copied = _copy(events)
    copied[2].add(_rewritten(events, 1)[1].content_hash())  # re-inserted with other content
    report = _compare(events, copied)
    assert not report.ok and report.altered == [2] and report.broken_at == 2


@given(st.integers(1, 12), st.data())
def test_any_single_change_removal_or_swap_breaks_the_chain(n: int, data: st.DataObject) -> None:
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
    if kind != "drop" or i != n - 1:  # cutting off the newest: only the copy sees it
        assert not verify_chain("m", tampered).ok
