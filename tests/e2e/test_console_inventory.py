"""The console's inventory with many models, in headless Chromium: filters and pages each
answer within 1 s. ``MODELS`` is kept cheap for CI (a few hundred, created in-process through
the registry); ``bench/inventory.py`` measures the API at larger sizes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from steward import wiring
from steward.domain.identity import Identity, Role
from steward.domain.models import ModelSpec, Task
from steward.local.platform import LocalPlatform
from tests.e2e.test_console import ROOT, browser, page  # noqa: F401 - the shared fixtures

MODELS = 120  # two pages of 100: cheap for CI
ADMIN = Identity(user="admin", roles=frozenset(Role))


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e-inventory") as running:
        registry = wiring.registry()
        for i in range(MODELS):
            spec = ModelSpec(
                name=f"inv-{i:04d}",
                description="attrition model" if i % 40 == 7 else "a model",
                owner=f"owner{i % 12}",
                task=Task.REGRESSION if i % 2 else Task.CLASSIFICATION,
                tags={"team": ["crm", "risk", "ops"][i % 3]},
            )
            registry.create_model(spec, ADMIN)
        yield running


def _timed(action: object, settled: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    settled()  # type: ignore[operator]
    return time.perf_counter() - start


def test_inventory_filters_and_pages_within_a_second(
    platform: LocalPlatform,
    page: Page,  # noqa: F811 - the shared fixture imported above
) -> None:
    page.goto(platform.url + "/")
    rows = page.locator("#inventory tbody tr")
    expect(rows).to_have_count(100)  # the first page of 100, not every model
    first = rows.first.locator("a")
    expect(first).to_have_text("inv-0000")

    took = _timed(
        lambda: page.click("#inventory-next"),
        lambda: expect(rows.first.locator("a")).to_have_text("inv-0100", timeout=1000),
    )
    assert took < 1.0

    page.fill("#filter-owner", "owner6")
    page.fill("#filter-tag", "team:crm")
    took = _timed(
        lambda: page.click("#inventory-filters button[type=submit]"),
        lambda: expect(rows).to_have_count(MODELS // 12, timeout=1000),
    )
    assert took < 1.0
    names = rows.locator("td:first-child").all_inner_texts()
    assert len(names) == MODELS // 12 and all(int(n[4:]) % 12 == 6 for n in names)

    page.fill("#filter-owner", "")
    page.fill("#filter-tag", "")
    page.fill("#filter-q", "ATTRITION")
    page.click("#inventory-filters button[type=submit]")
    expect(rows).to_have_count(MODELS // 40)  # 7, 47, 87
    page.click("#inventory th button[data-column='0']")  # sorted by name: now descending
    expect(rows.first.locator("a")).to_have_text(f"inv-{(MODELS // 40 - 1) * 40 + 7:04d}")
