"""The API resolver: routers composed, validation on, errors mapped once."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from steward import __version__
from steward.api.errors import register_error_handlers
from steward.api.routes import aliases, audit, health, models, versions

TITLE = "Steward"


def build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)
    for router in (health.router, models.router, versions.router, aliases.router, audit.router):
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(200, "application/json", json.dumps(openapi_spec(app)))

    return app


def openapi_spec(app: APIGatewayRestResolver) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=__version__))
    return spec
