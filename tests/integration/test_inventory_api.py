"""GET /models filters over the API function (moto): the query string is validated (400 on a
bad filter), ``tag`` repeats, and pages resume with ``next_token``."""

from __future__ import annotations

import uuid

from tests.factories import model_spec
from tests.integration.conftest import Stack
from tests.integration.support import api


def test_filters_over_http_with_repeated_tags_and_paging(stack: Stack) -> None:
    run = uuid.uuid4().hex[:6]
    for i, (team, tier) in enumerate([("crm", "high"), ("crm", "medium"), ("ops", "high")]):
        spec = model_spec(f"inv{run}-{i}", tags={"run": run, "team": team}, risk_tier=tier)
        code, body = api(stack, "POST", "/models", spec, user="admin")
        assert code == 201, body
    code, body = api(stack, "GET", f"/models?tag=run:{run}&tag=team:crm&limit=1")
    assert code == 200 and [m["name"] for m in body["items"]] == [f"inv{run}-0"]
    code, body = api(
        stack, "GET", f"/models?tag=run:{run}&tag=team:crm&limit=1&next_token={body['next_token']}"
    )
    assert code == 200 and [m["name"] for m in body["items"]] == [f"inv{run}-1"]
    assert body["next_token"] is None
    code, body = api(stack, "GET", f"/models?tag=run:{run}&risk_tier=high&q=INV{run}&limit=1000")
    assert [m["name"] for m in body["items"]] == [f"inv{run}-0", f"inv{run}-2"]


def test_bad_filters_are_400_naming_the_filter(stack: Stack) -> None:
    for query, field in [
        ("risk_tier=extreme", "risk_tier"),
        ("drift=maybe", "drift"),
        ("status=LIVE", "status"),
        ("task=ranking", "task"),
        ("tag=no-colon", "tag"),
        ("next_token=bm90LWEtdG9rZW4", "next_token"),
    ]:
        code, body = api(stack, "GET", f"/models?{query}")
        assert code == 400, (query, body)
        assert field in body["message"], (query, body)
    code, _ = api(stack, "GET", "/models?limit=1001")
    assert code == 422
