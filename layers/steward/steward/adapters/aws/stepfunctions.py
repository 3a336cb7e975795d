"""Step Functions adapters: the approval and retrain workflows, the distributed drift run."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code
from steward.domain.errors import DependencyUnavailable, NotFound
from steward.ports import (
    WorkflowEngine,
)
from steward.ports.monitoring import (
    RUN_FAILED,
    DriftRuns,
    RunStatus,
)

SCAN_PAGES = 5  # executions listed per state machine: 5,000 at most


RERUNS = 20  # names tried for one drift window (a start per name) before a unique one


# StartExecution's answers to a caller over its token bucket (or the open executions' quota).
THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException", "ExecutionLimitExceeded"})

# Step Functions says so when a task token no longer waits.
GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctionsEngine(WorkflowEngine):
    """:class:`~steward.ports.WorkflowEngine` on Step Functions."""

    def __init__(self, client: Any, approval_arn: str, retrain_arn: str = "") -> None:
        self._sfn = client
        self._approval_arn = approval_arn
        self._retrain_arn = retrain_arn

    def approval_id(self, name: str, version: int) -> str:
        return f"{self._approval_arn.replace(':stateMachine:', ':execution:')}:{name}-v{version}"

    def start_approval(self, name: str, version: int) -> str:
        try:  # one execution per version, named after it: starting twice is harmless
            result = self._sfn.start_execution(
                stateMachineArn=self._approval_arn,
                name=f"{name}-v{version}",
                input=json.dumps({"name": name, "version": version}),
            )
            return str(result["executionArn"])
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return self.approval_id(name, version)
            raise

    def resume(self, token: str, output: dict[str, Any]) -> None:
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if error_code(exc) in GONE:
                return  # the workflow already moved on (expired or ended): nothing to resume
            raise

    def heartbeat(self, token: str) -> bool:
        try:
            self._sfn.send_task_heartbeat(taskToken=token)
        except ClientError as exc:
            if error_code(exc) in GONE:
                return False
            raise
        return True

    def executions(self, name: str, limit: int) -> list[dict[str, Any]]:
        """Executions are named after the model (``<name>-v<n>``, ``<name>-<trigger>-...``);
        at most ``SCAN_PAGES`` pages of each machine are read, newest first."""
        found: list[dict[str, Any]] = []
        machines = (("approval", self._approval_arn), ("retrain", self._retrain_arn))
        for kind, arn in machines:
            if not arn:
                continue
            kwargs: dict[str, Any] = {"stateMachineArn": arn, "maxResults": 1000}
            for _ in range(SCAN_PAGES):
                page = self._sfn.list_executions(**kwargs)
                for item in page["executions"]:
                    if item["name"].startswith(f"{name}-"):
                        found.append(
                            {
                                "kind": kind,
                                "name": item["name"],
                                "status": item["status"],
                                "started": item["startDate"].isoformat(),
                                "stopped": item["stopDate"].isoformat()
                                if item.get("stopDate")
                                else None,
                                **self._failure(item),
                            }
                        )
                if not (token := page.get("nextToken")):
                    break
                kwargs["nextToken"] = token
        found.sort(key=lambda e: e["started"], reverse=True)
        return found[:limit]

    def _failure(self, item: dict[str, Any]) -> dict[str, Any]:
        """A failed execution's error and cause as its own Fail state set them (a step's
        raw error never reaches the execution: the machines catch every one)."""
        if item["status"] != "FAILED":
            return {}
        found = self._sfn.describe_execution(executionArn=item["executionArn"])
        return {"error": found.get("error"), "cause": found.get("cause")}

    def start_retrain(self, name: str, run: str, payload: dict[str, Any]) -> str:
        if not self._retrain_arn:
            raise RuntimeError("environment variable STEWARD_RETRAIN_STATE_MACHINE_ARN is not set")
        try:
            result = self._sfn.start_execution(
                stateMachineArn=self._retrain_arn, name=run, input=json.dumps(payload)
            )
            return str(result["executionArn"])
        except ClientError as exc:  # the same name: running (same input) or closed
            if error_code(exc) == "ExecutionAlreadyExists":
                execution = self._retrain_arn.replace(":stateMachine:", ":execution:")
                return f"{execution}:{run}"
            raise


class StepFunctionsDriftRuns(DriftRuns):
    """:class:`~steward.ports.monitoring.DriftRuns` on the distributed drift state machine.

    The execution is named after the run (the window), with the same input for the same
    name. Step Functions answers a start of a running execution's name and input with that
    execution, and ``ExecutionAlreadyExists`` only when it has closed (names are kept 90
    days): then the window is run again under the next name, ``<model>-<run>-1``, ``-2``...
    So starting a window while it runs joins that run, and starting it after it finished
    (or failed) runs it again, as an inline evaluation would; both write the same report."""

    def __init__(self, client: Any, state_machine_arn: str, reruns: int = RERUNS) -> None:
        self._sfn = client
        self._arn = state_machine_arn
        self._reruns = reruns

    def start(self, model: str, start: str, end: str, run_id: str) -> str:
        payload = json.dumps({"model": model, "start": start, "end": end})
        for attempt in range(self._reruns):
            try:
                return self._start(execution_name(model, run_id, attempt), payload)
            except ClientError as exc:
                if error_code(exc) != "ExecutionAlreadyExists":  # closed: run it again
                    raise
        # Run that often within 90 days: a name of its own (no longer joins a running one).
        return self._start(execution_name(model, run_id, time.time_ns()), payload)

    def _start(self, name: str, payload: str) -> str:
        result = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=payload)
        return str(result["executionArn"])

    def start_scheduled(self, model: str, scheduled_at: datetime) -> str:
        """One execution per firing, named after it (``<model>-s<yyyymmddThhmm>``): a firing
        delivered again joins its running execution or, closed, is already done."""
        name = scheduled_name(model, scheduled_at)
        at = scheduled_at.astimezone(UTC).isoformat()
        try:
            return self._start(name, json.dumps({"model": model, "scheduled_at": at}))
        except ClientError as exc:
            code = error_code(exc)
            if code == "ExecutionAlreadyExists":
                return f"{self._executions}:{name}"
            if code in THROTTLED:
                raise DependencyUnavailable(f"starting drift runs is throttled ({code})") from None
            raise

    def status(self, model: str, run_id: str) -> RunStatus:
        """Describe the window's names in the order :meth:`start` takes them, up to the first
        that never ran, and keep the latest started (a name freed after 90 days is taken
        again); past the reruns, the unique names are found by listing the executions."""
        found: list[dict[str, Any]] = []
        for attempt in range(self._reruns):
            described = self._describe(
                f"{self._executions}:{execution_name(model, run_id, attempt)}"
            )
            if described is None:
                break
            found.append(described)
        else:
            found += self._unique(run_id)
        if not found:
            raise NotFound(f"no drift run {run_id} for {model}")
        latest = max(found, key=lambda e: e["startDate"])
        own = latest.get("error") == RUN_FAILED  # never a step's error or its text
        status = latest["status"]
        return RunStatus(
            report_id=run_id,
            model=model,
            status="RUNNING" if status == "PENDING_REDRIVE" else status,
            started_at=latest["startDate"],
            stopped_at=latest.get("stopDate"),
            execution=latest["executionArn"],
            error=RUN_FAILED if own else None,
            cause=latest.get("cause") if own else None,
        )

    @property
    def _executions(self) -> str:
        return self._arn.replace(":stateMachine:", ":execution:", 1)

    def _describe(self, arn: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn", "InvalidName"):
                return None
            raise
        return found

    def _unique(self, run_id: str) -> list[dict[str, Any]]:
        """The window's time-suffixed executions in the newest ``SCAN_PAGES`` pages."""
        kwargs: dict[str, Any] = {"stateMachineArn": self._arn, "maxResults": 1000}
        named: list[dict[str, Any]] = []
        for _ in range(SCAN_PAGES):
            page = self._sfn.list_executions(**kwargs)
            named += [e for e in page["executions"] if f"-{run_id}-" in e["name"]]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        if not named:
            return []
        latest = self._describe(max(named, key=lambda e: e["startDate"])["executionArn"])
        return [latest] if latest is not None else []


def execution_name(model: str, run_id: str, attempt: int = 0) -> str:
    """``<model>-<run>``, then ``<model>-<run>-<attempt>``: the model is cut to fit Step
    Functions' 80 characters, never the run id (which tells the windows apart)."""
    suffix = f"-{run_id}" + (f"-{attempt}" if attempt else "")
    return model[: 80 - len(suffix)] + suffix


def scheduled_name(model: str, scheduled_at: datetime) -> str:
    """``<model>-s<yyyymmddThhmm>`` (UTC): at most 63 + 15 characters, under Step Functions'
    80, and one name per firing (EventBridge Scheduler fires to the minute)."""
    return f"{model}-s{scheduled_at.astimezone(UTC):%Y%m%dT%H%M}"
