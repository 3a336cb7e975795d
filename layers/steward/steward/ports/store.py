"""ModelStore: models, versions and the pending task tokens."""

from __future__ import annotations

from abc import ABC, abstractmethod

from steward.domain.inventory import IndexBackfill, ModelFilter
from steward.domain.models import Model, ModelVersion, Page, Status


class ModelStore(ABC):
    @abstractmethod
    def create_model(self, model: Model) -> None:
        """Insert; :class:`AlreadyExists` if the name is taken."""

    @abstractmethod
    def get_model(self, name: str) -> Model:
        """:class:`NotFound` if absent."""

    @abstractmethod
    def list_models(
        self, limit: int, token: str | None, where: ModelFilter | None = None
    ) -> Page[Model]:
        """Models in name order that match ``where``; ``next_token`` resumes after the last
        name examined (see :mod:`steward.domain.inventory`). A page may hold fewer than
        ``limit`` models while ``next_token`` is set: read until it is absent."""

    @abstractmethod
    def backfill_index(self, limit: int, token: str | None) -> IndexBackfill:
        """Give up to ``limit`` models, in name order after ``token``, every inventory index
        entry their facets call for: a model created before the index existed has none, and
        a save writes only the entries of the facets it changes. Each model's entries are
        written conditionally on its revision (a model changed meanwhile is re-read).
        Idempotent: a model whose entries are all there is left alone. ``next_token``
        resumes; None once the last model was examined."""

    @abstractmethod
    def save_model(self, model: Model, expected_rev: int) -> Model:
        """Replace the model if its stored revision is still ``expected_rev`` (else
        :class:`Conflict`); returns it with the next revision."""

    @abstractmethod
    def add_version(self, version: ModelVersion) -> None:
        """Insert version N atomically with the model's latest version moving N-1 -> N.

        :class:`Conflict` when another registration took N first: no gap, no duplicate.
        """

    @abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersion: ...

    @abstractmethod
    def list_versions(self, name: str, limit: int, token: str | None) -> Page[ModelVersion]:
        """Newest first."""

    @abstractmethod
    def save_version(self, version: ModelVersion, expected_status: Status) -> None:
        """Replace a version whose stored status is still ``expected_status`` (else
        :class:`Conflict`): status transitions are compare-and-set."""

    @abstractmethod
    def versions_by_status(
        self, status: Status, limit: int, token: str | None
    ) -> Page[ModelVersion]: ...

    @abstractmethod
    def put_task_token(self, name: str, version: int, token: str) -> None:
        """Keep a workflow task token; it is never part of a version record or response."""

    @abstractmethod
    def task_token(self, name: str, version: int) -> str | None:
        """Read the token without taking it (for heartbeats)."""

    @abstractmethod
    def take_task_token(self, name: str, version: int) -> str | None:
        """Remove and return the token, at most once (concurrent callers: one wins)."""
