"""Scoring: predict and feedback (served by the lean scoring function)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from steward.api.context import caller
from steward.domain.errors import StewardError
from steward.domain.models import MAX_EXPLAIN_BUDGET
from steward.runtimes.loader import IMAGE_FLAVORS
from steward.scoring.explanations import MAX_REASONS, ExplainResponse
from steward.scoring.inputs import MAX_ROWS, PredictRequest, parse_request
from steward.scoring.service import PredictResponse
from steward.wiring import image_forwarder, scorer

router = Router()
metrics = Metrics(namespace="Steward", service="scoring")


class LabelRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    label: Any


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[LabelRecord] = Field(min_length=1, max_length=MAX_ROWS)


class FeedbackAccepted(BaseModel):
    accepted: int


@router.post(
    "/models/<name>/predict",
    summary="Score records",
    responses={
        200: {
            "description": "Predictions, one per record, with their request ids",
            "content": {"application/json": {"model": PredictResponse}},
        }
    },
)
def predict(
    name: str,
    version: Annotated[int | None, Query(ge=1)] = None,
    alias: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,62}$")] = None,
    explain: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_REASONS,
            description="Add `reasons` to each answer: the K features that pushed the output "
            "furthest towards the model's adverse_direction, [{feature, contribution}]",
        ),
    ] = None,
) -> Response[str]:
    # The body (PredictRequest, documented in openapi.json) is parsed here rather than by
    # the resolver: one pass in pydantic-core instead of json.loads plus validation.
    started = time.perf_counter()
    try:
        forwarded = _forward_to_image(name, version, alias)
        if forwarded is not None:
            return forwarded
        request = parse_request(router.current_event.decoded_body)
        response = scorer().predict(name, request, version=version, alias=alias, explain=explain)
    except StewardError:
        metrics.add_dimension(name="model", value=name)
        metrics.add_metric(name="RejectedRequests", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_dimension(name="model", value=name)
    metrics.add_dimension(name="version", value=str(response.version))
    metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=len(response.predictions))
    metrics.add_metric(name="FlaggedInputs", unit=MetricUnit.Count, value=response.flagged)
    metrics.add_metric(
        name="Latency",
        unit=MetricUnit.Milliseconds,
        value=(time.perf_counter() - started) * 1000,
    )
    # Serialized once, in pydantic-core: the hot path builds no second copy of the answer.
    return Response(200, "application/json", response.model_dump_json())


@router.post(
    "/models/<name>/explain",
    summary="Feature attributions for records (base_value + sum = output per record)",
    responses={
        200: {
            "description": "The method, the output space and per-record attributions",
            "content": {"application/json": {"model": ExplainResponse}},
        }
    },
)
def explain(
    name: str,
    body: PredictRequest,
    version: Annotated[int | None, Query(ge=1)] = None,
    alias: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,62}$")] = None,
    budget: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_EXPLAIN_BUDGET,
            description="sampling_shap: model evaluations allowed per record (default: the "
            "model's explain.budget)",
        ),
    ] = None,
    error: Annotated[
        float | None,
        Query(
            gt=0,
            description="sampling_shap: the standard error every attribution must reach, in "
            "output_space units (default: the model's explain.error)",
        ),
    ] = None,
) -> Response[str]:
    forwarded = _forward_to_image(name, version, alias)
    if forwarded is not None:
        return forwarded
    response = scorer().explain(
        name, body, version=version, alias=alias, budget=budget, error=error
    )
    metrics.add_dimension(name="model", value=name)
    metrics.add_metric(name="Explanations", unit=MetricUnit.Count, value=len(response.explanations))
    return Response(200, "application/json", response.model_dump_json())


def _forward_to_image(name: str, version: int | None, alias: str | None) -> Response[str] | None:
    """In AWS the zip scoring function ships no scikit-learn: a request that may need such a
    flavor goes, as is, to the scoring image function (same handler, every flavor), whose
    answer is returned unchanged. Forwarded events are marked and never forwarded again."""
    forwarder = image_forwarder()
    event = router.current_event.raw_event
    if forwarder is None or event.get(forwarder.MARK):
        return None
    if scorer().flavors(name, version=version, alias=alias).isdisjoint(IMAGE_FLAVORS):
        return None
    answer = forwarder.invoke(event)
    metrics.add_dimension(name="model", value=name)
    metrics.add_metric(name="ForwardedRequests", unit=MetricUnit.Count, value=1)
    headers = answer.get("headers") or {}
    return Response(
        answer["statusCode"],
        headers.get("Content-Type", "application/json"),
        answer.get("body", ""),
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


@router.post(
    "/models/<name>/feedback",
    summary="Ground-truth labels, joined by request id (an application or data scientist)",
)
def feedback(name: str, body: Feedback) -> FeedbackAccepted:
    labels = [(r.request_id, r.label) for r in body.records]
    accepted = scorer().feedback(name, labels, caller(router))
    return FeedbackAccepted(accepted=accepted)
