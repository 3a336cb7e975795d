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

    @abstractmethod
    def discard(self, uri: str) -> None:
        """Withdraw an object that a failed registration staged and no record references.

        On a versioned bucket this leaves a delete marker: Object Lock keeps the locked
        object versions until their retention lapses, but the key no longer serves them."""

    @abstractmethod
    def uris_under(self, prefix_uri: str, limit: int) -> list[str]:
        """The ``s3://`` URIs of the objects under ``prefix_uri`` (a retrain's extra channel),
        in key order; :class:`ValidationFailed` past ``limit`` objects."""
