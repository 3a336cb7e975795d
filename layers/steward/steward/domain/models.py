"""The registry's records: models, versions, signatures, policies, lineage, approvals.

These are the shapes the REST contract speaks; requests are validated against them at the
boundary and stored as they are.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steward.domain.schedule import parse_schedule
from steward.domain.value import BusinessValue

MODEL_NAME = r"^[a-z][a-z0-9-]{2,62}$"
ALIAS_NAME = r"^[a-z][a-z0-9-]{0,62}$"
PRODUCTION = "production"

ModelName = Annotated[str, Field(pattern=MODEL_NAME)]
# Request bodies take JSON numbers and booleans as such: lax coercion would accept 0/1 or
# "true" for a boolean and "3" for a version, which the published schema forbids.
VersionNumber = Annotated[int, Field(ge=1, strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Number = Annotated[float, Field(strict=True)]  # a JSON number: ints accepted, bools not


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    DECISION = "decision"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Flavor(StrEnum):
    ONNX = "onnx"
    SKLEARN = "sklearn"
    LINEAR = "linear"
    LOGISTIC = "logistic"
    SCORECARD = "scorecard"
    RULES = "rules"


class Status(StrEnum):
    REGISTERED = "REGISTERED"
    VALIDATING = "VALIDATING"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ARCHIVED = "ARCHIVED"


class MonitoringPolicy(Strict):
    schedule: str = "rate(1 day)"
    window_hours: int = Field(default=24, ge=1, le=24 * 90, strict=True)
    # feedback for a window's predictions is read up to this long after the window's end
    label_lag_hours: int = Field(default=48, ge=0, le=24 * 90, strict=True)
    protected_attributes: list[str] = Field(default_factory=list)
    # drift tests, performance and fairness bounds (steward.stats.performance, drift.fairness)
    thresholds: dict[str, Number] = Field(default_factory=dict)
    feature_thresholds: dict[str, dict[str, Number]] = Field(default_factory=dict)
    drift_share: float = Field(default=0.3, gt=0, le=1, strict=True)
    # A feature drifts when its effect size passes its threshold and its Holm-corrected
    # p-value is under alpha; under min_rows values in the window its verdict is
    # insufficient_data (steward.drift.verdicts).
    alpha: float = Field(default=0.05, gt=0, lt=1, strict=True)
    min_rows: int = Field(default=100, ge=1, strict=True)
    # Attribution drift (steward.drift.attributions): about this many of the window's rows
    # are explained (0: none) and their mean |attribution| per feature compared with the
    # version's profile by NDCG, as SageMaker Clarify does; below the threshold is drift.
    attribution_sample_rows: int = Field(default=500, ge=0, le=100_000, strict=True)
    attribution_ndcg_threshold: float = Field(default=0.9, gt=0, le=1, strict=True)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value


class DeploymentPolicy(Strict):
    # On approval, the workflow deploys: promotes a first version, canaries later ones.
    auto_deploy: Flag = True
    canary_percent: int = Field(default=10, ge=0, le=100, strict=True)
    bake_seconds: int = Field(default=600, ge=0, le=7 * 86400, strict=True)
    auto_approve_low_risk: Flag = False
    max_error_rate: float = Field(default=0.01, ge=0, le=1, strict=True)
    max_latency_ms: float = Field(default=500, gt=0, strict=True)
    # Largest Jensen-Shannon distance between the challenger's and the champion's live
    # predictions: a guard against a broken challenger. A model retrained for drift is
    # meant to answer differently, so keep it loose (the demo's retrain moves ~0.7).
    max_prediction_shift: float = Field(default=0.5, gt=0, le=1, strict=True)
    min_canary_rows: int = Field(default=0, ge=0, strict=True)
    # Metric name -> largest allowed loss against the champion on the holdout
    # ("auc": 0.02), or an absolute bound ("min_auc": 0.8, "max_rmse": 3.5).
    gates: dict[str, Number] = Field(default_factory=dict)
    approval_timeout_s: int = Field(default=7 * 86400, ge=2, le=300 * 86400, strict=True)


# A trainer channel's name: a SageMaker channel name that is also a clean environment
# variable suffix (SM_CHANNEL_<NAME>) and folder name.
ChannelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ChannelUri = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\s]{0,900}$")]
RESERVED_CHANNELS = ("train", "validation")
MAX_EXTRA_CHANNELS = 8


class RetrainPolicy(Strict):
    on_drift: Flag = False
    schedule: str | None = None
    cooldown_hours: int = Field(default=24, ge=0, strict=True)
    min_labels: int = Field(default=1000, ge=0, strict=True)
    window_hours: int = Field(default=7 * 24, ge=1, le=24 * 90, strict=True)
    trainer: Literal["builtin", "custom"] = "builtin"  # custom: the model's own trainer
    channels: dict[ChannelName, ChannelUri] = Field(
        default_factory=dict,
        max_length=MAX_EXTRA_CHANNELS,
        description="Extra trainer channels by URI, copied under input/data/<name> "
        "(SM_CHANNEL_<NAME>); train and validation are Steward's",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_schedule(value)
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, str]) -> dict[str, str]:
        taken = sorted(set(value) & set(RESERVED_CHANNELS))
        if taken:
            raise ValueError(f"channel {taken[0]!r} is Steward's own (the window's rows)")
        return value


EXPLAIN_BUDGET = 100_000  # sampling_shap: model evaluations per explained record
MAX_EXPLAIN_BUDGET = 2_000_000


class ExplainPolicy(Strict):
    """How far ``sampling_shap`` (models no exact method reads) may go for one record."""

    budget: int = Field(
        default=EXPLAIN_BUDGET,
        ge=1,
        le=MAX_EXPLAIN_BUDGET,
        strict=True,
        description="Model evaluations allowed per explained record",
    )
    error: Number | None = Field(
        default=None,
        gt=0,
        description="The standard error every attribution must reach, in output_space units; "
        "null: 1% of the standard deviation of the model's output over the background",
    )


TrainerBackend = Literal["local", "lambda", "codebuild", "sagemaker"]
# The longest run each AWS backend allows: Lambda's 15 minutes, a CodeBuild build's 36 hours
# (SageMaker's 28 days is above the settings' own 5-day limit).
BACKEND_TIMEOUT_S = {"lambda": 900, "codebuild": 36 * 3600}
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class TrainerSettings(Strict):
    """How the team's own training code runs (the source zip is sent apart)."""

    entry_point: list[Annotated[str, Field(min_length=1, max_length=400)]] = Field(
        default_factory=lambda: ["python", "train.py"], min_length=1, max_length=20
    )
    requirements: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    backend: TrainerBackend = "local"
    hyperparameters: dict[str, Any] = Field(default_factory=dict, max_length=100)
    timeout_s: int = Field(default=3600, ge=1, le=5 * 24 * 3600, strict=True)
    image: str | None = Field(default=None, max_length=400)
    instance_type: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _fits_backend(self) -> TrainerSettings:
        limit = BACKEND_TIMEOUT_S.get(self.backend)
        if limit is not None and self.timeout_s > limit:
            raise ValueError(f"timeout_s: the {self.backend} backend runs at most {limit} s")
        if self.backend == "sagemaker" and not self.image:
            raise ValueError("image: the sagemaker backend runs the team's training image")
        return self


