"""The web console in real headless Chromium (Debian's package, driven by Playwright) against
the local platform: inventory, model page with the drift chart, the approvals inbox with its
evidence, an approval by keyboard, and the audit entry it leaves. Screenshots go to
``test-artifacts/console/``."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from steward.client import ApiError, Client
from steward.local.platform import LocalPlatform
from tests.factories import model_spec, reference_rows, register_body

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODEL = "ui-churn"


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(port=0, data_dir=ROOT / ".cache" / "local-e2e") as running:
        yield running


def _until_pending(client: Client, version: int) -> None:
    for _ in range(200):
        if client.get(f"/models/{MODEL}/versions/{version}")["status"] == "PENDING_APPROVAL":
            return
        time.sleep(0.05)
    raise AssertionError("the version never reached PENDING_APPROVAL")


def _score(client: Client, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), 500):
        client.post(f"/models/{MODEL}/predict", {"instances": rows[start : start + 500]})


@pytest.fixture(scope="module")
def seeded(platform: LocalPlatform) -> Client:
    """v1 in production with two drift evaluations (calm, then drifted); v2 pending."""
    alice = Client(url=platform.url, user="alice")
    bob = alice.as_user("bob")
    alice.post("/models", model_spec(MODEL))
    reference = {"instances": reference_rows(3000, seed=1)}
    alice.post(
        f"/models/{MODEL}/versions", register_body(metrics={"auc": 0.81}, reference_data=reference)
    )
    _until_pending(alice, 1)
    bob.post(f"/models/{MODEL}/versions/1/decision", {"decision": "approve", "comment": "ok"})
    alice.put(f"/models/{MODEL}/aliases/production", {"version": 1})
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    _score(alice, reference_rows(1000, seed=2))
    platform.flush()
    t1 = datetime.now(UTC)
    time.sleep(0.01)
    shifted = [{**r, "tenure": r["tenure"] + 40.0} for r in reference_rows(1000, seed=3)]
    _score(alice, shifted)
    platform.flush()
    t2 = datetime.now(UTC) + timedelta(seconds=1)
    for start, end in ((t0, t1), (t1, t2)):
        window = {"start": start.isoformat(), "end": end.isoformat()}
        alice.post(f"/models/{MODEL}/drift/evaluate", window)
    alice.post(f"/models/{MODEL}/versions", register_body(metrics={"auc": 0.86}))
    _until_pending(alice, 2)
    return alice


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], errors  # no uncaught script error on any page


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _act_as(page: Page, user: str) -> None:
    page.locator("main[data-rendered-as]:not([aria-busy])").wait_for()
    page.select_option("#user-picker", user)
    page.locator(f'main[data-rendered-as="{user}"]:not([aria-busy])').wait_for()


def test_parallel_requests_each_get_their_own_answer(
    platform: LocalPlatform, seeded: Client
) -> None:
    """The console sends its reads at once; each must be answered for its own route (the
    handlers keep the current event on the resolver, as one Lambda environment does)."""
    report = seeded.get(f"/models/{MODEL}")["latest_drift"]["report_id"]
    paths = [
        f"/models/{MODEL}/drift/{report}",
        f"/models/{MODEL}/versions/2",
        f"/models/{MODEL}/drift",
        f"/models/{MODEL}/audit",
    ] * 15

    def fetch(path: str) -> object:
        try:
            return seeded.get(path)
        except ApiError as exc:
            return exc

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show instead of hiding
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(fetch, paths))
    finally:
        sys.setswitchinterval(interval)
    wrong = []
    for path, answer in zip(paths, answers, strict=True):
        if isinstance(answer, ApiError):
            wrong.append((path, answer.status, answer.message))
        elif path.endswith(report):
            wrong += [] if answer["report_id"] == report else [(path, answer)]
        elif path.endswith("/2"):
            wrong += [] if answer["version"] == 2 else [(path, answer)]
        elif path.endswith("drift"):
            wrong += [] if answer["items"][0]["model"] == MODEL else [(path, answer)]
        else:
            wrong += [] if answer["items"][0]["action"] == "model.created" else [(path, answer)]
    assert wrong == []


def test_inventory_shows_health_badges(platform: LocalPlatform, seeded: Client, page: Page) -> None:
    page.goto(platform.url + "/")
    row = page.locator("#inventory tbody tr", has=page.get_by_role("link", name=MODEL))
    expect(row).to_have_count(1)
    cells = row.locator("td")
    expect(cells.nth(3)).to_have_text("v1")  # production
    expect(cells.nth(4)).to_have_text("drift")  # the latest verdict
    expect(cells.nth(6)).to_have_text("1")  # v2 waits for approval
    expect(page.locator("#pending-count")).not_to_have_text("")
    _shot(page, "inventory")


def test_practice_page_shows_the_kpis_as_tables_and_a_chart(
    platform: LocalPlatform, seeded: Client, page: Page
) -> None:
    """The seeded model went to production and has a drift report: the page's figures are
    the API's (GET /kpis), from the audit trail."""
    portfolio = seeded.get("/kpis")
    assert portfolio["lead_time_s"]["n"] >= 1 and portfolio["deployments"] >= 1
    page.goto(platform.url + "/")
    page.get_by_role("link", name="Practice").click()
    durations = page.locator("#practice-durations")
    lead = durations.locator("tbody tr").first.locator("td")
    expect(lead.nth(0)).to_contain_text("Lead time")
    expect(lead.nth(3)).to_have_text(str(portfolio["lead_time_s"]["n"]))
    expect(page.locator("#steps-chart rect.bar")).to_have_count(4)
    expect(page.locator("#practice-steps tbody tr")).to_have_count(4)
    deployments = page.locator("#practice-figures tbody tr").first.locator("td")
    expect(deployments.nth(1)).to_have_text(str(portfolio["deployments"]))
    row = page.locator("#practice-models tbody tr", has=page.get_by_role("link", name=MODEL))
    expect(row.locator("td").nth(4)).to_have_text("fresh")
    # the 7-day trend: one table row per period of GET /kpis, the chart's bars where data is
    trend = portfolio["trend"]
    assert trend and trend[-1]["lead_time_n"] >= 1
    for chart, key in (("trend-lead-time", "lead_time_p50"), ("trend-value", "value_realized")):
        rows = page.locator(f"#{chart}-data tbody tr")
        expect(rows).to_have_count(len(trend))
        for i, period in enumerate(trend):
            cells = rows.nth(i).locator("td")
            expect(cells.nth(0)).to_have_text(period["end"][:10])
            if period[key] is None:
                expect(cells.nth(1)).to_have_text("no data")
        with_data = sum(p[key] is not None for p in trend)
        expect(page.locator(f"#{chart} rect.bar")).to_have_count(with_data)
    expect(
        page.locator("#trend-lead-time-data tbody tr").last.locator("td").nth(1)
    ).not_to_have_text("no data")
    runs = seeded.get("/drift/runs?limit=1000")  # the last 24 hours' drift runs, counted
    counts = page.locator("#practice-drift-counts tbody tr").first.locator("td")
    for i, outcome in enumerate(("evaluated", "skipped", "failed", "missed")):
        expect(counts.nth(i)).to_have_text(str(runs["counts"][outcome]))
    _shot(page, "practice")


