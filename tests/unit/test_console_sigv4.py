"""The console's SigV4 signer (console/js/sigv4.js, WebCrypto) signs exactly as botocore's
SigV4Auth does: same canonical request, same signature, for the same inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
SIGNER = (ROOT / "console" / "js" / "sigv4.js").as_uri()
NOW = datetime(2026, 11, 27, 8, 30, 15, tzinfo=UTC)
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def _js(method: str, path: str, search: str, body: str, token: str | None) -> dict[str, str]:
    credentials = {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "s3cr3t/Key+example"}
    if token:
        credentials["sessionToken"] = token
    args = {
        "method": method,
        "host": HOST,
        "path": path,
        "search": search,
        "body": body,
        "region": "eu-west-1",
        "credentials": credentials,
    }
    script = (
        f"import {{ sign }} from {json.dumps(SIGNER)};\n"
        f"const args = {json.dumps(args)};\n"
        f"args.now = new Date({json.dumps(NOW.isoformat())});\n"
        "console.log(JSON.stringify(await sign(args)));\n"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


def _botocore(
    method: str, path: str, search: str, body: str, token: str | None, monkeypatch
) -> dict[str, str]:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))
    url = f"https://{HOST}{path}" + (f"?{search}" if search else "")
    request = AWSRequest(method=method, url=url, data=body.encode())
    credentials = Credentials("AKIDEXAMPLE", "s3cr3t/Key+example", token)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


@pytest.mark.skipif(shutil.which("node") is None, reason="node ships with the CDK toolchain")
@pytest.mark.parametrize(
    ("method", "path", "search", "body", "token"),
    [
        ("GET", "/v1/models", "", "", None),
        ("GET", "/v1/approvals", "status=pending&limit=50", "", "FQoGZXIvYXdzE+token/=="),
        ("POST", "/v1/models/churn/versions/2/decision", "", '{"decision": "approve"}', "tok"),
        ("GET", "/v1/models/churn/drift", "next_token=a%2Bb%3D&limit=5", "", None),
    ],
)
def test_browser_signature_equals_botocore(  # type: ignore[no-untyped-def]
    method: str, path: str, search: str, body: str, token: str | None, monkeypatch
) -> None:
    ours = _js(method, path, search, body, token)
    theirs = _botocore(method, path, search, body, token, monkeypatch)
    assert ours["x-amz-date"] == theirs["x-amz-date"] == "20261127T083015Z"
    assert ours["authorization"] == theirs["authorization"]
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token")
