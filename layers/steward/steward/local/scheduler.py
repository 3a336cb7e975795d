"""Fires EventBridge schedules locally (moto stores rules but never fires them).

Every tick it reads the enabled scheduled rules from the emulator, so rules created after
start-up are picked up, and delivers each due firing to the rule's targets: Lambda functions
(asynchronously, with the target's input) and Step Functions state machines.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from steward.domain.errors import ValidationFailed
from steward.domain.schedule import parse_schedule
from steward.local.runtime import LocalRuntime

log = logging.getLogger("steward_local")

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(self, runtime: LocalRuntime, tick_s: float = 1.0, clock: Clock = _now) -> None:
        self._runtime = runtime
        self._tick = tick_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._anchors: dict[str, datetime] = {}
        self._next: dict[str, datetime | None] = {}
        self.fired: list[tuple[str, datetime]] = []
        self._events = boto3.client("events")

    def rules(self) -> list[dict[str, Any]]:
        events = self._events
        rules = []
        for page in events.get_paginator("list_rules").paginate():
            rules += [dict(r) for r in page["Rules"] if r.get("ScheduleExpression")]
        return rules

    def fire(self, rule_name: str) -> int:
        """Deliver one firing of ``rule_name`` to its targets now; returns the target count."""
        events = self._events
        targets = events.list_targets_by_rule(Rule=rule_name)["Targets"]
        for target in targets:
            payload = json.loads(target["Input"]) if target.get("Input") else self._event(rule_name)
            arn = target["Arn"]
            if ":lambda:" in arn:
                self._runtime.invoke_async(arn, payload)
            elif ":states:" in arn:
                boto3.client("stepfunctions").start_execution(
                    stateMachineArn=arn, input=json.dumps(payload)
                )
            else:
                log.warning("schedule %s: target %s is not supported locally", rule_name, arn)
        self.fired.append((rule_name, self._clock()))
        return len(targets)

    def _event(self, rule_name: str) -> dict[str, Any]:
        return {
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [rule_name],
            "detail": {},
        }

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
            anchor = self._anchors.setdefault(name, now)
            if name not in self._next:
                self._next[name] = schedule.next_after(now, anchor)
            due = self._next[name]
            if due is not None and due <= now:
                log.info("firing schedule %s (%s)", name, rule["ScheduleExpression"])
                self.fire(name)
                self._next[name] = schedule.next_after(now, anchor)

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
