"""Fires schedules locally (moto stores them but never fires them): EventBridge scheduled
rules and EventBridge Scheduler schedules (one per model for drift).

Every tick it reads the enabled rules and schedules from the emulator, so those created or
changed after start-up are picked up, and delivers each due firing to the targets: Lambda
functions (asynchronously, with the target's input), Step Functions state machines and SQS
queues (the drift schedules' start queue), with the firing's time written into the input's
``<aws.scheduler.scheduled-time>`` as EventBridge Scheduler does.
:meth:`Scheduler.fire_period` fires every drift schedule once now, each at its own last
firing time (one period of schedules, for tests and benches).
Scheduler schedules are named ``<group>/<name>``; a schedule's ``StartDate`` is its first
firing and a rate's phase, as in EventBridge Scheduler (drift schedules are spread over their
period that way); their retry policy and dead-letter queue are not emulated (a failed local
firing is logged).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from steward.domain.errors import ValidationFailed
from steward.domain.schedule import parse_schedule
from steward.local.runtime import LocalRuntime

log = logging.getLogger("steward_local")

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_second(at: datetime) -> datetime:
    """``at`` rounded up to a whole second (itself when already whole)."""
    whole = at.replace(microsecond=0)
    return whole if whole == at else whole + timedelta(seconds=1)


def _latest(rule: dict[str, Any], now: datetime) -> datetime:
    """A rate schedule's latest firing at or before ``now`` on its phase (its start date),
    to the minute as EventBridge Scheduler fires; ``now`` for any other schedule."""
    start: datetime | None = rule.get("StartDate")
    try:
        every = parse_schedule(rule["ScheduleExpression"]).every
    except ValidationFailed:
        every = None
    if start is None or every is None:
        return now.replace(second=0, microsecond=0)
    latest = start + ((now - start) // every) * every
    return latest.replace(second=0, microsecond=0)


class Scheduler:
    def __init__(self, runtime: LocalRuntime, tick_s: float = 1.0, clock: Clock = _now) -> None:
        self._runtime = runtime
        self._tick = tick_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._anchors: dict[str, datetime] = {}
        self._next: dict[tuple[str, str, datetime], datetime | None] = {}
        self._details: dict[tuple[str, Any], dict[str, Any]] = {}
        self.fired: list[tuple[str, datetime]] = []
        self._events = boto3.client("events")
        self._scheduler = boto3.client("scheduler")

    def rules(self) -> list[dict[str, Any]]:
        """Scheduled EventBridge rules, then Scheduler schedules (``Name``: group/name)."""
        events = self._events
        rules = []
        for page in events.get_paginator("list_rules").paginate():
            rules += [dict(r) for r in page["Rules"] if r.get("ScheduleExpression")]
        return rules + self.schedules()

    def schedules(self) -> list[dict[str, Any]]:
        found = []
        for page in self._scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                key = (summary["Arn"], summary.get("LastModificationDate"))
                if key not in self._details:  # one read per schedule version
                    self._details[key] = self._scheduler.get_schedule(
                        Name=summary["Name"], GroupName=summary["GroupName"]
                    )
                detail = self._details[key]
                found.append(
                    {
                        "Name": f"{summary['GroupName']}/{summary['Name']}",
                        "ScheduleExpression": detail["ScheduleExpression"],
                        "StartDate": detail.get("StartDate"),
                        "State": detail.get("State", "ENABLED"),
                        "Target": detail["Target"],
                    }
                )
        return found

    def fire(self, rule_name: str, at: datetime | None = None) -> int:
        """Deliver one firing of ``rule_name`` (scheduled ``at``, default now) to its targets
        now; returns the target count.

        A firing "now" is stamped at the next whole second: the scheduled time reaches the
        target to the second, and truncating would leave out what was logged earlier in this
        very second (a demo that scores and fires within one second saw none of it)."""
        at = at or _next_second(self._clock())
        if "/" in rule_name:  # a Scheduler schedule: one target, its input as given
            group, name = rule_name.split("/", 1)
            target = self._scheduler.get_schedule(Name=name, GroupName=group)["Target"]
            text = (target.get("Input") or "{}").replace(SCHEDULED_TIME, _stamp(at))
            self._deliver(rule_name, target["Arn"], json.loads(text))
            self.fired.append((rule_name, at))
            return 1
        targets = self._events.list_targets_by_rule(Rule=rule_name)["Targets"]
        for target in targets:
            payload = json.loads(target["Input"]) if target.get("Input") else self._event(rule_name)
            self._deliver(rule_name, target["Arn"], payload)
        self.fired.append((rule_name, self._clock()))
        return len(targets)

    def _deliver(self, rule_name: str, arn: str, payload: Any) -> None:
        if ":lambda:" in arn:
            self._runtime.invoke_async(arn, payload)
        elif ":states:" in arn:
            boto3.client("stepfunctions").start_execution(
                stateMachineArn=arn, input=json.dumps(payload)
            )
        elif ":sqs:" in arn:
            sqs = boto3.client("sqs")
            url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(payload))
        else:
            log.warning("schedule %s: target %s is not supported locally", rule_name, arn)

    def _event(self, rule_name: str) -> dict[str, Any]:
        return {
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [rule_name],
            "detail": {},
        }

    def fire_period(
        self,
        group: str | None = None,
        now: datetime | None = None,
        names: Collection[str] | None = None,
    ) -> int:
        """Fire every enabled Scheduler schedule (of ``group``, and named in ``names``, if
        given) once, now, each with the time of its latest firing at or before ``now`` on
        its own phase (rates) or now (others): one period of schedules at once. Returns the
        firings delivered."""
        now = now or self._clock()
        fired = 0
        for rule in self.schedules():
            if rule.get("State", "ENABLED") != "ENABLED":
                continue
            group_name, _, name = rule["Name"].partition("/")
            if (group is not None and group_name != group) or (names and name not in names):
                continue
            self.fire(rule["Name"], _latest(rule, now))
            fired += 1
        return fired

    def tick(self) -> None:
        now = self._clock()
        for rule in self.rules():
            name = rule["Name"]
            if rule.get("State", "ENABLED") != "ENABLED":
                continue
            try:
                schedule = parse_schedule(rule["ScheduleExpression"])
            except ValidationFailed as exc:
                log.warning("schedule %s skipped: %s", name, exc.message)
                continue
            start: datetime | None = rule.get("StartDate")
            anchor = start or self._anchors.setdefault(name, now)
            key = (name, schedule.expression, anchor)  # a changed schedule is planned afresh
            if key not in self._next:
                first = start is not None and start > now
                self._next[key] = start if first else schedule.next_after(now, anchor)
            due = self._next[key]
            if due is not None and due <= now:
                log.info("firing schedule %s (%s)", name, rule["ScheduleExpression"])
                self.fire(name)
                self._next[key] = schedule.next_after(now, anchor)

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="steward-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
