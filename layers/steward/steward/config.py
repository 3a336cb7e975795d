"""Runtime settings, read once from the environment and validated like any other input."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steward.domain.limits import MAX_BATCH_BYTES, MAX_BATCH_ROWS
from steward.domain.role_mapping import RoleMapping
from steward.runtimes.skops_trust import parse_extra

PREFIX = "STEWARD_"
T = TypeVar("T")


class Settings(BaseModel):
    """Every ``STEWARD_*`` environment variable a handler may read.

    Resource names are optional so that a function only needs the ones its role uses;
    the adapter that needs a missing one fails at wiring time with a clear message.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = "dev"
    auth_mode: Literal["iam", "cognito", "local"] = "iam"
    users: dict[str, list[str]] | None = None  # the local platform's users only
    role_mapping: RoleMapping = Field(default_factory=RoleMapping)  # AWS: callers to roles
    registry_table: str | None = None
    audit_table: str | None = None
    # The write-once copy of the audit trail (S3 Object Lock, compliance mode): the archiver
    # writes it; the API and the hourly verification compare the table with it.
    audit_copy_bucket: str | None = None
    artifacts_bucket: str | None = None
    approval_state_machine_arn: str | None = None
    retrain_state_machine_arn: str | None = None
    topic_arn: str | None = None
    log_queue_url: str | None = None
    log_dlq_url: str | None = None  # the API's redrive takes dead letters back from here
    # Set on the zip scoring function only: the container-image function it forwards the
    # requests for flavors it does not ship to (runtimes.loader.IMAGE_FLAVORS).
    image_scoring_function: str | None = None
    logs_bucket: str | None = None
    reports_bucket: str | None = None
    drift_state_machine_arn: str | None = None
    drift_schedule_group: str | None = None
    drift_start_queue_arn: str | None = None  # the drift schedules' target
    drift_scheduler_role_arn: str | None = None
    drift_schedule_dlq_arn: str | None = None
    drift_batch_rows: int = Field(default=MAX_BATCH_ROWS, gt=0)  # per map child, at most
    drift_batch_bytes: int = Field(default=MAX_BATCH_BYTES, gt=0)
    event_bus: str = "default"
    max_artifact_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    # Evidence packs: the local platform signs manifests with this Ed25519 key (PEM, PKCS#8)
    evidence_key_file: str | None = None
    # ... and in AWS with this KMS key (ECC_NIST_EDWARDS25519, SIGN_VERIFY), when configured
    evidence_kms_key_arn: str | None = None
    # The local trainer backend's virtual environments, cached by their requirements' hash
    # (the local platform: under its data directory; else the system's temporary folder).
    trainer_cache: str | None = None
    # Types an admin trusts in skops artifacts beyond the shipped list (comma-separated).
    skops_trusted: list[str] = Field(default_factory=list)

    @field_validator("role_mapping", mode="before")
    @classmethod
    def _parse_mapping(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("users", mode="before")
    @classmethod
    def _parse_users(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else None
        return value

    @field_validator("skops_trusted", mode="before")
    @classmethod
    def _parse_skops_trusted(cls, value: object) -> list[str]:
        return parse_extra(value)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {k[len(PREFIX) :].lower(): v for k, v in env.items() if k.startswith(PREFIX)}
        return cls.model_validate(values)

    def need(self, field: str) -> str:
        """The value of a resource setting this code path cannot run without."""
        value = getattr(self, field)
        if not value:
            raise RuntimeError(f"environment variable {PREFIX}{field.upper()} is not set")
        return str(value)


class PerColdStart(Generic[T]):
    """Decorates a builder of no arguments: its value is built once and kept until
    :meth:`cache_clear` (a new cold start), like ``functools.lru_cache(maxsize=1)``.

    Unlike ``lru_cache``, a value whose build was under way when the cache was cleared is
    handed to its caller but not kept: it was made from what the old cold start saw (the
    environment, the event hooks the boto3 session had when its clients were created), and
    ``lru_cache`` would keep it after the clear, for every later caller. The local platform
    and the tests start cold while handlers run on other threads (Step Functions executions'
    workflow steps): a fault-injection test once got a client built before its faults."""

    def __init__(self, build: Callable[[], T]) -> None:
        functools.update_wrapper(self, build)
        self.__wrapped__ = build
        self._lock = threading.Lock()
        self._generation = 0
        self._kept: tuple[T] | None = None

    def __call__(self) -> T:
        generation = self._generation  # read before the value: a clear in between is seen
        kept = self._kept
        if kept is not None:
            return kept[0]
        value = self.__wrapped__()
        with self._lock:
            if self._generation != generation:
                return value  # cleared while it was built: the old cold start's
            if self._kept is None:
                self._kept = (value,)
            return self._kept[0]  # concurrent builders share the first one kept

    def cache_clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._kept = None


@PerColdStart
def settings() -> Settings:
    return Settings.from_env()
