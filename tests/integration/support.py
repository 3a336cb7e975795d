"""Calling the handlers in-process as API Gateway and Step Functions would."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from tests.factories import api_event
from tests.integration.conftest import Stack


def api(
    stack: Stack, method: str, path: str, body: Any = None, user: str | None = "alice"
) -> tuple[int, Any]:
    event = api_event(method, path, body, user=user)
    result = stack.invoke("api", event)
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else None


def scoring(stack: Stack, path: str, body: Any) -> tuple[int, Any]:
    """POST to a route of the scoring function (predict, feedback)."""
    result = stack.invoke("scoring", api_event("POST", path, body, resource=path))
    return result["statusCode"], json.loads(result["body"])


def wait_status(
    stack: Stack, name: str, version: int, status: str, timeout_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        _code, body = api(stack, "GET", f"/models/{name}/versions/{version}")
        if body["status"] == status or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if body["status"] == status:
        return body
    raise AssertionError(f"version stayed {body['status']}: {body.get('validation')}")


def execution_end(arn: str, timeout_s: float = 5) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING" or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)