def test_model_page_draws_drift_over_time(
    platform: LocalPlatform, seeded: Client, page: Page
) -> None:
    page.goto(platform.url + "/")
    page.get_by_role("link", name=MODEL).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(MODEL)
    chart = page.locator("#drift-chart")
    expect(chart.locator("circle.point")).to_have_count(2)
    expect(chart.locator("circle.drifted")).to_have_count(1)
    reports = seeded.get(f"/models/{MODEL}/drift")["items"]
    latest = seeded.get(f"/models/{MODEL}")["latest_drift"]["report_id"]
    assert {r["report_id"] for r in reports} == {
        c.get_attribute("data-report-id") for c in chart.locator("circle").all()
    }
    link = page.locator("#report-link")
    expect(link).to_have_attribute("href", f"/models/{MODEL}/drift/{latest}")
    features = page.locator("#report-features")
    expect(features).to_contain_text("tenure")
    # The verdict's evidence (issue 13): effect size, p-values before and after Holm's
    # correction, the smallest effect the window could detect, and the verdict.
    expect(features.locator("thead th")).to_have_text(
        [
            "Feature",
            "Test",
            "Statistic",
            "Threshold",
            "p-value",
            "Corrected p",
            "Smallest detectable",
            "Verdict",
        ]
    )
    tenure = features.locator("tbody tr", has=page.get_by_role("cell", name="tenure", exact=True))
    cells = tenure.locator("td")
    for column in (4, 5, 6):  # 1,000 rows: every figure is there (none is shown as "—")
        expect(cells.nth(column)).to_have_text(re.compile(r"^[0-9][0-9.e+-]*$"))
    expect(cells.nth(7)).to_have_text("drift")
    expect(page.locator("#aliases")).to_have_text("production → v1")
    expect(page.locator("#versions tbody tr")).to_have_count(2)
    expect(page.locator("#model-card")).to_contain_text(MODEL)
    expect(page.locator("#audit")).to_contain_text("alias.set")
    _shot(page, "model")
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    assert "Drift detected" in report.content()


