"""The local API gateway: HTTP requests become API Gateway REST proxy events.

Routes are those of the deployed REST API (resources and Lambda proxy integrations), matched
the way API Gateway matches them: explicit paths before greedy ``{proxy+}`` ones.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from steward.local.provision import Route
from steward.local.runtime import FunctionError, LocalRuntime

log = logging.getLogger("steward_local")

STAGE = "local"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")

LocalHandler = Callable[[Request], Response | None]


def _is_text(content_type: str) -> bool:
    return not content_type or any(content_type.startswith(t) for t in TEXT_TYPES)


def proxy_event(request: Request, route: Route, params: dict[str, str]) -> dict[str, Any]:
    raw = request.get_data(cache=False)
    text = _is_text(request.content_type or "")
    body = (raw.decode("utf-8", "replace") if text else base64.b64encode(raw).decode()) or None
    query = request.args
    multi: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        multi.setdefault(key, []).append(value)
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {k: v for k, v in request.headers.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": {k: query.get(k) for k in query} or None,
        "multiValueQueryStringParameters": {k: query.getlist(k) for k in query} or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": f"/{STAGE}{request.path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
        },
        "body": body,
        "isBase64Encoded": bool(body) and not text,
    }


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": code, "message": message})
    return Response(body, status=status, content_type="application/json")


def to_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        return _error(502, "bad_gateway", "malformed Lambda proxy response")
    headers = Headers()
    for key, value in (result.get("headers") or {}).items():
        headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.setlist(key, [str(v) for v in values])
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return Response(data, status=int(result["statusCode"]), headers=headers)


class Gateway:
    def __init__(
        self,
        runtime: LocalRuntime,
        routes: list[Route],
        extra: Iterable[LocalHandler] = (),
    ) -> None:
        self._runtime = runtime
        self._routes = routes
        self._extra = list(extra)

    def match(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            found = route.pattern.match(path)
            if found and (method in route.methods or "ANY" in route.methods):
                return route, found.groupdict()
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        for handler in self._extra:
            answer = handler(request)
            if answer is not None:
                return answer
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, "payload_too_large", "request body over 10 MB")
        matched = self.match(request.path, request.method)
        if matched is None:
            return _error(404, "not_found", "no such route")
        route, params = matched
        event = proxy_event(request, route, params)
        try:
            # One request at a time: the runtime holds its lock for API events.
            result = self._runtime.invoke(route.function, event)
        except FunctionError:
            return _error(502, "bad_gateway", "the function failed; see the platform log")
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            return _error(500, "internal_error", "internal error")
        return to_response(result)
