"""Drift: evaluate a window now, follow its distributed run, list reports, read one (JSON,
or HTML for people)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict

from steward.api.context import caller
from steward.api.params import query_time
from steward.domain.identity import Role
from steward.drift.portfolio import Portfolio, portfolio
from steward.drift.report import DriftReport
from steward.ports.monitoring import RunStatus
from steward.wiring import drift, drift_jobs

# What the API function (1 GB, behind API Gateway's 29 s) evaluates itself: at the measured
# 0.5-0.7 M rows/s per core, a few seconds on its ~0.6 vCPU. A larger window of one batch
# goes to the state machine too, whose drift function (3 GB, 15 min) evaluates it inline.
API_INLINE_ROWS = 1_000_000

router = Router()


class EvaluateWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None


class ReportList(BaseModel):
    items: list[dict[str, Any]]
    next_token: str | None = None


class ReportWindow(BaseModel):
    start: str
    end: str


class RunLinks(BaseModel):
    report: str
    run: str


class RunStarted(BaseModel):
    """A window too large for one function, evaluated by the distributed run. Its report
    appears at ``Location`` (``links.report``) when the run's reduce step has kept it (404
    until then; for a rerun, the window's earlier report until this one, created after
    ``started_at``); ``links.run`` says whether the run still runs, or failed."""

    report_id: str
    model: str
    window: ReportWindow
    status: Literal["running"] = "running"
    batches: int
    execution: str
    started_at: str
    links: RunLinks


@router.post(
    "/models/<name>/drift/evaluate",
    summary="Evaluate drift over a window now",
    responses={
        200: {
            "description": "The report, when the window fits one function",
            "content": {"application/json": {"model": DriftReport}},
        },
        202: {
            "description": "Evaluating in the distributed run (the window has more than one "
            "batch, or over a million rows); poll GET Location for the report",
            "headers": {
                "Location": {
                    "description": "The report's path: GET it until it is there",
                    "schema": {"type": "string"},
                }
            },
            "content": {"application/json": {"model": RunStarted}},
        },
    },
)
def evaluate(name: str, window: EvaluateWindow | None = None) -> Response[str]:
    caller(router).require(Role.DATA_SCIENTIST, Role.APPROVER)
    start: datetime | None = window.start if window else None
    end: datetime | None = window.end if window else None
    outcome = drift_jobs().run(name, start, end, inline_rows=API_INLINE_ROWS)
    if isinstance(outcome, DriftReport):
        return Response(200, "application/json", outcome.model_dump_json())
    run = outcome.run
    location = f"/models/{name}/drift/{run.run_id}"
    started = RunStarted(
        report_id=run.run_id,
        model=name,
        window=ReportWindow(start=run.start.isoformat(), end=run.end.isoformat()),
        batches=len(run.batches),
        execution=outcome.execution,
        started_at=outcome.at.isoformat(),
        links=RunLinks(report=location, run=f"/models/{name}/drift/runs/{run.run_id}"),
    )
    return Response(
        202, "application/json", started.model_dump_json(), headers={"Location": location}
    )


@router.get(
    "/models/<name>/drift/runs/<report_id>",
    summary="The distributed run of a window: running, succeeded, failed, timed out, aborted",
)
def run_status(name: str, report_id: str) -> RunStatus:
    return drift_jobs().status(name, report_id)


@router.get("/models/<name>/drift", summary="Drift reports, newest first")
def reports(
    name: str, limit: Annotated[int, Query(ge=1, le=200)] = 50, next_token: str | None = None
) -> ReportList:
    page = drift().list(name, limit, next_token)
    return ReportList(items=page.items, next_token=page.next_token)


@router.get(
    "/models/<name>/drift/<report_id>",
    summary="One report (Accept: text/html)",
    responses={
        200: {
            "description": "The report as JSON, or the human report when Accept asks for HTML",
            "content": {
                "application/json": {"model": DriftReport},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
def report(name: str, report_id: str) -> Response[str]:
    if "text/html" in (router.current_event.headers.get("accept") or ""):
        return Response(200, "text/html; charset=utf-8", drift().get(name, report_id, "html"))
    body = drift().get(name, report_id)
    json.loads(body)  # stored by us; fail loudly rather than serve something else
    return Response(200, "application/json", body)


@router.get(
    "/drift/runs",
    summary="The portfolio's drift runs over a period: evaluated, skipped, failed or missed",
    description=(
        "For each model of a page of the inventory (name order, `limit` a page, "
        "`next_token` to go on), how its latest drift run in `[since, until]` ended: "
        "`evaluated` (with its report), `skipped` (`no_logs`, `not_in_production`, or "
        "`not_due`: its schedule does not fire in the period), `failed` (the run's error), "
        "or `missed` (due, and no run recorded: queued or dead-lettered). `since` defaults "
        "to 24 hours before `until` (default: now); a period spans at most 31 days. "
        "`counts` are of the page."
    ),
)
def portfolio_runs(
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: str | None = None,
) -> Portfolio:
    end = query_time(until, "until") or datetime.now(UTC)
    start = query_time(since, "since") or end - timedelta(hours=24)
    jobs = drift_jobs()
    return portfolio(jobs.service.store, jobs.service.reports, start, end, limit, next_token)
