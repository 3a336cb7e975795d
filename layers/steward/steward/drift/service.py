"""Drift evaluation for a model and a window: find the log files, stream them, report,
keep the report, tell the model, and raise ``DriftDetected`` when the policy says so."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from steward.domain.errors import Conflict, ValidationFailed
from steward.domain.models import Page
from steward.domain.profile import Profile
from steward.drift.evaluate import DriftReport, partial_of, report
from steward.drift.html import render
from steward.ports import ModelStore
from steward.ports.monitoring import EventBus, LogFiles, ReportStore, summary_of

MAX_WINDOW = timedelta(days=31)


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += timedelta(hours=1)


class DriftService:
    def __init__(
        self,
        store: ModelStore,
        logs: LogFiles,
        reports: ReportStore,
        events: EventBus,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.logs = logs
        self.reports = reports
        self.events = events
        self.clock = clock

    def files(self, name: str, start: datetime, end: datetime) -> list[str]:
        """Partition pruning: only the date=/hour= folders the window touches."""
        keys: list[str] = []
        for hour in _hours(start, end):
            prefix = f"predictions/model={name}/date={hour:%Y-%m-%d}/hour={hour:%H}/"
            keys += self.logs.keys(prefix)
        return keys

    def evaluate(
        self, name: str, start: datetime | None = None, end: datetime | None = None
    ) -> DriftReport:
        model = self.store.get_model(name)
        end = (end or self.clock()).astimezone(UTC)
        start = (start or end - timedelta(hours=model.monitoring.window_hours)).astimezone(UTC)
        if not start < end or end - start > MAX_WINDOW:
            raise ValidationFailed("the window must have start < end and span at most 31 days")
        number = model.traffic.champion or model.aliases.get("production")
        if number is None:
            raise Conflict(f"{name} has no production version to compare with its reference")
        version = self.store.get_version(name, number)
        if not version.profile:
            raise Conflict(f"version {number} of {name} has no reference profile")
        reference = Profile.model_validate(version.profile)
        keys = self.files(name, start, end)
        started = time.perf_counter()
        partial = partial_of(
            ((k, self.logs.read(k)) for k in keys),
            reference,
            version.signature,
            (start, end),
            number,
        )
        window_id = f"{name}|{number}|{start.isoformat()}|{end.isoformat()}"
        result = report(
            partial,
            reference,
            version.signature,
            model.monitoring,
            report_id=hashlib.sha256(window_id.encode()).hexdigest()[:16],
            model=name,
            version=number,
            window=(start, end),
            created_at=self.clock().isoformat(),
        )
        result.data_quality["seconds"] = round(time.perf_counter() - started, 3)
        payload = result.model_dump(mode="json")
        self.reports.save(name, payload, render(result))
        self._remember(name, summary_of(payload))
        if result.drift_detected:
            self.events.publish(
                "DriftDetected",
                {
                    "model": name,
                    "version": number,
                    "report_id": result.report_id,
                    "severity": "high" if result.drift_share >= 0.5 else "medium",
                    "drifted_features": result.drifted_features,
                },
            )
        return result

    def _remember(self, name: str, summary: dict[str, Any]) -> None:
        for _ in range(5):
            model = self.store.get_model(name)
            try:
                self.store.save_model(model.model_copy(update={"latest_drift": summary}), model.rev)
                return
            except Conflict:
                continue

    def list(self, name: str, limit: int = 50, token: str | None = None) -> Page[dict[str, Any]]:
        self.store.get_model(name)
        return self.reports.summaries(name, limit, token)

    def get(self, name: str, report_id: str, kind: str = "json") -> str:
        return self.reports.get(name, report_id, kind)
