"""A small HTTP client for the Steward REST API (the CLI and the demo use it).

It needs only the standard library and pydantic (``pip install steward``); data may be
records or, where the user has pandas, DataFrames (:mod:`steward.records`)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from steward.polling import until
from steward.records import tabular, take_column, values

DEFAULT_URL = "http://127.0.0.1:8080"


class _Unredirected(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError, answered as it is


_NO_REDIRECTS = urllib.request.build_opener(_Unredirected).open
MAX_INLINE = 5 * 1024 * 1024  # an artifact sent in the request body; larger ones go to S3


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Unreachable(ConnectionError):
    """The API could not be reached, did not answer in time, or answered something that is
    not Steward's JSON: the message says what happened and what to do. A ConnectionError, so
    callers that wait for the platform by catching OSError keep working."""


def _start_hint(url: str) -> str:
    local = any(host in url for host in ("127.0.0.1", "localhost", "[::1]"))
    if local:
        return (
            "Is the local platform running? Start it with `steward local up` "
            "(or `make demo` for the demo), or name another API with --url or --profile."
        )
    return "Check the profile's url or stack (--profile, --url) and your network."


class RunFailed(Exception):
    """A distributed drift run stopped without a report (failed, timed out or aborted)."""

    def __init__(self, message: str, status: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status


STOPPED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def _data(data: Any) -> dict[str, Any]:
    return {"uri": data} if isinstance(data, str) else tabular(data)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Client:
    url: str = os.environ.get("STEWARD_URL", DEFAULT_URL)
    user: str | None = os.environ.get("STEWARD_USER")
    timeout_s: float = 60.0
    # Deployed stacks: returns the request's headers with a SigV4 signature added.
    signer: Callable[[str, str, bytes | None, dict[str, str]], dict[str, str]] | None = None

    def as_user(self, user: str) -> Client:
        return Client(url=self.url, user=user, timeout_s=self.timeout_s, signer=self.signer)

    def exchange(
        self,
        method: str,
        path: str,
        body: Any | None = None,
        accept: str = "application/json",
        raw: bool = False,
    ) -> Reply:
        """The request's status, headers and body (parsed JSON, text for other media, bytes
        with ``raw``); an error status raises :class:`ApiError`. With ``raw``, redirects are
        not followed (a 303 is answered as it is): a presigned URL must not get this
        client's credentials."""
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
            opener = _NO_REDIRECTS if raw else urllib.request.urlopen
            with opener(request, timeout=self.timeout_s) as response:
                content = response.read()
                status, answered = response.status, dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            content = exc.read()
            if raw and exc.code == 303:
                return Reply(303, content, dict(exc.headers.items()))
            try:
                payload = json.loads(content)
                raise ApiError(exc.code, payload.get("error", "error"), payload.get("message", ""))
            except (ValueError, AttributeError):
                raise ApiError(exc.code, "error", content.decode(errors="replace")[:200]) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise self._unreachable(method, url, getattr(exc, "reason", None) or exc) from None
        if raw:
            return Reply(status, content, answered)
        if accept != "application/json":
            return Reply(status, content.decode(errors="replace"), answered)
        try:
            return Reply(status, json.loads(content) if content else None, answered)
        except ValueError:
            kind = Reply(status, None, answered).header("Content-Type") or "no content type"
            raise Unreachable(
                f"{method} {url} answered {status} with {kind}, not JSON: is {self.url} "
                f"Steward's API? {_start_hint(url)}"
            ) from None

    def _unreachable(self, method: str, url: str, reason: object) -> Unreachable:
        if isinstance(reason, TimeoutError):
            return Unreachable(
                f"{method} {url} got no answer within {self.timeout_s:g} s. {_start_hint(url)}"
            )
        if isinstance(reason, ConnectionRefusedError):
            why = "connection refused"
        else:
            why = str(getattr(reason, "strerror", None) or reason) or type(reason).__name__
        return Unreachable(
            f"cannot reach the Steward API at {self.url} ({why}). {_start_hint(url)}"
        )

    def request(
        self, method: str, path: str, body: Any | None = None, accept: str = "application/json"
    ) -> Any:
        return self.exchange(method, path, body, accept).body

    def kpis(
        self,
        name: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> dict[str, Any]:
        """The practice KPIs of the portfolio, or of model ``name``, from the audit trail."""
        window = {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in (("since", since), ("until", until))
            if v is not None
        }
        path = f"/models/{name}/kpis" if name else "/kpis"
        found: dict[str, Any] = self.get(path + (f"?{urlencode(window)}" if window else ""))
        return found

    def drift_runs(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of the portfolio's drift runs in a period: each model's latest run
        evaluated, skipped, failed, or missed (``GET /drift/runs``)."""
        params = {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in (("since", since), ("until", until), ("limit", limit))
            if v is not None
        }
        if next_token:
            params["next_token"] = next_token
        found: dict[str, Any] = self.get(
            "/drift/runs" + (f"?{urlencode(params)}" if params else "")
        )
        return found

    def review(self, name: str, comment: str) -> dict[str, Any]:
        """Record the periodic review of model ``name`` (an approver)."""
        event: dict[str, Any] = self.post(f"/models/{name}/review", {"comment": comment})
        return event

    def evidence(self, name: str, at: datetime | str | None = None) -> bytes:
        """The model's evidence pack (zip bytes) at ``at`` (default: now). A pack over the
        API's inline size is fetched from the presigned URL the API answers with."""
        stamp = at.isoformat() if isinstance(at, datetime) else at
        path = f"/models/{name}/evidence" + (f"?{urlencode({'at': stamp})}" if stamp else "")
        reply = self.exchange("GET", path, accept="application/zip", raw=True)
        location = reply.header("Location")
        if reply.status != 303 or not location:
            data: bytes = reply.body
            return data
        try:
            with urllib.request.urlopen(location, timeout=self.timeout_s) as response:  # noqa: S310
                stored: bytes = response.read()
                return stored
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise Unreachable(f"cannot fetch the stored evidence pack: {exc}") from None

    def predict(
        self,
        name: str,
        data: Any,
        *,
        keys: Any | None = None,
        version: int | None = None,
        alias: str | None = None,
        explain: int | None = None,
    ) -> Any:
        """Score ``data``: records (a list of dicts, or one dict) or a pandas DataFrame;
        ``keys`` (a list or Series) makes canary routing sticky per record; ``explain=K``
        adds each answer's K adverse ``reasons``."""
        body = tabular(data)
        if keys is not None:
            body["keys"] = [str(k) for k in values(keys)]
        pairs = (("version", version), ("alias", alias), ("explain", explain))
        query = {k: v for k, v in pairs if v is not None}
        path = f"/models/{name}/predict" + (f"?{urlencode(query)}" if query else "")
        return self.post(path, body)

    def explain(
        self,
        name: str,
        data: Any,
        *,
        version: int | None = None,
        alias: str | None = None,
        budget: int | None = None,
        error: float | None = None,
    ) -> Any:
        """Feature attributions for ``data`` (records or a DataFrame): per record
        ``base_value + sum(attributions) == output`` in the answer's ``output_space``;
        ``budget``/``error`` override the model's explain policy for ``sampling_shap``."""
        pairs = (("version", version), ("alias", alias), ("budget", budget), ("error", error))
        query = {k: v for k, v in pairs if v is not None}
        path = f"/models/{name}/explain" + (f"?{urlencode(query)}" if query else "")
        return self.post(path, tabular(data))

    def register(
        self,
        name: str,
        *,
        flavor: str,
        artifact: bytes | str,
        reference: Any | None = None,
        holdout: Any | None = None,
        labels: Any | None = None,
        **fields: Any,
    ) -> Any:
        """Register a version. ``artifact`` is the model's bytes (inline, up to 5 MB) or an
        ``s3://`` URI; ``reference`` and ``holdout`` are records, a DataFrame or an ``s3://``
        URI; ``labels`` the holdout's labels (a list or Series), or the name of the holdout's
        label column (taken out of its rows). Other ``fields`` (metrics, signature, description,
        parent_version, code_ref...) go as they are."""
        body: dict[str, Any] = {"flavor": flavor, **fields}
        if isinstance(artifact, str):
            body["artifact_uri"] = artifact
        else:
            if len(artifact) > MAX_INLINE:
                raise ValueError("artifacts over 5 MB go to S3 first: pass an s3:// URI")
            body["artifact_b64"] = base64.b64encode(artifact).decode()
            body["sha256"] = hashlib.sha256(artifact).hexdigest()
        if reference is not None:
            body["reference_data"] = _data(reference)
        if holdout is not None:
            body["holdout_data"] = _data(holdout)
            if isinstance(labels, str):
                body["holdout_data"]["labels"] = take_column(body["holdout_data"], labels)
            elif labels is not None:
                body["holdout_data"]["labels"] = values(labels)
        return self.post(f"/models/{name}/versions", body)

    def set_trainer(self, name: str, source: bytes | str, **settings: Any) -> Any:
        """Set the model's own trainer: ``source`` is a zip's bytes or a folder to zip (its
        files, relative to it); ``settings`` are ``entry_point``, ``requirements``,
        ``backend``, ``hyperparameters``, ``timeout_s``, ``image``, ``instance_type``."""
        data = zip_folder(source) if isinstance(source, str) else source
        body = {"source_b64": base64.b64encode(data).decode(), **settings}
        return self.put(f"/models/{name}/trainer", body)

    def evaluate_drift(
        self,
        name: str,
        window: dict[str, str] | None = None,
        *,
        timeout_s: float = 900.0,
        poll_s: float = 2.0,
        waiting: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any:
        """Evaluate drift over a window and return the report. A window too large for one
        function answers 202 (the distributed run): poll its ``Location`` until the run has
        kept a report newer than the request (a rerun replaces the window's earlier one),
        and its status, to stop at once with :class:`RunFailed` when it ended without one."""
        reply = self.exchange("POST", f"/models/{name}/drift/evaluate", window or {})
        if reply.status != 202:
            return reply.body
        run: dict[str, Any] = reply.body
        location = reply.header("Location") or f"/models/{name}/drift/{run['report_id']}"
        status_path = run.get("links", {}).get("run") or (
            f"/models/{name}/drift/runs/{run['report_id']}"
        )

        def reported() -> Any | None:
            if waiting is not None:
                waiting(run)
            report = self._found(location)
            if report is not None and _instant(report["created_at"]) >= _instant(run["started_at"]):
                return report
            self._raise_if_stopped(name, status_path)
            return None

        what = f"the drift run of {name} ({run['batches']} batches) to report; it goes on: "
        return until(reported, timeout_s, step_s=poll_s, what=what + f"GET {location} later")

    def _found(self, path: str) -> Any | None:
        """GET ``path``, ``None`` while it is not there (404)."""
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return None

    def _raise_if_stopped(self, name: str, status_path: str) -> None:
        state = self._found(status_path)  # 404: not started yet, or a server without runs
        if state is None or state["status"] not in STOPPED:
            return
        reason = f": {state['error']} ({state['cause']})" if state.get("error") else ""
        raise RunFailed(
            f"the drift run of {name} ended {state['status']}{reason}, with no report; "
            f"execution {state['execution']}",
            state,
        )

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)


def zip_folder(folder: str) -> bytes:
    """A folder's files as a zip, in name order with fixed times: the same files give the
    same bytes, hence the same sha256."""
    root = Path(folder)
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return sink.getvalue()
