"""Handlers in-process on moto: the stack is the CDK template, deployed by moto's
CloudFormation exactly as the local platform deploys it.

One stack per test session, shared by the tiers that run handlers in-process (integration,
reliability): the fixtures are registered once, in ``tests/conftest.py``."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moto import mock_aws

from steward import wiring
from steward.local.emulator import fidelity_patches
from steward.local.pollers import QueuePoller, StreamPoller
from steward.local.provision import Deployment, deploy
from steward.local.runtime import LocalRuntime
from steward.local.synth import local_template

ROOT = Path(__file__).resolve().parents[1]
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
    "core": {"reset_boto3_session": False},
}


def template() -> dict[str, Any]:
    return local_template(ROOT / ".cache" / "local")


class Stack:
    def __init__(self, deployment: Deployment, runtime: LocalRuntime) -> None:
        self.deployment = deployment
        self.runtime = runtime
        self.pollers = [QueuePoller(runtime, s) for s in deployment.queue_sources]
        self.streams = [StreamPoller(runtime, s) for s in deployment.stream_sources]

    def flush(self) -> int:
        """Deliver queued log records to the writer, as Lambda's SQS poller would (and audit
        events to the archiver)."""
        return self.flush_streams() + sum(p.flush() for p in self.pollers)

    def flush_streams(self) -> int:
        """Deliver the audit table's stream to the archiver, as Lambda does within a second
        of each write. On a thread of its own: faults injected by a test (which apply to the
        test's thread) are not the archiver's."""
        delivered: list[int] = []
        thread = threading.Thread(
            target=lambda: delivered.append(sum(p.flush() for p in self.streams))
        )
        thread.start()
        thread.join()
        return sum(delivered)

    def function(self, source: str, *, image: bool = False) -> str:
        functions = self.deployment.functions
        return next(f.name for f in functions if f.source == source and f.image == image)

    def invoke(self, source: str, event: Any, *, image: bool = False) -> Any:
        if source in ("api", "workflow"):  # what was audited so far has reached the copy
            self.flush_streams()
        return self.runtime.invoke(self.function(source, image=image), event)


def stack(template: dict[str, Any]) -> Iterator[Stack]:
    saved = dict(os.environ)
    fidelity_patches()
    with mock_aws(config=MOTO_CONFIG):
        deployment = deploy(template)
        runtime = LocalRuntime(ROOT / "functions")
        for spec in deployment.functions:
            runtime.register(spec)
            os.environ.update(
                {k: v for k, v in spec.environment.items() if k.startswith("STEWARD_")}
            )
        runtime.install_moto_hook()
        wiring.reset()
        yield Stack(deployment, runtime)
    os.environ.clear()
    os.environ.update(saved)
    wiring.reset()