PERF = "ui-perf"
HOSTILE = '<img src=x onerror="window.pwned=1"> **reviewed**'


@pytest.fixture(scope="module")
def labelled(platform: LocalPlatform) -> Client:
    """A model whose latest report has performance: coin-flip labels against registered
    metrics of 0.81 AUC and 0.9 accuracy (a breach), and a description with HTML in it."""
    alice = Client(url=platform.url, user="alice")
    worth = {"matrix": {"tp": 120, "fp": -15, "tn": 0, "fn": -300}, "unit": "USD"}
    alice.post("/models", model_spec(PERF, description=HOSTILE, value=worth))
    reference = {"instances": reference_rows(500, seed=1)}
    body = register_body(metrics={"auc": 0.81, "accuracy": 0.9}, reference_data=reference)
    alice.post(f"/models/{PERF}/versions", body)
    for _ in range(200):
        if alice.get(f"/models/{PERF}/versions/1")["status"] == "PENDING_APPROVAL":
            break
        time.sleep(0.05)
    alice.as_user("bob").post(
        f"/models/{PERF}/versions/1/decision", {"decision": "approve", "comment": "ok"}
    )
    alice.put(f"/models/{PERF}/aliases/production", {"version": 1})
    start = datetime.now(UTC) - timedelta(seconds=1)
    ids = alice.post(f"/models/{PERF}/predict", {"instances": reference_rows(300, seed=4)})[
        "request_ids"
    ]
    records = [{"request_id": i, "label": n % 2} for n, i in enumerate(ids)]
    alice.post(f"/models/{PERF}/feedback", {"records": records})
    platform.flush()
    window = {
        "start": start.isoformat(),
        "end": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    }
    report = alice.post(f"/models/{PERF}/drift/evaluate", window)
    assert report["performance"]["rows_labelled"] == 300, report["performance"]
    return alice


def test_model_page_shows_metrics_as_a_table_and_renders_the_card(
    platform: LocalPlatform, labelled: Client, page: Page
) -> None:
    page.goto(platform.url + f"/#/models/{PERF}")
    metrics = page.locator("#performance-metrics")
    expect(metrics.locator("thead th")).to_have_text(
        ["Metric", "Registered", "Current", "Change", "Breach"]
    )
    auc = metrics.locator("tbody tr", has=page.get_by_role("cell", name="roc_auc", exact=True))
    expect(auc.locator("td").nth(1)).to_have_text("0.810")
    expect(auc.locator("td").nth(4)).to_contain_text("breach")
    accuracy = metrics.locator("tbody tr", has=page.get_by_role("cell", name="accuracy"))
    expect(accuracy.locator("td").nth(3)).to_contain_text("\u2212")  # a drop
    expect(page.locator("#performance dl.kv > dt", has_text="metrics")).to_have_count(0)
    # The value matrix applied to the window's outcomes: coin-flip labels, 300 rows.
    expect(page.locator("#performance-value")).to_contain_text("Realized value:")
    expect(page.locator("#performance-value")).to_contain_text("USD")
    counts = page.locator("#performance-value-counts tbody td:nth-child(2)")
    assert sum(int(t.replace(",", "")) for t in counts.all_inner_texts()) == 300

    card = page.locator("#model-card")
    expect(card.locator("h3")).to_have_text(f"Model card: {PERF} v1")
    expect(card.locator("h4").first).to_be_visible()
    assert card.locator("table").count() >= 3
    expect(card).not_to_contain_text("|---|")
    expect(card).not_to_contain_text("## ")
    # HTML in a card is text: no element made from it, no script run.
    expect(card).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(card.locator("img")).to_have_count(0)
    expect(card.locator("strong", has_text="reviewed")).to_have_count(1)
    assert page.evaluate("window.pwned") is None
    _shot(page, "model-performance")


