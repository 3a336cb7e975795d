"""Fault injection on the boto3 clients, through botocore's ``before-call`` event hook.

A fault raises before the request leaves the client (the emulator never sees it), exactly as
a throttled, refused or unreachable AWS endpoint surfaces to the adapters: a ``ClientError``
with the service's error code, or a botocore transport error. Faults are registered on the
default botocore session, so the services that ``steward.wiring`` builds next carry them;
``wiring.reset()`` after registering them and after removing them makes that a fresh cold
start either way.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from steward import wiring

# Text that must never reach a caller: it stands for what real AWS errors carry (ARNs,
# account ids, endpoint names).
SECRET = "arn:aws:iam::123456789012:role/secret-internal-role"
ENDPOINT = "https://internal-endpoint.secret.example"


def throttling(operation: str) -> Exception:
    error = {"Code": "ThrottlingException", "Message": f"Rate exceeded for {SECRET}"}
    return ClientError({"Error": error}, operation)


def access_denied(operation: str) -> Exception:
    error = {"Code": "AccessDenied", "Message": f"{SECRET} is not authorized"}
    return ClientError({"Error": error}, operation)


def read_timeout(_: str) -> Exception:
    return ReadTimeoutError(endpoint_url=ENDPOINT)


def connection_error(_: str) -> Exception:
    return EndpointConnectionError(endpoint_url=ENDPOINT)


KINDS: dict[str, Callable[[str], Exception]] = {
    "throttling": throttling,
    "access_denied": access_denied,
    "read_timeout": read_timeout,
    "connection": connection_error,
}
# What the caller must get for each kind: retryable faults 503, refusals 500.
EXPECTED_STATUS = {"throttling": 503, "access_denied": 500, "read_timeout": 503, "connection": 503}


@dataclass
class Fault:
    """Fail calls of ``service`` (botocore's event name: s3, dynamodb, sqs, sfn, eventbridge)
    and ``operation`` (``*`` for any), with probability ``rate``, at most ``times`` times,
    only from the thread that installed it unless ``any_thread``, and only for requests
    that ``match`` (given the serialized request: url, headers, body) accepts."""

    service: str
    operation: str
    kind: str
    rate: float = 1.0
    times: int | None = None
    any_thread: bool = False
    seed: int = 0
    match: Callable[[dict[str, Any]], bool] | None = None
    injected: int = 0
    calls: int = 0
    # Cleared when the block ends: a client built inside the block by another thread may
    # outlive it (a cache filled after the block's reset), and must not keep failing.
    active: bool = True
    _owner: int = field(default_factory=threading.get_ident)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def event(self) -> str:
        op = "" if self.operation == "*" else f".{self.operation}"
        return f"before-call.{self.service}{op}"

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.active:
            return
        if not self.any_thread and threading.get_ident() != self._owner:
            return
        if self.match is not None and not self.match(params):
            return
        with self._lock:
            self.calls += 1
            spent = self.times is not None and self.injected >= self.times
            if spent or self._rng.random() >= self.rate:
                return
            self.injected += 1
        raise KINDS[self.kind](model.name)


@contextmanager
def injected(*faults: Fault) -> Iterator[tuple[Fault, ...]]:
    """Install ``faults`` for the services built inside the block (a fresh cold start)."""
    session = boto3._get_default_session()._session
    # Hooks first, then the cold start: a client is given a copy of the session's hooks when
    # it is created, and a workflow step on another thread may build its services at any
    # moment. Built after the reset, they carry the faults; a build under way at the reset
    # is not kept (wiring's caches), so no service the block uses was built without them.
    for fault in faults:
        session.register(fault.event, fault, unique_id=f"fault-{id(fault)}")
    wiring.reset()
    try:
        yield faults
    finally:
        for fault in faults:
            fault.active = False
            session.unregister(fault.event, unique_id=f"fault-{id(fault)}")
        wiring.reset()
