"""The one place where errors become HTTP responses.

Domain errors carry a stable ``code``; their ``message`` is written for the caller.
Anything else is logged with its traceback and answered with a generic message:
exception text never reaches a response.
"""

from __future__ import annotations

import json
import logging

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import BotoCoreError, ClientError

from steward.domain import errors as e

logger = logging.getLogger(__name__)

STATUS: dict[type[e.StewardError], int] = {
    e.BadRequest: 400,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.AlreadyExists: 409,
    e.Conflict: 409,
    e.PayloadTooLarge: 413,
    e.ValidationFailed: 422,
    e.IntegrityError: 500,
    e.DependencyUnavailable: 503,
    e.RuntimeUnavailable: 501,  # a flavor this function does not ship (see README)
}

RETRYABLE_AWS_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "TooManyRequestsException",
    }
)


def error_response(status: int, code: str, message: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": code, "message": message}),
    )


def status_for(exc: e.StewardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(e.StewardError)
    def _domain(exc: e.StewardError) -> Response[str]:
        status = status_for(exc)
        if status >= 500:
            logger.error("domain error", extra={"code": exc.code}, exc_info=exc)
        return error_response(status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        return error_response(422, "validation_failed", e.describe_errors(exc.errors()))

    @app.exception_handler(NotFoundError)
    def _no_route(_: NotFoundError) -> Response[str]:
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(ClientError)
    def _aws(exc: ClientError) -> Response[str]:
        code = exc.response.get("Error", {}).get("Code", "")
        logger.exception("AWS call failed", extra={"aws_code": code})
        if code in RETRYABLE_AWS_CODES:
            return error_response(503, "service_unavailable", "a dependency is busy; retry")
        return error_response(500, "internal_error", "internal error")

    @app.exception_handler(BotoCoreError)
    def _aws_transport(_: BotoCoreError) -> Response[str]:
        logger.exception("AWS transport failed")
        return error_response(503, "service_unavailable", "a dependency is unavailable; retry")

    @app.exception_handler(Exception)
    def _unexpected(_: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")
