"""Trying again when a concurrent writer won: one policy for every compare-and-set loop.

DynamoDB conditional writes (a version number, an audit sequence, a model's revision) lose
to a concurrent writer with :class:`~steward.domain.errors.Conflict`; the loser reads again
and retries. Every such loop goes through :func:`on_conflict`, so all of them back off the
same way (exponential with full jitter, so that the losers of one race do not meet again),
stop at the same bounds (attempts and a deadline, whichever comes first), and say so when
they give up: a warning in the log and a :class:`Conflict` naming what was tried (a 409
for an API caller, a failed task for a workflow), never a silent return.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from steward.domain.errors import Conflict, StewardError

T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """At most ``attempts`` calls within ``deadline_s``; before attempt ``n`` (from 1), a
    pause drawn uniformly from ``[0, min(cap_s, base_s * 2**(n-1))]`` (full jitter)."""

    # The deadline is the bound, not the count: on a hot stream (twenty registrations and
    # their workflows appending to one model's audit chain) the last writer loses a round
    # to each earlier one.
    attempts: int = 100
    base_s: float = 0.002
    # A light race retries within milliseconds (the cap is reached at the 10th attempt);
    # a crowd spreads out over a second instead of retrying as a herd, where each round
    # costs every contender a read and a losing write for one winner.
    cap_s: float = 1.0
    # 20 s stays under API Gateway's 29 s integration timeout.
    deadline_s: float = 20.0

    def pause(self, attempt: int, draw: Callable[[float, float], float]) -> float:
        """The pause before ``attempt`` (the first retry is attempt 1)."""
        return draw(0.0, min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 30)))


CONFLICTS = Backoff()


def on_conflict(
    operation: Callable[[int], T],
    what: str,
    *,
    policy: Backoff = CONFLICTS,
    retry_on: tuple[type[Exception], ...] = (Conflict,),
    gives_up_with: type[StewardError] = Conflict,
    sleep: Callable[[float], None] | None = None,  # time.sleep
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[float, float], float] = random.uniform,
) -> T:
    """Call ``operation(attempt)`` (attempt counts from 0) until it returns; when it raises
    one of ``retry_on``, pause and call it again. Past the policy's attempts or deadline,
    log a warning and raise ``gives_up_with`` naming ``what``: a plain :class:`Conflict` by
    default, so an API caller sees a 409 and a workflow task's ``Conflict`` retry still
    matches it. Any other exception propagates at once."""
    started = clock()
    attempt = 0
    while True:
        try:
            return operation(attempt)
        except retry_on:
            attempt += 1
            elapsed = clock() - started
            if attempt >= policy.attempts or elapsed >= policy.deadline_s:
                logger.warning("gave up on %s after %d attempts in %.2f s", what, attempt, elapsed)
                raise gives_up_with(f"{what}: gave up after {attempt} attempts; retry") from None
            (sleep or time.sleep)(policy.pause(attempt, draw))
