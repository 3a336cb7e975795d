"""The console's inventory with a large registry, in headless Chromium: the next page and a
filter each answer within 1 s. The registry is seeded through the bulk path
(``bench.inventory.seed``: the items normal creation leaves, with ``BatchWriteItem``), at
``MODELS`` models: 200, not 10,000, because the test session's moto runs without the scale
patches (which would stay applied for the whole session) and seeding 10,000 takes minutes.
``bench/inventory.py`` measures the API at 10,000."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from bench.inventory import seed, synthetic
from steward.domain.inventory import ModelFilter
from steward.local.platform import LocalPlatform
from tests.e2e.test_console import ROOT, browser, page  # noqa: F401 - the shared fixtures

# 200: without the emulator's scale patches (steward.local.emulator.scale_patches, which
# would stay applied for the rest of the test session) moto scans the table per query.
MODELS = 200


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    data = ROOT / ".cache" / "local-e2e-inventory-bulk"
    with LocalPlatform(port=0, data_dir=data) as running:
        seed(MODELS, processes=2)
        yield running


def _timed(action: object, settled: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    settled()  # type: ignore[operator]
    return time.perf_counter() - start


def test_a_large_inventory_filters_and_pages_within_a_second(
    platform: LocalPlatform,
    page: Page,  # noqa: F811 - the shared fixture imported above
) -> None:
    models = [synthetic(i)[0] for i in range(MODELS)]
    names = sorted(m.name for m in models)
    page.goto(platform.url + "/")
    rows = page.locator("#inventory tbody tr")
    expect(rows).to_have_count(100, timeout=10_000)  # the first page of 100
    expect(rows.first.locator("a")).to_have_text(names[0])

    took = _timed(
        lambda: page.click("#inventory-next"),
        lambda: expect(rows.first.locator("a")).to_have_text(names[100], timeout=1000),
    )
    assert took < 1.0, took

    # an owner + tag pair the seeded inventory holds (the owner of a model with a team tag)
    chosen = next(m for m in models if "team" in m.tags)
    owner, tag = chosen.owner, f"team:{chosen.tags['team']}"
    where = ModelFilter(owner=owner, tag=(tag,))
    expected = sorted(m.name for m in models if where.matches(m))
    assert 0 < len(expected) < 100
    page.fill("#filter-owner", owner)
    page.fill("#filter-tag", tag)
    took = _timed(
        lambda: page.click("#inventory-filters button[type=submit]"),
        lambda: expect(rows).to_have_count(len(expected), timeout=1000),
    )
    assert took < 1.0, took
    assert rows.locator("td:first-child").all_inner_texts() == expected
