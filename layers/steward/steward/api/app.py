"""The API resolver: routers composed, validation on, errors mapped once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from steward import __version__
from steward.api.errors import register_error_handlers
from steward.api.routes import health

TITLE = "Steward"
PARTS = ("registry", "scoring")


def _routers(part: str) -> list[Any]:
    if part == "registry":
        from steward.api.routes import (
            admin,
            aliases,
            audit,
            drift,
            evidence,
            kpis,
            logs,
            me,
            models,
            trainers,
            versions,
            workflows,
        )

        return [
            me.router,
            models.router,
            versions.router,
            aliases.router,
            audit.router,
            kpis.router,
            drift.router,
            evidence.router,
            workflows.router,
            trainers.router,
            logs.router,
            admin.router,
        ]
    from steward.api.routes import scoring

    return [scoring.router]


class JsonResolver(APIGatewayRestResolver):
    """A JSON-only API: a body declared as anything else is refused with 415 before any
    parsing (powertools would try to decode form data, and fail with a server error on a
    malformed multipart header)."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if _declares_non_json_body(event):
            body = json.dumps(
                {"error": "unsupported_media_type", "message": "send JSON: application/json"}
            )
            return {
                "statusCode": 415,
                "headers": {"Content-Type": "application/json"},
                "multiValueHeaders": {},
                "body": body,
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


def _declares_non_json_body(event: Mapping[str, Any]) -> bool:
    if not isinstance(event, Mapping) or not event.get("body"):
        return False
    headers = event.get("headers") or {}
    declared = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    media = declared.split(";", 1)[0].strip().lower()
    return bool(media) and media != "application/json" and not media.endswith("+json")


def build_app(parts: tuple[str, ...] = PARTS) -> APIGatewayRestResolver:
    """The resolver with the routes of ``parts``: the API function serves the registry, the
    scoring function serves scoring; the spec (``openapi.json``) covers both."""
    app = JsonResolver(enable_validation=True)
    register_error_handlers(app)
    app.include_router(health.router)
    for part in parts:
        for router in _routers(part):
            app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(200, "application/json", json.dumps(openapi_spec(app)))

    return app


# What each operation may answer besides its success, as ``{"error", "message"}``
# (``steward.api.errors``). API Gateway itself answers 403 (no or bad credentials) and 413
# (payload over 10 MB) on every route; 404 is also "no such route".
READ_ERRORS = (400, 403, 404, 422, 500, 503)
WRITE_ERRORS = (400, 403, 404, 409, 413, 415, 422, 500, 501, 503)
ERROR_DESCRIPTIONS = {
    400: "Bad request",
    403: "Forbidden: no identity, a missing role, or the registrant deciding",
    404: "No such model, version, report or route",
    409: "Conflict: the resource exists, changed meanwhile, or is in the wrong status",
    413: "Payload too large",
    415: "The body is not JSON",
    422: "Validation failed",
    500: "Internal error (the message is generic)",
    501: "This function has no runtime for the flavor",
    503: "A dependency is busy or unavailable: retry",
}
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error", "message"],
}
# Bodies a route parses itself (for speed) rather than through the resolver.
PARSED_BODIES = {("/models/{name}/predict", "post"): "PredictRequest"}


def openapi_spec(app: APIGatewayRestResolver) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=__version__))
    _document_errors(spec)
    return spec


def _document_errors(spec: dict[str, Any]) -> None:
    """Every error an operation can answer, in the one shape the API answers errors with."""
    from steward.scoring.inputs import PredictRequest

    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    bodies = {"PredictRequest": PredictRequest}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if (path, method) in PARSED_BODIES:
                model = bodies[PARSED_BODIES[(path, method)]]
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
                ref = {"$ref": f"#/components/schemas/{model.__name__}"}
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref}},
                }
            codes = READ_ERRORS if method == "get" else WRITE_ERRORS
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses[str(code)] = {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
