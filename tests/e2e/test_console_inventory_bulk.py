"""The console's inventory at 10,000 models, in headless Chromium: the next page and a
filter each answer within 1 s (issue #20's acceptance).

The platform runs in its own process (``python -m bench.inventory --serve``): there the
emulator's scale patches (:func:`steward.local.emulator.scale_patches`, partition-only
queries) apply, which would otherwise stay applied for the rest of the test session. It
seeds the registry through the bulk path (``bench.inventory.seed``: the items normal
creation leaves, with ``BatchWriteItem``), ~30-60 s on two cores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from bench.inventory import synthetic
from steward.domain.inventory import ModelFilter
from tests.e2e.test_console import ROOT, browser, page  # noqa: F401 - the shared fixtures

MODELS = 10_000


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The URL of a local platform holding ``MODELS`` bulk-seeded models (another process)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/steward"), str(ROOT)])}
    command = [sys.executable, "-m", "bench.inventory", "--models", str(MODELS), "--serve"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        for line in server.stdout:
            if line.startswith("SERVING "):
                yield line.split()[1]
                break
        else:
            pytest.fail(f"the inventory platform exited ({server.wait()}) before serving")
    finally:
        server.stdin.close()  # it stops when its standard input closes
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def _timed(action: object, settled: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    settled()  # type: ignore[operator]
    return time.perf_counter() - start


def test_ten_thousand_models_filter_and_page_within_a_second(
    url: str,
    page: Page,  # noqa: F811 - the shared fixture imported above
) -> None:
    models = [synthetic(i)[0] for i in range(MODELS)]
    names = sorted(m.name for m in models)
    page.goto(url + "/")
    rows = page.locator("#inventory tbody tr")
    expect(rows).to_have_count(100, timeout=10_000)  # the first page of 100
    expect(rows.first.locator("a")).to_have_text(names[0])

    took = _timed(
        lambda: page.click("#inventory-next"),
        lambda: expect(rows.first.locator("a")).to_have_text(names[100], timeout=1000),
    )
    assert took < 1.0, took

    # an owner + team pair the seeded inventory holds, fewer than a page (the first such)
    pairs = Counter((m.owner, m.tags["team"]) for m in models if "team" in m.tags)
    owner, team = next(pair for pair, count in pairs.items() if 10 < count < 100)
    where = ModelFilter(owner=owner, tag=(f"team:{team}",))
    expected = sorted(m.name for m in models if where.matches(m))
    page.fill("#filter-owner", owner)
    page.fill("#filter-tag", f"team:{team}")
    took = _timed(
        lambda: page.click("#inventory-filters button[type=submit]"),
        lambda: expect(rows).to_have_count(len(expected), timeout=1000),
    )
    assert took < 1.0, took
    assert rows.locator("td:first-child").all_inner_texts() == expected
