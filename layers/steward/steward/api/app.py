"""The API resolver: routers composed, validation on, errors mapped once."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from steward import __version__
from steward.api.errors import register_error_handlers
from steward.api.routes import health

TITLE = "Steward"
PARTS = ("registry", "scoring")


def _routers(part: str) -> list[Any]:
    if part == "registry":
        from steward.api.routes import aliases, audit, drift, models, versions, workflows

        return [
            models.router,
            versions.router,
            aliases.router,
            audit.router,
            drift.router,
            workflows.router,
        ]
    from steward.api.routes import scoring

    return [scoring.router]


def build_app(parts: tuple[str, ...] = PARTS) -> APIGatewayRestResolver:
    """The resolver with the routes of ``parts``: the API function serves the registry, the
    scoring function serves scoring; the spec (``openapi.json``) covers both."""
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)
    app.include_router(health.router)
    for part in parts:
        for router in _routers(part):
            app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(200, "application/json", json.dumps(openapi_spec(app)))

    return app


def openapi_spec(app: APIGatewayRestResolver) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=__version__))
    return spec
