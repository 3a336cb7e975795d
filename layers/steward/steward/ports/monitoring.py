"""Ports of monitoring: the prediction log files, drift reports, the scratch space of
distributed runs, the event bus, and per-model schedules."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import IO, Any, Literal

from pydantic import BaseModel

from steward.domain.models import Page
from steward.domain.partitions import prefixes


class LogFiles(ABC):
    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``."""

    @abstractmethod
    def read(self, key: str) -> bytes: ...

    @abstractmethod
    def sizes(self, prefix: str) -> dict[str, int]:
        """Every object key under ``prefix`` with its size in bytes (one listing)."""

    @abstractmethod
    def tail(self, key: str, size: int) -> bytes:
        """The last ``size`` bytes of the object (a ranged read: Parquet footers)."""

    def window_keys(self, kind: str, model: str, start: datetime, end: datetime) -> list[str]:
        """The files of the hours a window touches (partition pruning), hour by hour."""
        return [key for folder in prefixes(kind, model, start, end) for key in self.keys(folder)]

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        """The file as a seekable binary file, closed on exit: a reader takes only the byte
        ranges it needs (Parquet: the footer, then the column chunks it wants). This default
        holds the whole file in memory; adapters that can do better override it."""
        with io.BytesIO(self.read(key)) as file:
            yield file


class ReportStore(ABC):
    @abstractmethod
    def save(self, model: str, report: dict[str, Any], html: str) -> None:
        """Keep the report (JSON and HTML) and a summary row for listing."""

    @abstractmethod
    def get(self, model: str, report_id: str, kind: str = "json") -> str:
        """The stored report; :class:`NotFound` if absent."""

    @abstractmethod
    def summaries(self, model: str, limit: int, token: str | None) -> Page[dict[str, Any]]:
        """Newest first."""

    @abstractmethod
    def note_run(self, model: str, run: dict[str, Any]) -> None:
        """Keep how the model's latest drift run ended (``outcome``: evaluated, skipped or
        failed; ``at``; the rest as :mod:`steward.drift.portfolio` says), replacing the one
        before: one small record per model, whatever the number of runs."""

    @abstractmethod
    def latest_runs(self, models: list[str]) -> dict[str, dict[str, Any]]:
        """The latest run of each of ``models`` that has one (a batch read per 100)."""


class RunStore(ABC):
    """Scratch objects of a distributed drift run: its plan and its children's partials."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object; :class:`NotFound` if absent."""


RunState = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
STOPPED: frozenset[str] = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})  # with no report
RUN_FAILED = "DriftRunFailed"  # the state machine's RunFailed error (its cause is ours too)


class RunStatus(BaseModel):
    """Where a distributed drift run stands: the window's latest execution. ``error`` and
    ``cause`` are only ever the state machine's own (``RunFailed``), never a step's text."""

    report_id: str
    model: str
    status: RunState
    started_at: datetime
    stopped_at: datetime | None = None
    execution: str
    error: str | None = None
    cause: str | None = None


class DriftRuns(ABC):
    """Starts a distributed evaluation (plan, map over batches, reduce) of one window."""

    @abstractmethod
    def start(self, model: str, start: str, end: str, run_id: str) -> str:
        """Start the run, or join it while it runs (same ``run_id``); where it runs (an ARN)."""

    @abstractmethod
    def status(self, model: str, run_id: str) -> RunStatus:
        """The latest run of the window ``run_id``; :class:`NotFound` if it never ran."""

    @abstractmethod
    def start_scheduled(self, model: str, scheduled_at: datetime) -> str:
        """Start the run of one firing of the model's schedule (the policy's window up to
        ``scheduled_at``), once per firing however often it is asked: a firing delivered
        twice starts one run. :class:`DependencyUnavailable` when throttled (retry later)."""


class Schedules(ABC):
    """One schedule per model that fires its drift evaluation."""

    @abstractmethod
    def put(self, model: str, expression: str) -> None:
        """Create or update the model's schedule."""

    @abstractmethod
    def get(self, model: str) -> str | None:
        """The model's schedule expression, ``None`` if it has none."""

    @abstractmethod
    def delete(self, model: str) -> None:
        """Remove the model's schedule (absent is fine)."""


class EventBus(ABC):
    @abstractmethod
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    return {
        k: report[k]
        for k in (
            "report_id",
            "model",
            "version",
            "window",
            "rows",
            "drift_detected",
            "drift_share",
            "drifted_features",
            "created_at",
        )
    }


def listing_of(report: dict[str, Any]) -> dict[str, Any]:
    """The report's listing row: its summary, each feature's verdict statistic, the
    performance metrics and CBPE's estimates, so that the HTML report can chart drift and
    estimated against realized performance over past reports."""
    features = {
        name: {"statistic": round(f["statistic"], 6), "drift": f["drift"]}
        for name, f in report.get("features", {}).items()
    }
    performance = report.get("performance") or {}
    estimated = {
        m: band["value"]
        for m, band in (performance.get("estimated") or {}).items()
        if isinstance(band, dict) and isinstance(band.get("value"), int | float)
    }
    return {
        **summary_of(report),
        "features": features,
        "performance": performance.get("metrics", {}),
        "estimated": estimated,  # CBPE's point estimates: the report charts them over time
    }
