"""WorkflowEngine: start the approval workflow and resume its human task."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class WorkflowEngine(ABC):
    @abstractmethod
    def approval_id(self, name: str, version: int) -> str:
        """The execution id the approval of this version has (or will have) — known before
        it starts, so the version record can hold it from the first write."""

    @abstractmethod
    def start_approval(self, name: str, version: int) -> str:
        """Start the approval workflow for a version; returns the execution id.
        Idempotent per (name, version)."""

    @abstractmethod
    def resume(self, token: str, output: dict[str, Any]) -> None:
        """Complete a waiting task (the human decision)."""

    @abstractmethod
    def heartbeat(self, token: str) -> bool:
        """Tell a waiting task it is still wanted; ``False`` if it no longer waits."""

    @abstractmethod
    def executions(self, name: str, limit: int) -> list[dict[str, Any]]:
        """The model's approval and retrain executions, newest first:
        ``{"kind", "name", "status", "started", "stopped"}``."""

    @abstractmethod
    def start_retrain(self, name: str, run: str, payload: dict[str, Any]) -> str:
        """Start the retrain workflow as execution ``run``; returns its id. Starting the
        same run again starts nothing (duplicate events): the same id comes back."""
