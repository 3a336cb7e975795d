"""Shared fixtures; every test is marked with its tier from its folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from tests.moto_stack import Stack

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "infra", "e2e", "reliability")

# No test may reach a real AWS account.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# Node 20 is what these machines have; jsii prints a banner about its end of life.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_DEV", "false")

# Hypothesis checks correctness here, never speed (speed is bench/'s): no per-example
# deadline, which a loaded 2-core CI machine misses (a 412 ms example against 200 ms).
settings.register_profile("steward", deadline=None)
settings.load_profile("steward")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The CDK template as the local platform deploys it (synthesized once, cached)."""
    from tests import moto_stack

    return moto_stack.template()


@pytest.fixture(scope="session")
def stack(template: dict[str, Any]) -> Iterator[Stack]:
    """The template deployed on moto, handlers in-process: one per session, for every tier."""
    from tests import moto_stack

    yield from moto_stack.stack(template)


_RSS_LOG = os.environ.get("STEWARD_RSS_LOG")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


if _RSS_LOG:

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
        with open(_RSS_LOG, "a") as log:
            log.write(f"{_rss_mb():9.0f} {nodeid}\n")