class Trainer(TrainerSettings):
    """A model's trainer: the settings and the stored source (pinned like an artifact)."""

    model_config = ConfigDict(extra="ignore")

    sha256: Sha256
    uri: str
    s3_version_id: str | None = None
    size: int
    updated_by: str
    updated_at: datetime


class RetrainState(Strict):
    """The model's retrain lease: one retrain at a time, and the cooldown's start."""

    run: str
    trigger: str
    started_at: datetime
    running: bool = True
    ended_at: datetime | None = None
    outcome: str | None = None


class ModelSpec(Strict):
    """What a caller sends to create a model."""

    name: ModelName
    description: str = Field(default="", max_length=4000)
    owner: str = Field(
        default="", max_length=200, description="Who answers for the model; the caller if empty"
    )
    use_case: str = Field(default="", max_length=400)
    task: Task
    risk_tier: RiskTier = RiskTier.MEDIUM
    tags: dict[str, str] = Field(default_factory=dict, max_length=40)
    monitoring: MonitoringPolicy = Field(default_factory=MonitoringPolicy)
    deployment: DeploymentPolicy = Field(default_factory=DeploymentPolicy)
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy)
    value: BusinessValue | None = Field(
        default=None,
        description="What each outcome of a binary classification is worth: drift reports "
        "with labels carry performance.value",
    )
    adverse_direction: Literal["down", "up"] = Field(
        default="down",
        description="Which way of the output is worse for the subject, for reason codes: "
        "down (a lower output is worse, as with an approval score) or up (a risk)",
    )
    explain: ExplainPolicy = Field(default_factory=ExplainPolicy)

    @model_validator(mode="after")
    def _value_needs_a_classifier(self) -> ModelSpec:
        if self.value is not None and self.task is not Task.CLASSIFICATION:
            raise ValueError("a value matrix needs a classification model")
        return self


