"""Attribution drift over HTTP on the local platform (issue 17.4): the churn model's most
important feature, tenure, stops varying in a window; the drift report's NDCG falls under the
threshold, while a calm window keeps it near 1. Then the console in headless Chromium: the
version's attribution profile as a bar chart on the model page and with the approval
evidence, and the latest report's attribution drift chart. Screenshots go to
``test-artifacts/console/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from steward.client import Client
from steward.local.platform import LocalPlatform
from steward.polling import until
from tests.e2e.test_console import ROOT, _shot, browser, page  # noqa: F401 - shared fixtures
from tests.factories import model_spec, reference_rows, register_body

MODEL = "attr-churn"


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e-attributions") as running:
        yield running


def _pending(client: Client, version: int) -> None:
    until(
        lambda: client.get(f"/models/{MODEL}/versions/{version}")["status"] == "PENDING_APPROVAL",
        10,
        step_s=0.05,
        what="validation",
    )


def _score(client: Client, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), 500):
        client.post(f"/models/{MODEL}/predict", {"instances": rows[start : start + 500]})


@pytest.fixture(scope="module")
def reports(platform: LocalPlatform) -> tuple[Client, dict[str, object], dict[str, object]]:
    """v1 in production; a calm window and a window where tenure is held at one value, each
    evaluated on demand; v2 registered and pending."""
    alice = Client(url=platform.url, user="alice")
    alice.post("/models", model_spec(MODEL))
    reference = reference_rows(3000, seed=1)
    alice.post(f"/models/{MODEL}/versions", register_body(reference_data={"instances": reference}))
    _pending(alice, 1)
    alice.as_user("bob").post(
        f"/models/{MODEL}/versions/1/decision", {"decision": "approve", "comment": "ok"}
    )
    alice.put(f"/models/{MODEL}/aliases/production", {"version": 1})
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    _score(alice, reference_rows(2000, seed=2))
    platform.flush()
    t1 = datetime.now(UTC)
    time.sleep(0.01)
    mean = sum(r["tenure"] for r in reference[:100]) / 100  # type: ignore[misc]
    _score(alice, [{**r, "tenure": mean} for r in reference_rows(2000, seed=3)])
    platform.flush()
    t2 = datetime.now(UTC) + timedelta(seconds=1)
    calm = alice.post(
        f"/models/{MODEL}/drift/evaluate", {"start": t0.isoformat(), "end": t1.isoformat()}
    )
    still = alice.post(
        f"/models/{MODEL}/drift/evaluate", {"start": t1.isoformat(), "end": t2.isoformat()}
    )
    alice.post(f"/models/{MODEL}/versions", register_body(metrics={"auc": 0.86}))
    _pending(alice, 2)
    return alice, calm, still


def test_attribution_drift_falls_when_the_top_feature_stops_varying(
    reports: tuple[Client, dict[str, object], dict[str, object]],
) -> None:
    client, calm, still = reports
    profile = client.get(f"/models/{MODEL}/versions/1")["attribution_profile"]
    assert max(profile["features"], key=profile["features"].get) == "tenure"

    quiet = calm["attribution_drift"]
    assert isinstance(quiet, dict) and calm["rows"] == 2000
    assert 300 <= quiet["rows"] <= 700 and quiet["ndcg"] >= 0.9 and not quiet["drift"]

    fallen = still["attribution_drift"]
    assert isinstance(fallen, dict) and still["rows"] == 2000
    assert fallen["ndcg"] < 0.9 and fallen["drift"] and fallen["threshold"] == 0.9
    assert fallen["features"]["tenure"]["current"] < 1e-9
    assert fallen["features"]["tenure"]["current_rank"] == 3
    assert fallen["features"]["charges"]["current_rank"] == 1
    assert still["drift_detected"] and still["verdict"] == "drift"

    html = client.request("GET", f"/models/{MODEL}/drift/{still['report_id']}", accept="text/html")
    assert "Attribution drift" in html and "NDCG" in html


def test_console_draws_the_attribution_profile_and_its_drift(
    platform: LocalPlatform,
    reports: tuple[Client, dict[str, object], dict[str, object]],
    page: Page,  # noqa: F811 - the shared fixture imported above
) -> None:
    client, _, still = reports
    profile = client.get(f"/models/{MODEL}/versions/1")["attribution_profile"]["features"]
    page.goto(platform.url + f"/#/models/{MODEL}")
    chart = page.locator("#attribution-profile")
    expect(chart.locator("rect.bar")).to_have_count(len(profile))
    # largest first: the first bar is tenure's, and the widest
    first = chart.locator("rect.bar").first
    expect(first).to_have_attribute("data-feature", "tenure")
    widths = [
        float(w or 0)
        for w in chart.locator("rect.bar").evaluate_all(
            "bars => bars.map(b => b.getAttribute('width'))"
        )
    ]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0
    data = page.locator("#attribution-profile-data tbody tr")
    expect(data).to_have_count(len(profile))

    drift = page.locator("#attribution-drift")
    expect(drift).to_contain_text("attribution drift")
    ndcg = still["attribution_drift"]["ndcg"]  # type: ignore[index]
    expect(drift).to_contain_text(f"NDCG {ndcg:.3f}")
    bars = page.locator("#attribution-drift-chart rect")
    expect(bars).to_have_count(2 * len(profile))  # reference and window per feature
    tenure = page.locator("#attribution-drift-chart-data tbody tr", has_text="tenure")
    expect(tenure.locator("td").nth(4)).to_have_text("1 → 3")
    _shot(page, "attribution-drift")

    page.goto(platform.url + "/#/approvals")
    page.locator("main[data-rendered-as]:not([aria-busy])").wait_for()
    card = page.locator(f"#approval-{MODEL}-2")
    evidence = card.locator(f"#attributions-{MODEL}-2")
    expect(evidence.locator("rect.bar")).to_have_count(len(profile))
    data = card.locator(f"#attributions-{MODEL}-2-data")  # the chart's numbers, folded
    expect(data.locator("caption")).to_have_text(f"Attribution profile of {MODEL} v2")
    expect(data.locator("tbody tr").first).to_contain_text("tenure")
    card.scroll_into_view_if_needed()
    _shot(page, "attribution-profile-approval")
