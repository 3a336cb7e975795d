"""Ports of monitoring: the prediction log files, drift reports, and the event bus."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from steward.domain.models import Page


class LogFiles(ABC):
    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``."""

    @abstractmethod
    def read(self, key: str) -> bytes: ...


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
