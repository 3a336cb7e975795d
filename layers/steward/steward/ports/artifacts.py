"""ArtifactStore: immutable model artifacts, pinned by version id and sha256."""

from __future__ import annotations

from abc import ABC, abstractmethod


class ArtifactStore(ABC):
    @abstractmethod
    def put(self, key: str, data: bytes) -> tuple[str, str | None]:
        """Store ``data`` under ``key``; returns ``(uri, version_id)``."""

    @abstractmethod
    def get(self, uri: str, version_id: str | None = None) -> bytes:
        """Read an object (a stored artifact or a caller's ``s3://`` URI);
        :class:`NotFound` if absent."""
