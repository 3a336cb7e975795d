"""The steps of a drift run as the drift function performs them: scheduled (plan, then one
batch inline or a distributed run), plan, map (one batch -> its drift partial and its
predictions joined with the window's labels), reduce (child results -> the report), and
evaluate (a whole window inline). :meth:`DriftJobs.run` is the one place that decides
between inline and distributed, for the schedule and the API alike.

A plan is kept as a scratch object (``drift/_runs/<model>/<run>/plan.json``) and the map's
items are only batch numbers, so that the state machine's payloads stay small whatever the
number of files. A child returns its result inline when it fits its share of the 256 KB
payload budget, else writes it next to the plan and returns the key.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce as fold
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from steward.domain.errors import Conflict, NotFound
from steward.domain.models import ModelName
from steward.drift import partials
from steward.drift.partials import Child
from steward.drift.report import DriftReport
from steward.drift.service import DriftService, Run
from steward.ports.monitoring import (
    DriftRuns,
    RunStatus,
    RunStore,
    summary_of,
)

RUNS_PREFIX = "drift/_runs"
INLINE_BUDGET = 160 * 1024  # of Step Functions' 256 KB, for all children's inline results
RUN_ID = re.compile(r"[0-9a-f]{16}")
# Why a scheduled firing evaluated nothing (the portfolio view counts these as skipped).
NOT_IN_PRODUCTION = "not_in_production"
NO_LOGS = "no_logs"
RunId = Annotated[str, Field(pattern=rf"^{RUN_ID.pattern}$")]


def _iso(value: str | datetime | None) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


@dataclass(frozen=True)
class Started:
    """A distributed run of a window: started, or joined while it runs."""

    run: Run
    execution: str
    at: datetime  # its report is created after this (a rerun replaces an older one)


class DriftJobs:
    def __init__(
        self, service: DriftService, scratch: RunStore, runs: DriftRuns | None = None
    ) -> None:
        self.service = service
        self.scratch = scratch
        self.runs = runs

    @staticmethod
    def _base(model: str, run_id: str) -> str:
        return f"{RUNS_PREFIX}/{model}/{run_id}"

    def run(
        self,
        model: str,
        start: datetime | None = None,
        end: datetime | None = None,
        inline_rows: int | None = None,
    ) -> DriftReport | Started:
        """Evaluate the window (default: the policy's, up to now) here when it is one batch
        (of at most ``inline_rows``) or there is no state machine to spread it on; else start
        the distributed run, whose report gets the run's id (a rerun replaces it)."""
        if self.runs is None:  # nowhere to spread it: no need to read the footers
            return self.service.evaluate(model, start, end)
        started = time.perf_counter()
        run = self.service.plan(model, start, end)
        if len(run.batches) <= 1 and (inline_rows is None or run.rows <= inline_rows):
            child = self.service.evaluate_keys(run, run.keys)
            return self.service.finish(run, child, time.perf_counter() - started)
        at = self.service.clock()
        execution = self.runs.start(model, run.start.isoformat(), run.end.isoformat(), run.run_id)
        return Started(run, execution, at)

    def status(self, model: str, run_id: str) -> RunStatus:
        """The window's latest distributed run; :class:`NotFound` for an id that names no
        run (or with no state machine to run one)."""
        if self.runs is None or not RUN_ID.fullmatch(run_id):
            raise NotFound(f"no drift run {run_id} for {model}")
        return self.runs.status(model, run_id)

    def scheduled(self, model: str) -> dict[str, Any]:
        """The schedule's target: the policy's window up to now, as :meth:`run` decides.

        A model with nothing in production yet is skipped, not failed: its schedule exists
        from creation, and a failure would retry, dead-letter and alarm every hour."""
        try:
            outcome = self.run(model)
        except Conflict as exc:
            return {"mode": "skipped", "model": model, "reason": exc.message}
        if isinstance(outcome, Started):
            return {
                "mode": "distributed",
                "run": outcome.run.run_id,
                "batches": len(outcome.run.batches),
                "execution": outcome.execution,
            }
        return {"mode": "inline", **summary_of(outcome.model_dump(mode="json"))}

    def evaluate(
        self, model: str, start: str | datetime | None, end: str | datetime | None
    ) -> dict[str, Any]:
        result = self.service.evaluate(model, _iso(start), _iso(end))
        return summary_of(result.model_dump(mode="json"))

    def plan(
        self,
        model: str,
        start: str | datetime | None,
        end: str | datetime | None,
        scheduled: bool = False,
    ) -> dict[str, Any]:
        """The run's plan, kept for its children. A ``scheduled`` firing (the policy's window
        up to ``end``) of a model with nothing in production, or with no prediction logs in
        the window, is skipped (``{"skipped": reason}``), not failed and not reported: at ten
        thousand models most idle windows would otherwise write an empty report each."""
        try:
            run = self.service.plan(model, _iso(start), _iso(end))
        except Conflict as exc:
            if not scheduled:
                raise
            return self._skipped(model, end, NOT_IN_PRODUCTION, exc.message)
        if scheduled and not run.keys:
            return self._skipped(model, end, NO_LOGS, "no prediction logs in the window")
        doc = {**run.to_json(), "planned_at": self.service.clock().isoformat()}
        self.scratch.put(f"{self._base(model, run.run_id)}/plan.json", json.dumps(doc).encode())
        count = len(run.batches)
        return {
            "model": model,
            "run": run.run_id,
            "start": run.start.isoformat(),
            "end": run.end.isoformat(),
            "count": count,
            "files": len(run.keys),
            "items": [{"batch": i} for i in range(count)],
            "inline_bytes": INLINE_BUDGET // max(count, 1),
        }

    def _skipped(
        self, model: str, end: str | datetime | None, code: str, reason: str
    ) -> dict[str, Any]:
        at = self.service.clock().isoformat()
        window_end = _iso(end)
        self.service.reports.note_run(
            model,
            {
                "outcome": "skipped",
                "at": at,
                "window_end": window_end.isoformat() if window_end else at,
                "reason": code,
            },
        )
        return {"model": model, "skipped": code, "reason": reason}

    def failed(self, model: str, execution: str, error: str | None) -> dict[str, Any]:
        """The state machine's catch: the run failed (``error``: the state machine's name
        of it, never a step's text); the portfolio view shows it until the next run."""
        run = {
            "outcome": "failed",
            "at": self.service.clock().isoformat(),
            "execution": execution,
            "reason": error or "failed",
        }
        self.service.reports.note_run(model, run)
        return {"model": model, "failed": execution}

    def _load(self, model: str, run_id: str) -> tuple[Run, dict[str, Any]]:
        doc = json.loads(self.scratch.get(f"{self._base(model, run_id)}/plan.json"))
        return Run.from_json(doc), doc

    def map(self, model: str, run_id: str, batch: int, inline_bytes: int) -> dict[str, str]:
        run, _ = self._load(model, run_id)
        data = partials.dumps(self.service.evaluate_keys(run, run.batches[batch]))
        if len(data) <= inline_bytes:
            return {"partial": base64.b64encode(data).decode()}
        key = f"{self._base(model, run_id)}/part-{batch:05d}.json.gz"
        self.scratch.put(key, data)
        return {"key": key}

    def _child(self, result: dict[str, str]) -> Child:
        if "partial" in result:
            return partials.loads(base64.b64decode(result["partial"]))
        return partials.loads(self.scratch.get(result["key"]))

    def reduce(self, model: str, run_id: str, results: Iterable[dict[str, str]]) -> dict[str, Any]:
        run, doc = self._load(model, run_id)
        merged = fold(Child.merge, (self._child(r) for r in results), Child())
        seconds = (self.service.clock() - datetime.fromisoformat(doc["planned_at"])).total_seconds()
        result = self.service.finish(run, merged, seconds)
        return summary_of(result.model_dump(mode="json"))

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Dispatch one invocation; a bare ``{"model": name}`` is the schedule's."""
        step = _EVENTS.validate_python({"task": "scheduled", **event})
        if isinstance(step, Scheduled):
            return self.scheduled(step.model)
        if isinstance(step, Evaluate):
            return self.evaluate(step.model, step.start, step.end)
        if isinstance(step, Plan):
            return self.plan(step.model, step.start, step.end, step.scheduled)
        if isinstance(step, MapChild):
            return self.map(step.model, step.run, step.batch, step.inline_bytes)
        if isinstance(step, Failed):
            return self.failed(step.model, step.execution, step.error)
        return self.reduce(
            step.model, step.run, [r.model_dump(exclude_none=True) for r in step.results]
        )


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ModelName


class Scheduled(_Step):
    task: Literal["scheduled"]


class Evaluate(_Step):
    task: Literal["evaluate"]
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None


class Plan(_Step):
    task: Literal["plan"]
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    scheduled: bool = False  # a schedule's firing: the policy's window up to ``end``


class MapChild(_Step):
    task: Literal["map"]
    run: RunId
    batch: int = Field(ge=0)
    inline_bytes: int = Field(ge=0)


class Failed(_Step):
    task: Literal["failed"]
    execution: str = Field(max_length=80)
    error: str | None = Field(default=None, max_length=256)


class ChildResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partial: str | None = None
    key: str | None = Field(default=None, pattern=rf"^{RUNS_PREFIX}/")

    @model_validator(mode="after")
    def _one(self) -> ChildResult:
        if (self.partial is None) == (self.key is None):
            raise ValueError("a child result is a partial or a key")
        return self


class Reduce(_Step):
    task: Literal["reduce"]
    run: RunId
    results: list[ChildResult]


Step = Scheduled | Evaluate | Plan | MapChild | Reduce | Failed
_EVENTS: TypeAdapter[Step] = TypeAdapter(Annotated[Step, Field(discriminator="task")])
