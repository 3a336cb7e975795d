"""A deployed profile on moto: the endpoint comes from the stack's outputs, and every
request leaves signed with SigV4 (execute-api) by the user's AWS credentials."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from moto import mock_aws

from steward.cli.main import main
from steward.profiles import client_for, select

TEMPLATE = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"ApiUrl": {"Value": "PLACEHOLDER"}},
}


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        Recorder.seen.append({"path": self.path, "headers": dict(self.headers.items())})
        body = json.dumps({"items": [], "next_token": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


def test_deployed_profile_reads_the_stack_and_signs(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.prod]\nstack = "Steward"\nregion = "eu-west-1"\n')
    monkeypatch.setenv("STEWARD_CONFIG", str(config))
    monkeypatch.setenv("STEWARD_PROFILE", "prod")
    monkeypatch.delenv("STEWARD_URL", raising=False)
    template = json.dumps(TEMPLATE).replace("PLACEHOLDER", server + "/")
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="Steward", TemplateBody=template
        )
        client = client_for(select())
        assert client.url == server and client.signer is not None and client.user is None
        assert main(["--json", "models", "list"]) == 0
        frozen = boto3.Session(region_name="eu-west-1").get_credentials().get_frozen_credentials()

    request = Recorder.seen[-1]
    assert request["path"] == "/v1/models"
    headers = request["headers"]
    assert "X-Steward-User" not in headers
    authorization = headers["Authorization"]
    stamp = headers["X-Amz-Date"]
    assert f"/{stamp[:8]}/eu-west-1/execute-api/aws4_request" in authorization

    # Recompute the signature from what arrived: the server-side check API Gateway does.
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date"} <= set(signed)
    kept = {k: v for k, v in headers.items() if k.lower() in signed}
    resigned = AWSRequest(
        method="GET",
        url=server + "/models",
        data=b"",
        headers={k: v for k, v in kept.items() if k.lower() not in ("host", "x-amz-date")},
    )
    monkeypatch.setattr(
        "botocore.auth.get_current_datetime", lambda: datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    )
    SigV4Auth(frozen, "execute-api", "eu-west-1").add_auth(resigned)
    assert resigned.headers["Authorization"] == authorization


def test_a_profile_naming_a_missing_stack_says_so_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.prod]\nstack = "Missing"\nregion = "eu-west-1"\n')
    monkeypatch.setenv("STEWARD_CONFIG", str(config))
    monkeypatch.setenv("STEWARD_PROFILE", "prod")
    monkeypatch.delenv("STEWARD_URL", raising=False)
    with mock_aws(), pytest.raises(SystemExit) as stopped:
        main(["models", "list"])
    message = str(stopped.value.code)
    assert "profile prod: cannot read the outputs of stack Missing" in message
    assert "--url" in message
