"""EventBridge adapters: the event bus and the drift schedules (EventBridge Scheduler)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code
from steward.domain.schedule import spread_start
from steward.ports.monitoring import (
    EventBus,
    Schedules,
)

# EventBridge Scheduler writes the firing's own time into a templated target's input.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class EventBridgeSchedules(Schedules):
    """:class:`~steward.ports.monitoring.Schedules` on EventBridge Scheduler: one schedule per
    model in one group, sending ``{"model": name, "scheduled_at": <the firing's time>}`` to
    the drift start queue (:mod:`steward.drift.starts`), flexible window off, bounded retries
    and a dead-letter queue. A ``rate(...)`` schedule starts on
    the model's own phase (:func:`~steward.domain.schedule.spread_start`)."""

    def __init__(
        self,
        client: Any,
        group: str,
        target_arn: str,
        role_arn: str,
        dead_letter_arn: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._scheduler = client
        self._group = group
        self._clock = clock
        self._target = {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "DeadLetterConfig": {"Arn": dead_letter_arn},
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2},
        }

    def put(self, model: str, expression: str) -> None:
        spec: dict[str, Any] = {
            "Name": model,
            "GroupName": self._group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Description": f"Drift evaluation of {model}",
            "State": "ENABLED",
            "Target": {
                **self._target,
                "Input": json.dumps({"model": model, "scheduled_at": SCHEDULED_TIME}),
            },
        }
        start = spread_start(expression, model, self._clock())
        if start is not None:
            spec["StartDate"] = start
        if self.get(model) is None:
            try:
                self._scheduler.create_schedule(**spec)
                return
            except ClientError as exc:
                if error_code(exc) != "ConflictException":
                    raise
        self._scheduler.update_schedule(**spec)

    def get(self, model: str) -> str | None:
        try:
            found = self._scheduler.get_schedule(Name=model, GroupName=self._group)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        expression: str = found["ScheduleExpression"]
        return expression

    def delete(self, model: str) -> None:
        try:
            self._scheduler.delete_schedule(Name=model, GroupName=self._group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise


class EventBridgeBus(EventBus):
    SOURCE = "steward"

    def __init__(self, client: Any, bus: str) -> None:
        self._events = client
        self._bus = bus

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        result = self._events.put_events(
            Entries=[
                {
                    "Source": self.SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self._bus,
                }
            ]
        )
        if result.get("FailedEntryCount"):
            from steward.domain.errors import DependencyUnavailable

            raise DependencyUnavailable("the event bus refused the event; retry")
