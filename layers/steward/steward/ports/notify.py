"""Notifier: tell people what the workflows did (approval needed, promoted, rolled back)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class Notifier(ABC):
    @abstractmethod
    def publish(self, subject: str, message: dict[str, Any]) -> None: ...
