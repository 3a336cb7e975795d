"""One period of drift schedules, now: every model's schedule fires once (at its own latest
firing time), the start queue is delivered to the starter as Lambda's poller would, and the
runs it started are awaited. The local platform (:meth:`LocalPlatform.fire_period`), the
moto tests and the inventory bench call it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from steward.local.pollers import QueuePoller
from steward.local.scheduler import Scheduler
from steward.polling import until

FIRING = re.compile(r"-s\d{8}T\d{4}$")  # steward.adapters.aws.stepfunctions.scheduled_name


@dataclass
class Period:
    """What one period of schedules did: firings sent, runs started and how they ended."""

    fired: int = 0
    delivered: int = 0  # start-queue messages handed to the starter
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    seconds: float = 0.0
    most_running: int = 0  # the most runs seen running at once
    executions: dict[str, str] = field(default_factory=dict)  # name -> status


def fire_period(
    scheduler: Scheduler,
    pollers: Sequence[QueuePoller],
    *,
    now: datetime | None = None,
    models: Collection[str] | None = None,
    wait: bool = True,
    timeout_s: float = 600.0,
) -> Period:
    """Fire the drift group's schedules (of ``models``, if given) once, deliver the start
    queue, and (``wait``) wait until every scheduled run started since has ended."""
    began = time.perf_counter()
    sfn = boto3.client("stepfunctions")
    machine = os.environ["STEWARD_DRIFT_STATE_MACHINE_ARN"]
    before = {e["name"] for e in _scheduled(sfn, machine)}
    group = os.environ["STEWARD_DRIFT_SCHEDULE_GROUP"]
    period = Period(fired=scheduler.fire_period(group, now, models))
    queue = os.environ["STEWARD_DRIFT_START_QUEUE_ARN"]
    starters = [p for p in pollers if p.source.queue_arn == queue]
    period.delivered = sum(p.flush() for p in starters)

    def settled() -> bool | None:  # lists the running ones only: a thousand ended are costly
        runs = [e for e in _scheduled(sfn, machine, "RUNNING") if e["name"] not in before]
        period.most_running = max(period.most_running, len(runs))
        return (not runs) or None

    if wait:
        until(settled, timeout_s, what="the period's drift runs", step_s=1.0)
    runs = [e for e in _scheduled(sfn, machine) if e["name"] not in before]
    period.executions = {e["name"]: e["status"] for e in runs}
    period.most_running = max(
        period.most_running, sum(s == "RUNNING" for s in period.executions.values())
    )
    statuses = list(period.executions.values())
    period.started = len(statuses)
    period.succeeded = statuses.count("SUCCEEDED")
    period.failed = sum(s in ("FAILED", "TIMED_OUT", "ABORTED") for s in statuses)
    period.seconds = time.perf_counter() - began
    return period


def _scheduled(sfn: Any, machine: str, status: str | None = None) -> list[dict[str, Any]]:
    """The drift machine's executions of schedule firings (``<model>-s<stamp>``), of
    ``status`` only if given."""
    found: list[dict[str, Any]] = []
    filters = {"statusFilter": status} if status else {}
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, **filters)
    for page in pages:
        found += [e for e in page["executions"] if FIRING.search(e["name"])]
    return found
