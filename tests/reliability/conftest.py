"""Helpers of the reliability tier: calls into the in-process handlers on the moto stack.

``STEWARD_RELIABILITY=long`` (``make reliability``) runs many more fuzzing cases and
hypothesis examples than the default run of ``make test``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import boto3

from steward import wiring
from steward.adapters.memory import MemoryWorkflowEngine
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.registry.requests import Decision, RegisterVersion
from steward.registry.service import Registry
from tests.factories import api_event, model_spec, register_body
from tests.moto_stack import Stack

LONG = os.environ.get("STEWARD_RELIABILITY") == "long"
USERS = UserDirectory()
SCORING_ROUTES = ("/models/{name}/predict", "/models/{name}/feedback")


def examples(default: int, long: int) -> int:
    """How many cases a property or fuzzing test runs: few in ``make test``, many in
    ``make reliability``."""
    return long if LONG else default


@dataclass
class Answer:
    status: int
    body: Any
    raw: str


def call(
    stack: Stack,
    method: str,
    path: str,
    body: Any = None,
    *,
    user: str | None = "alice",
    resource: str = "/{proxy+}",
    principal: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request to the function API Gateway routes it to (scoring or API); with
    ``principal``, as API Gateway's IAM authorization hands the caller's ARN over."""
    source = "scoring" if path.split("?")[0].endswith(("/predict", "/feedback")) else "api"
    event = api_event(method, path, body, user=user, headers=headers, resource=resource)
    if principal is not None:
        event["requestContext"]["identity"]["userArn"] = principal
    result = stack.invoke(source, event)
    raw = result.get("body") or ""
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Answer(result["statusCode"], parsed, raw)


def wait_status(name: str, number: int, *statuses: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = wiring.registry().get_version(name, number).status.value
        if status in statuses:
            return status
        time.sleep(0.02)
    raise AssertionError(f"{name}/{number} stayed {status}, expected one of {statuses}")


def create(name: str, **overrides: Any) -> None:
    wiring.registry().create_model(
        ModelSpec.model_validate(model_spec(name, **overrides)), USERS.identify("alice")
    )


def register(name: str, **overrides: Any) -> int:
    """Register a version as alice and wait until it is pending approval."""
    reg = wiring.registry()
    request = RegisterVersion.model_validate(register_body(**overrides))
    number = reg.register_version(name, request, USERS.identify("alice")).version
    wait_status(name, number, "PENDING_APPROVAL")
    return number


def register_unstarted(name: str) -> int:
    """Register a version whose approval workflow is not started (the test drives it)."""
    reg = wiring.registry()
    quiet = Registry(reg.store, reg.artifacts, reg.audit_log, MemoryWorkflowEngine())
    request = RegisterVersion.model_validate(register_body())
    return quiet.register_version(name, request, USERS.identify("alice")).version


def approve(name: str, number: int) -> None:
    decision = Decision(decision="approve", comment="reviewed")
    wiring.registry().decide(name, number, decision, USERS.identify("bob"))


def serve(name: str) -> int:
    """A model with an approved version 1 in production."""
    create(name)
    number = register(name)
    approve(name, number)
    wiring.registry().set_alias(name, "production", number, USERS.identify("alice"))
    return number


def live_artifact_keys(name: str) -> list[str]:
    """Keys under ``models/<name>/`` whose latest version is an object (not a delete marker)."""
    s3 = boto3.client("s3")
    bucket = os.environ["STEWARD_ARTIFACTS_BUCKET"]
    keys = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"models/{name}/")
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def queue_depth(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())
