"""The web console's static files, served by the local platform next to the API.

``/`` is the console's page and ``/console/...`` its files (the same layout as the bucket
behind CloudFront in AWS); ``/console/config.json`` tells the console to name its caller
with ``X-Steward-User`` and lists the local users for its picker.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from steward.config import Settings
from steward.domain.identity import DEFAULT_USERS

PREFIX = "/console/"
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}
# The console builds its DOM from text nodes; the policy forbids anything but its own files.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def local_config(settings: Settings) -> dict[str, object]:
    users = settings.users or DEFAULT_USERS
    return {
        "auth": "local",
        "api": "",
        "users": [{"name": name, "roles": sorted(roles)} for name, roles in users.items()],
    }


class ConsoleFiles:
    """A gateway hook: answers GET ``/`` and ``/console/*``, passes everything else on."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __call__(self, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD"):
            return None
        if request.path == "/":
            return self._file("index.html")
        if not request.path.startswith(PREFIX):
            return None
        relative = request.path[len(PREFIX) :]
        if relative == "config.json":
            body = json.dumps(local_config(Settings.from_env()))
            return Response(body, content_type="application/json", headers=SECURITY_HEADERS)
        return self._file(relative)

    def _file(self, relative: str) -> Response:
        joined = safe_join(str(self.root), relative)
        path = Path(joined) if joined else None
        if path is None or not path.is_file():
            body = json.dumps({"error": "not_found", "message": "no such console file"})
            return Response(body, status=404, content_type="application/json")
        kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
        charset = "; charset=utf-8" if kind.startswith("text/") else ""
        return Response(path.read_bytes(), content_type=kind + charset, headers=SECURITY_HEADERS)
