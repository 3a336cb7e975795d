"""Practice KPIs over HTTP on the moto stack: the figures equal what this test measures
from its own clock around the same actions; the periodic review is an approver's action."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.factories import model_spec, register_body
from tests.integration.conftest import Stack
from tests.integration.support import api, wait_status


def test_kpis_match_the_clock_around_the_lifecycle(stack: Stack) -> None:
    name = "kpi-a"
    assert api(stack, "POST", "/models", model_spec(name))[0] == 201
    registered_before = time.time()
    code, _ = api(stack, "POST", f"/models/{name}/versions", register_body())
    registered_after = time.time()
    assert code == 201
    wait_status(stack, name, 1, "PENDING_APPROVAL")
    pending_seen = time.time()
    time.sleep(1.0)  # the approver takes a second
    decision = {"decision": "approve", "comment": "ok"}
    decided_before = time.time()
    assert api(stack, "POST", f"/models/{name}/versions/1/decision", decision, user="bob")[0] == 200
    decided_after = time.time()
    code, _ = api(stack, "PUT", f"/models/{name}/aliases/production", {"version": 1})
    deployed_after = time.time()
    assert code == 200

    code, found = api(stack, "GET", f"/models/{name}/kpis")
    assert code == 200
    lead = found["lead_time_s"]
    assert lead["n"] == 1
    assert decided_before - registered_after <= lead["p50"] <= deployed_after - registered_before
    wait = found["approval_wait_s"]["p50"]
    assert decided_before - pending_seen <= wait <= decided_after - registered_before
    assert found["deployments"] == 1 and found["rollbacks"] == 0
    assert found["monitored_share"] == 1.0 and found["fresh_report_share"] == 0.0
    assert [s["step"] for s in found["steps"]] == [
        "to_validation",
        "validation",
        "approval_wait",
        "to_production",
    ]

    code, portfolio = api(stack, "GET", "/kpis")
    assert code == 200 and portfolio["deployments"] >= 1
    assert portfolio["lead_time_s"]["n"] >= 1

    later = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    code, empty = api(stack, "GET", f"/models/{name}/kpis?until={later}")
    assert code == 200 and empty["deployments"] == 0 and empty["lead_time_s"]["n"] == 0
    assert api(stack, "GET", f"/models/{name}/kpis?since=yesterday")[0] == 422
    assert api(stack, "GET", "/models/nope/kpis")[0] == 404


def test_the_review_is_an_approvers_audited_action(stack: Stack) -> None:
    name = "kpi-review"
    assert api(stack, "POST", "/models", model_spec(name))[0] == 201
    body = {"comment": "policy, reports and use reviewed"}
    assert api(stack, "POST", f"/models/{name}/review", body, user="alice")[0] == 403
    code, event = api(stack, "POST", f"/models/{name}/review", body, user="bob")
    assert code == 200 and event["action"] == "model.reviewed" and event["actor"] == "bob"
    code, trail = api(stack, "GET", f"/models/{name}/audit")
    assert trail["items"][-1]["action"] == "model.reviewed"
