"""Request bodies of the registry API (validated at the boundary)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from steward.domain.models import (
    DeploymentPolicy,
    ExplainPolicy,
    Flavor,
    MonitoringPolicy,
    Number,
    RetrainPolicy,
    RiskTier,
    Signature,
    TrainingDataRef,
)
from steward.domain.value import BusinessValue

MAX_ROWS = 100_000


class DataframeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(min_length=1)
    data: list[list[Any]]


class TabularData(BaseModel):
    """Rows inline (``instances`` or ``dataframe_split``) or an ``s3://`` Parquet/CSV URI."""

    model_config = ConfigDict(extra="forbid")

    instances: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_ROWS)
    dataframe_split: DataframeSplit | None = None
    uri: str | None = Field(default=None, pattern=r"^s3://[^/]+/.+")
    labels: list[Any] | None = Field(default=None, max_length=MAX_ROWS)

    @model_validator(mode="after")
    def _one_source(self) -> TabularData:
        given = [x for x in (self.instances, self.dataframe_split, self.uri) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of instances, dataframe_split or uri")
        return self


class RegisterVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flavor: Flavor
    artifact_b64: str | None = None
    artifact_uri: str | None = Field(default=None, pattern=r"^s3://[^/]+/.+")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    signature: Signature | None = None
    metrics: dict[str, Number] = Field(default_factory=dict)
    training_data: TrainingDataRef | None = None
    reference_data: TabularData | None = None
    holdout_data: TabularData | None = None
    parent_version: int | None = Field(default=None, ge=1, strict=True)
    code_ref: str | None = Field(default=None, max_length=400)
    trainer_run: str | None = Field(default=None, max_length=400)
    trainer_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    trigger: str = Field(default="manual", max_length=200)
    data_window: dict[str, str] | None = None
    description: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _one_artifact(self) -> RegisterVersion:
        if (self.artifact_b64 is None) == (self.artifact_uri is None):
            raise ValueError("give exactly one of artifact_b64 or artifact_uri")
        return self


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    comment: str = Field(min_length=1, max_length=4000)


class Archive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=4000)


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, strict=True)


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="rollback", max_length=4000)


class ModelUpdate(BaseModel):
    """``PATCH /models/{name}``: replace any of the model's policies (each one whole) or its
    risk tier. Loosening what lets a version reach production without a person takes an
    approver (:mod:`steward.domain.separation`)."""

    model_config = ConfigDict(extra="forbid")

    risk_tier: RiskTier | None = None
    monitoring: MonitoringPolicy | None = None
    deployment: DeploymentPolicy | None = None
    retrain: RetrainPolicy | None = None
    value: BusinessValue | None = None
    explain: ExplainPolicy | None = None
    reason: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _names_a_policy(self) -> ModelUpdate:
        fields = (
            self.risk_tier,
            self.monitoring,
            self.deployment,
            self.retrain,
            self.value,
            self.explain,
        )
        if all(f is None for f in fields):
            raise ValueError(
                "give at least one of risk_tier, monitoring, deployment, retrain, value or explain"
            )
        return self


class Review(BaseModel):
    """A periodic model review: an approver's audited action (the KPIs' reviews overdue)."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=4000)
