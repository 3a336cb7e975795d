"""Lambda entry point for scoring: predict and feedback. No pandas or scipy on this path."""

from __future__ import annotations

import gc
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.api.app import build_app
from steward.api.routes.scoring import metrics

logger = Logger(service="steward-scoring")
app = build_app(("scoring",))
# What the cold start imported lives as long as the function: out of the collector's sight, a
# request's garbage collections scan only the request's objects (a 1,000-row multiclass answer
# allocates 1,000 dicts; each full collection otherwise walks every imported module's objects).
gc.freeze()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
