"""The rate-limited fan-out between the drift schedules and the drift state machine.

A model's schedule does not start its run: it sends ``{"model", "scheduled_at"}`` to the
drift start queue, and the starter function (``functions/drift_starter``) takes the queue in
small batches at a bounded concurrency and starts one execution per firing
(:meth:`~steward.ports.monitoring.DriftRuns.start_scheduled`, named after the firing, so a
message delivered twice starts one run). The queue absorbs any burst (ten thousand models
due in the same minute); the batch size and the event source's maximum concurrency bound
the rate of StartExecution calls (docs/scale.md has the quota and the numbers).

A start that is throttled fails its message and every message after it in the batch (no
point in calling again now): they return to the queue after its visibility timeout and,
after the queue's maximum receives, go to its dead-letter queue, which raises an alarm.
Nothing is dropped: a malformed message fails too, and ends in the dead-letter queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from steward.domain.errors import DependencyUnavailable
from steward.domain.models import ModelName
from steward.ports.monitoring import DriftRuns

logger = logging.getLogger(__name__)


class Firing(BaseModel):
    """One firing of a model's drift schedule, as the schedule's input sends it."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName
    scheduled_at: AwareDatetime


def start_batch(runs: DriftRuns, messages: Iterable[tuple[str, str]]) -> list[str]:
    """Start a run per ``(message id, body)``; the ids of the messages to retry."""
    failed: list[str] = []
    throttled = False
    for message_id, body in messages:
        if throttled:
            failed.append(message_id)
            continue
        try:
            firing = Firing.model_validate_json(body)
        except ValidationError as exc:
            logger.error("a drift start message is malformed (%d errors)", exc.error_count())
            failed.append(message_id)
            continue
        try:
            runs.start_scheduled(firing.model, firing.scheduled_at)
        except DependencyUnavailable:
            throttled = True
            failed.append(message_id)
        except Exception:  # any other failure: this message is retried, then dead-lettered
            logger.exception("starting the drift run of %s failed", firing.model)
            failed.append(message_id)
    if throttled:
        logger.warning("drift starts throttled: %d messages return to the queue", len(failed))
    return failed
