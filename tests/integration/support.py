"""Calling the handlers in-process as API Gateway and Step Functions would."""

from __future__ import annotations

import json
from typing import Any

import boto3

from steward.polling import until
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
    result = stack.invoke("scoring", api_event("POST", path, body, user="app", resource=path))
    return result["statusCode"], json.loads(result["body"])


def wait_status(
    stack: Stack, name: str, version: int, status: str, timeout_s: float = 30
) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def reached() -> dict[str, Any] | None:
        _code, body = api(stack, "GET", f"/models/{name}/versions/{version}")
        seen.append(body)
        return body if body["status"] == status else None

    try:
        return until(reached, timeout_s, step_s=0.05, what=f"{name} v{version} {status}")
    except TimeoutError:
        last = seen[-1]
        raise AssertionError(f"version stayed {last['status']}: {last.get('validation')}") from None


def execution_end(arn: str, timeout_s: float = 5) -> dict[str, Any]:
    """The execution once it has stopped; still running after ``timeout_s``, as it is then
    (the caller's assertion shows its state)."""
    sfn = boto3.client("stepfunctions")

    def ended() -> dict[str, Any] | None:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return execution if execution["status"] != "RUNNING" else None

    try:
        return until(ended, timeout_s, step_s=0.05, what=f"execution {arn}")
    except TimeoutError:
        running: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return running
