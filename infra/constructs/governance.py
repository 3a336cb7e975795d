"""Governance: the scheduled integrity check of every model's audit chain."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.constructs.storage import dead_letter_queue
from infra.constructs.tasks import TaskFunctions

AUDIT_VERIFY_SCHEDULE = "rate(1 hour)"


class Governance(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: TaskFunctions) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(self, "ScheduleDlq", of="the schedule targets")
        self.verify_audit = events.Rule(
            self,
            "VerifyAudit",
            description="Hourly: verify audit chains, heartbeat open approvals, due retrains",
            schedule=events.Schedule.expression(AUDIT_VERIFY_SCHEDULE),
            # Open approvals wait for days; Step Functions must hear from them within their
            # heartbeat (at most 6 hours), so every open one gets one each hour.
            targets=[
                targets.LambdaFunction(
                    functions(task),
                    event=events.RuleTargetInput.from_object({"task": task}),
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=2,
                    max_event_age=cdk.Duration.hours(1),
                )
                for task in ("verify_audit", "send_heartbeats", "scheduled_retrains")
            ],
        )
