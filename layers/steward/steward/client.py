"""A small HTTP client for the Steward REST API (the CLI and the demo use it)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Client:
    url: str = os.environ.get("STEWARD_URL", DEFAULT_URL)
    user: str | None = os.environ.get("STEWARD_USER")
    timeout_s: float = 60.0
    # Deployed stacks: returns the request's headers with a SigV4 signature added.
    signer: Callable[[str, str, bytes | None, dict[str, str]], dict[str, str]] | None = None

    def as_user(self, user: str) -> Client:
        return Client(url=self.url, user=user, timeout_s=self.timeout_s, signer=self.signer)

    def request(
        self, method: str, path: str, body: Any | None = None, accept: str = "application/json"
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        url = self.url.rstrip("/") + path
        headers = {"Content-Type": "application/json", "Accept": accept}
        if self.user:
            headers["X-Steward-User"] = self.user
        if self.signer is not None:
            headers = self.signer(method, url, data, headers)
        request = urllib.request.Request(  # noqa: S310 - URL is the configured API
            url, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
                raise ApiError(exc.code, payload.get("error", "error"), payload.get("message", ""))
            except (ValueError, AttributeError):
                raise ApiError(exc.code, "error", raw.decode(errors="replace")[:200]) from None
        if accept != "application/json":
            return raw.decode()
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)