def test_registrant_gets_no_buttons_and_the_api_refuses(
    platform: LocalPlatform, seeded: Client, page: Page
) -> None:
    page.goto(platform.url + "/#/approvals")
    _act_as(page, "alice")
    card = page.locator(f"#approval-{MODEL}-2")
    expect(card).to_contain_text("You registered this version")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    expect(card.get_by_role("button", name="Reject")).to_have_count(0)
    with pytest.raises(ApiError) as refused:
        seeded.post(f"/models/{MODEL}/versions/2/decision", {"decision": "approve", "comment": "x"})
    assert refused.value.status == 403


def test_caller_without_the_role_sees_the_403_message(
    platform: LocalPlatform, seeded: Client, page: Page
) -> None:
    page.goto(platform.url + "/#/approvals")
    _act_as(page, "viewer")
    card = page.locator(f"#approval-{MODEL}-2")
    card.get_by_label("Comment (required)").fill("looks fine to me")
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_contain_text("403")
    expect(card.get_by_role("status")).to_contain_text("Refused")
    assert seeded.get(f"/models/{MODEL}/versions/2")["status"] == "PENDING_APPROVAL"


def test_approver_reviews_evidence_and_approves_by_keyboard(
    platform: LocalPlatform, seeded: Client, page: Page
) -> None:
    page.goto(platform.url + "/#/approvals")
    _act_as(page, "bob")
    card = page.locator(f"#approval-{MODEL}-2")
    metrics = card.get_by_role("table", name="Metrics against the production champion")
    expect(metrics).to_contain_text("0.860")  # the candidate
    expect(metrics).to_contain_text("0.810")  # the champion
    expect(metrics).to_contain_text("+0.050")
    expect(card.get_by_role("table", name="Reference profile: 200 rows")).to_contain_text("plan")
    expect(card.get_by_role("table", name="Validation checks")).to_be_visible()

    approve = card.get_by_role("button", name="Approve")
    approve.click()  # no comment: the browser refuses to send it
    assert seeded.get(f"/models/{MODEL}/versions/2")["status"] == "PENDING_APPROVAL"
    _shot(page, "approvals")

    comment = card.get_by_label("Comment (required)")
    comment.focus()
    page.keyboard.type("AUC up 0.05 on the holdout; profile matches v1")
    page.keyboard.press("Tab")  # past the hint, onto Approve
    expect(approve).to_be_focused()
    page.keyboard.press("Enter")
    expect(card.get_by_role("status")).to_contain_text("APPROVED")
    version = seeded.get(f"/models/{MODEL}/versions/2")
    assert version["status"] == "APPROVED" and version["approvals"][-1]["actor"] == "bob"

    page.goto(platform.url + f"/#/models/{MODEL}")
    audit = page.locator("#audit tbody tr", has_text="version.approved")
    expect(audit.last).to_contain_text("bob")
    expect(audit.last).to_contain_text("AUC up 0.05")
    _shot(page, "audit")


def test_export_evidence_from_the_model_page_and_the_inbox(
    platform: LocalPlatform, seeded: Client, page: Page
) -> None:
    from steward.packs import verify

    page.goto(platform.url + f"/#/models/{MODEL}")
    _act_as(page, "alice")
    with page.expect_download() as started:
        page.get_by_role("button", name="Export evidence").click()
    download = started.value
    assert download.suggested_filename.startswith(f"{MODEL}-evidence-")
    assert verify(Path(download.path()).read_bytes()).ok
    expect(page.locator("#evidence-status")).to_contain_text("Saved")
    page.fill("#evidence-at", "2020-01-01T00:00:00")  # before the model existed
    page.get_by_role("button", name="Export evidence").click()
    expect(page.locator("#evidence-status")).to_contain_text("Refused")

    seeded.post(f"/models/{MODEL}/versions", register_body(metrics={"auc": 0.84}))
    _until_pending(seeded, 3)
    # a pack's default `at` is now to the second: let the second of the validation pass
    time.sleep(1.05)
    page.goto(platform.url + "/#/approvals")
    _act_as(page, "carol")
    with page.expect_download() as started:
        page.locator(f"#pack-{MODEL}-3").click()
    import io
    import zipfile

    draft = Path(started.value.path()).read_bytes()
    assert verify(draft).ok
    with zipfile.ZipFile(io.BytesIO(draft)) as pack:
        assert "versions/3/validation.json" in pack.namelist()  # the candidate, as of now