class TrafficPolicy(Strict):
    champion: VersionNumber | None = None
    challenger: VersionNumber | None = None
    challenger_percent: int = Field(default=0, ge=0, le=100, strict=True)
    mode: Literal["canary", "shadow"] = "canary"

    @model_validator(mode="after")
    def _coherent(self) -> TrafficPolicy:
        if self.challenger is not None and self.champion is None:
            raise ValueError("a challenger needs a champion")
        if self.challenger is not None and self.challenger == self.champion:
            raise ValueError("the challenger must differ from the champion")
        if self.challenger is None and self.challenger_percent:
            raise ValueError("challenger_percent needs a challenger")
        return self


class Model(ModelSpec):
    model_config = ConfigDict(extra="ignore")

    created_by: str
    created_at: datetime
    updated_at: datetime
    latest_version: int = 0
    aliases: dict[str, int] = Field(default_factory=dict)
    production_history: list[int] = Field(default_factory=list)
    traffic: TrafficPolicy = Field(default_factory=TrafficPolicy)
    latest_drift: dict[str, Any] | None = None
    retraining: RetrainState | None = None
    trainer: Trainer | None = None
    rev: int = 0


FeatureType = Literal["double", "float", "integer", "boolean", "string"]


class FeatureSpec(Strict):
    name: str = Field(min_length=1, max_length=128)
    type: FeatureType = "double"
    min: Number | None = None
    max: Number | None = None
    categories: list[str] | None = None
    nullable: Flag = False

    @property
    def numeric(self) -> bool:
        return self.type in ("double", "float", "integer", "boolean")


class OutputSpec(Strict):
    name: str = Field(min_length=1, max_length=128)
    type: FeatureType = "double"


class Signature(Strict):
    inputs: list[FeatureSpec] = Field(min_length=1, max_length=2000)
    outputs: list[OutputSpec] = Field(default_factory=list)

    @field_validator("inputs")
    @classmethod
    def _unique(cls, inputs: list[FeatureSpec]) -> list[FeatureSpec]:
        names = [f.name for f in inputs]
        if len(set(names)) != len(names):
            raise ValueError("input names must be unique")
        return inputs

    def feature(self, name: str) -> FeatureSpec | None:
        return next((f for f in self.inputs if f.name == name), None)


class TrainingDataRef(Strict):
    uri: str = Field(default="", max_length=2048)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    rows: int | None = Field(default=None, ge=0, strict=True)


class Lineage(Strict):
    parent_version: int | None = None
    code_ref: str | None = None
    trainer_run: str | None = None
    trainer_sha256: str | None = None  # the model's own trainer's source, when it trained
    trigger: str = "manual"  # manual | drift:<report id> | schedule
    training_data: TrainingDataRef | None = None
    data_window: dict[str, str] | None = None


class Artifact(Strict):
    uri: str
    sha256: str
    size: int
    s3_version_id: str | None = None


class Approval(Strict):
    actor: str
    decision: Literal["approve", "reject"]
    comment: str
    at: datetime


class Validation(Strict):
    ok: bool
    checks: dict[str, str] = Field(default_factory=dict)
    at: datetime | None = None
    # The approval gates' evidence: metrics on the holdout against the champion's.
    gates: dict[str, Any] | None = None
    # the version's metrics on its labelled holdout sample, measured here (drift baseline)
    holdout_metrics: dict[str, float] = Field(default_factory=dict)
    # A binary classifier's score calibration on the holdout, what CBPE estimates from
    # (steward.stats.cbpe.calibration_record: steps, the check that chose them)
    calibration: dict[str, Any] | None = None


class ModelVersion(Strict):
    model_config = ConfigDict(extra="ignore")

    name: ModelName
    version: VersionNumber
    status: Status
    flavor: Flavor
    task: Task
    sha256: str
    artifact: Artifact
    signature: Signature
    metrics: dict[str, Number] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    profile: dict[str, Any] | None = None
    # mean |attribution| per feature on the reference sample (steward.explain.profile)
    attribution_profile: dict[str, Any] | None = None
    validation: Validation | None = None
    approvals: list[Approval] = Field(default_factory=list)
    created_by: str
    created_at: datetime
    updated_at: datetime
    execution_arn: str | None = None
    description: str = ""


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = None


def page_offset(token: str | None) -> int:
    """The offset an offset-based ``next_token`` stands for (0 without one); a token the
    caller made up is their fault, not a server error."""
    if not token:
        return 0
    if not token.isdigit() or len(token) > 12:
        from steward.domain.errors import BadRequest

        raise BadRequest("next_token is not valid")
    return int(token)
