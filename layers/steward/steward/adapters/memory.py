"""In-memory fakes of every port, for unit tests and the contract suite."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from steward.domain.audit import AuditEvent
from steward.domain.errors import AlreadyExists, Conflict, NotFound, ValidationFailed
from steward.domain.inventory import IndexBackfill, ModelFilter, decode_after, encode_after
from steward.domain.models import Model, ModelVersion, Page, Status, page_offset
from steward.ports import (
    ArtifactStore,
    AuditLog,
    LogSink,
    ModelStore,
    WorkflowEngine,
)
from steward.ports.audit import AuditCopy, copy_key, parse_copy_key
from steward.ports.logs import batch_records
from steward.ports.monitoring import (
    RUN_FAILED,
    DriftRuns,
    EventBus,
    LogFiles,
    ReportStore,
    RunStatus,
    RunStore,
    Schedules,
    listing_of,
)

if TYPE_CHECKING:
    from steward.drift.runs import DriftJobs

T = TypeVar("T")


def _page(items: list[T], limit: int, token: str | None) -> Page[T]:
    start = page_offset(token)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return Page(items=chunk, next_token=str(start + limit) if more else None)


class MemoryModelStore(ModelStore):
    def __init__(self) -> None:
        self._models: dict[str, Model] = {}
        self._versions: dict[tuple[str, int], ModelVersion] = {}
        self._tokens: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def create_model(self, model: Model) -> None:
        with self._lock:
            if model.name in self._models:
                raise AlreadyExists(f"model {model.name} exists")
            self._models[model.name] = model.model_copy(deep=True)

    def get_model(self, name: str) -> Model:
        try:
            return self._models[name].model_copy(deep=True)
        except KeyError:
            raise NotFound(f"no model {name}") from None

    def list_models(
        self, limit: int, token: str | None, where: ModelFilter | None = None
    ) -> Page[Model]:
        where = where or ModelFilter()
        after = decode_after(token, where)
        with self._lock:
            names = sorted(n for n in self._models if after is None or n > after)
            found: list[Model] = []
            for name in names:
                if where.matches(self._models[name]):
                    found.append(self._models[name].model_copy(deep=True))
                    if len(found) == limit + 1:
                        break
        more = len(found) > limit
        found = found[:limit]
        return Page(items=found, next_token=encode_after(found[-1].name, where) if more else None)

    def backfill_index(self, limit: int, token: str | None) -> IndexBackfill:
        """No index to fill: the fake filters its models directly."""
        where = ModelFilter()
        after = decode_after(token, where)
        with self._lock:
            names = sorted(n for n in self._models if after is None or n > after)
        page = names[:limit]
        more = len(names) > limit
        return IndexBackfill(
            examined=len(page), next_token=encode_after(page[-1], where) if more else None
        )

    def save_model(self, model: Model, expected_rev: int) -> Model:
        with self._lock:
            current = self._models.get(model.name)
            if current is None:
                raise NotFound(f"no model {model.name}")
            if current.rev != expected_rev:
                raise Conflict(f"model {model.name} changed meanwhile; retry")
            saved = model.model_copy(
                update={"rev": expected_rev + 1, "latest_version": current.latest_version},
                deep=True,
            )
            self._models[model.name] = saved
            return saved.model_copy(deep=True)

    def add_version(self, version: ModelVersion) -> None:
        with self._lock:
            model = self._models.get(version.name)
            if model is None:
                raise NotFound(f"no model {version.name}")
            key = (version.name, version.version)
            if model.latest_version != version.version - 1 or key in self._versions:
                raise Conflict(f"version {version.version} of {version.name} was taken")
            self._versions[key] = version.model_copy(deep=True)
            model.latest_version = version.version

    def get_version(self, name: str, version: int) -> ModelVersion:
        try:
            return self._versions[(name, version)].model_copy(deep=True)
        except KeyError:
            raise NotFound(f"no version {version} of {name}") from None

    def list_versions(self, name: str, limit: int, token: str | None) -> Page[ModelVersion]:
        self.get_model(name)
        items = sorted(
            (v for (n, _), v in self._versions.items() if n == name),
            key=lambda v: v.version,
            reverse=True,
        )
        return _page([v.model_copy(deep=True) for v in items], limit, token)

    def save_version(self, version: ModelVersion, expected_status: Status) -> None:
        with self._lock:
            key = (version.name, version.version)
            current = self._versions.get(key)
            if current is None:
                raise NotFound(f"no version {version.version} of {version.name}")
            if current.status is not expected_status:
                raise Conflict(f"version {version.version} is {current.status.value} now")
            self._versions[key] = version.model_copy(deep=True)

    def versions_by_status(
        self, status: Status, limit: int, token: str | None
    ) -> Page[ModelVersion]:
        items = sorted(
            (v for v in self._versions.values() if v.status is status),
            key=lambda v: (v.created_at, v.name, v.version),
        )
        return _page([v.model_copy(deep=True) for v in items], limit, token)

    def put_task_token(self, name: str, version: int, token: str) -> None:
        self._tokens[(name, version)] = token

    def task_token(self, name: str, version: int) -> str | None:
        return self._tokens.get((name, version))

    def take_task_token(self, name: str, version: int) -> str | None:
        with self._lock:
            return self._tokens.pop((name, version), None)


class MemoryAuditCopy(AuditCopy):
    """Write-once: an archived event can be neither changed nor removed."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    def archive(self, event: AuditEvent) -> bool:
        key = copy_key(event)
        if key in self._keys:
            return False
        self._keys.add(key)
        return True

    def digests(self, stream: str) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        for key in self._keys:
            parsed = parse_copy_key(key)
            if parsed and parsed[0] == stream:
                found.setdefault(parsed[1], set()).add(parsed[2])
        return found

    def streams(self) -> list[str]:
        return sorted({p[0] for k in self._keys if (p := parse_copy_key(k))})


class MemoryAuditLog(AuditLog):
    """With ``copy``, every put event is also archived there, as the table's stream does."""

    def __init__(self, copy: MemoryAuditCopy | None = None) -> None:
        self._events: dict[str, list[AuditEvent]] = {}
        self._lock = threading.Lock()
        self.copy = copy

    def head(self, stream: str) -> AuditEvent | None:
        events = self._events.get(stream)
        return events[-1] if events else None

    def put(self, event: AuditEvent) -> None:
        with self._lock:
            events = self._events.setdefault(event.stream, [])
            if len(events) >= event.seq:
                raise Conflict(f"audit event {event.stream}#{event.seq} exists")
            if len(events) != event.seq - 1:
                raise Conflict("audit events must be appended in sequence")
            events.append(event)
        if self.copy is not None:
            self.copy.archive(event)

    def events(self, stream: str, limit: int, token: str | None) -> Page[AuditEvent]:
        return _page(list(self._events.get(stream, [])), limit, token)

    def recent(self, limit: int, token: str | None) -> Page[AuditEvent]:
        everything = [e for events in self._events.values() for e in events]
        everything.sort(key=lambda e: (e.at, e.stream, e.seq), reverse=True)
        return _page(everything, limit, token)

    def streams(self) -> list[str]:
        return sorted(self._events)

    def tamper(self, stream: str, seq: int, **changes: Any) -> None:
        """Test helper: what an attacker with storage access could do."""
        events = self._events[stream]
        events[seq - 1] = events[seq - 1].model_copy(update=changes)

    def truncate(self, stream: str, keep: int) -> None:
        """Test helper: delete every event of ``stream`` after the first ``keep``."""
        del self._events[stream][keep:]


class MemoryArtifactStore(ArtifactStore):
    def __init__(self, bucket: str = "artifacts") -> None:
        self.bucket = bucket
        self._objects: dict[tuple[str, str], bytes] = {}
        self._latest: dict[str, str] = {}

    def put(self, key: str, data: bytes) -> tuple[str, str | None]:
        version_id = hashlib.sha256(data + key.encode() + str(len(self._objects)).encode())
        vid = version_id.hexdigest()[:32]
        uri = f"s3://{self.bucket}/{key}"
        self._objects[(uri, vid)] = bytes(data)
        self._latest[uri] = vid
        return uri, vid

    def get(self, uri: str, version_id: str | None = None) -> bytes:
        vid = version_id or self._latest.get(uri)
        try:
            return self._objects[(uri, vid or "")]
        except KeyError:
            raise NotFound(f"no object at {uri}") from None

    def discard(self, uri: str) -> None:
        self._latest.pop(uri, None)

    def uris_under(self, prefix_uri: str, limit: int) -> list[str]:
        found = sorted(u for u in self._latest if u.startswith(prefix_uri))
        if len(found) > limit:
            raise ValidationFailed(f"{prefix_uri} holds more than {limit} objects")
        return found

    def overwrite(self, uri: str, version_id: str, data: bytes) -> None:
        """Test helper: corrupt a stored version in place."""
        self._objects[(uri, version_id)] = data


class MemoryWorkflowEngine(WorkflowEngine):
    def __init__(self) -> None:
        self.started: dict[tuple[str, int], str] = {}
        self.resumed: list[tuple[str, dict[str, Any]]] = []
        self.heartbeats: list[str] = []
        self.retrains: dict[str, dict[str, Any]] = {}

    def approval_id(self, name: str, version: int) -> str:
        return f"execution:{name}:{version}"

    def start_approval(self, name: str, version: int) -> str:
        return self.started.setdefault((name, version), self.approval_id(name, version))

    def resume(self, token: str, output: dict[str, Any]) -> None:
        self.resumed.append((token, output))

    def heartbeat(self, token: str) -> bool:
        self.heartbeats.append(token)
        return True

    def executions(self, name: str, limit: int) -> list[dict[str, Any]]:
        approvals = [
            {"kind": "approval", "name": f"{n}-v{v}", "status": "RUNNING"}
            for (n, v) in self.started
            if n == name
        ]
        retrains = [
            {"kind": "retrain", "name": run, "status": "RUNNING"}
            for run, payload in self.retrains.items()
            if payload.get("name") == name
        ]
        return (approvals + retrains)[::-1][:limit]

    def start_retrain(self, name: str, run: str, payload: dict[str, Any]) -> str:
        self.retrains.setdefault(run, payload)
        return f"retrain:{run}"


class MemoryLogSink(LogSink):
    def __init__(self) -> None:
        self.batches: list[tuple[str, str, dict[str, Any]]] = []

    def send(self, kind: str, model: str, batch: dict[str, Any]) -> None:
        self.batches.append((kind, model, batch))

    def records(self, kind: str = "predictions") -> list[dict[str, Any]]:
        return [r for k, _, batch in self.batches if k == kind for r in batch_records(batch)]


class MemoryLogFiles(LogFiles):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.files if k.startswith(prefix))

    def read(self, key: str) -> bytes:
        return self.files[key]

    def sizes(self, prefix: str) -> dict[str, int]:
        return {k: len(self.files[k]) for k in self.keys(prefix)}

    def tail(self, key: str, size: int) -> bytes:
        return self.files[key][-size:]


class MemoryRunStore(RunStore):
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise NotFound(f"no run object {key}") from None


class MemorySchedules(Schedules):
    def __init__(self) -> None:
        self.schedules: dict[str, str] = {}

    def put(self, model: str, expression: str) -> None:
        self.schedules[model] = expression

    def get(self, model: str) -> str | None:
        return self.schedules.get(model)

    def delete(self, model: str) -> None:
        self.schedules.pop(model, None)


class MemoryReportStore(ReportStore):
    def __init__(self) -> None:
        self.reports: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        self.runs: dict[str, dict[str, Any]] = {}

    def note_run(self, model: str, run: dict[str, Any]) -> None:
        self.runs[model] = dict(run)

    def latest_runs(self, models: list[str]) -> dict[str, dict[str, Any]]:
        return {m: dict(self.runs[m]) for m in models if m in self.runs}

    def save(self, model: str, report: dict[str, Any], html: str) -> None:
        self.reports[(model, report["report_id"])] = (report, html)

    def get(self, model: str, report_id: str, kind: str = "json") -> str:
        import json

        try:
            report, html = self.reports[(model, report_id)]
        except KeyError:
            raise NotFound(f"no drift report {report_id} for {model}") from None
        return html if kind == "html" else json.dumps(report)

    def summaries(self, model: str, limit: int, token: str | None) -> Page[dict[str, Any]]:
        items = sorted(
            (listing_of(r) for (m, _), (r, _) in self.reports.items() if m == model),
            key=lambda s: s["created_at"],
            reverse=True,
        )
        return _page(items, limit, token)


class MemoryEventBus(EventBus):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))


class InProcessDriftRuns(DriftRuns):
    """The in-memory :class:`DriftRuns`: plan -> map -> reduce in this process, a thread per
    child (unit tests; the local platform runs the real state machine on the emulator). A
    step that raises fails the run as the state machine's ``RunFailed`` does."""

    def __init__(self, jobs: DriftJobs | None = None, max_concurrency: int = 4) -> None:
        self.jobs = jobs
        self.max_concurrency = max_concurrency
        self.completed: list[dict[str, Any]] = []
        self.runs: dict[tuple[str, str], RunStatus] = {}
        self.scheduled: dict[str, dict[str, Any]] = {}  # execution -> the run's outcome

    def start(self, model: str, start: str, end: str, run_id: str) -> str:
        assert self.jobs is not None, "bind the jobs first"
        execution = f"in-process:{model}:{run_id}"
        began = self.jobs.service.clock()
        try:
            self.completed.append(self._run(self.jobs, model, start, end))
        except Exception:  # the run fails, as RunFailed catches States.ALL
            state = {"status": "FAILED", "error": RUN_FAILED, "cause": "a step failed"}
        else:
            state = {"status": "SUCCEEDED"}
        self.runs[model, run_id] = RunStatus.model_validate(
            {
                "report_id": run_id,
                "model": model,
                "started_at": began,
                "stopped_at": self.jobs.service.clock(),
                "execution": execution,
                **state,
            }
        )
        return execution

    def _run(self, jobs: DriftJobs, model: str, start: str, end: str) -> dict[str, Any]:
        plan = jobs.plan(model, start, end)
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            results = list(
                pool.map(
                    lambda item: jobs.map(model, plan["run"], item["batch"], plan["inline_bytes"]),
                    plan["items"],
                )
            )
        return jobs.reduce(model, plan["run"], results)

    def start_scheduled(self, model: str, scheduled_at: datetime) -> str:
        """Plan the firing's window, then evaluate it here (one batch) or map it; a firing
        started twice runs once."""
        assert self.jobs is not None, "bind the jobs first"
        execution = f"in-process:{model}:s{scheduled_at.isoformat()}"
        if execution not in self.scheduled:
            self.scheduled[execution] = self._run_scheduled(self.jobs, model, scheduled_at)
        return execution

    def _run_scheduled(self, jobs: DriftJobs, model: str, scheduled_at: datetime) -> dict[str, Any]:
        try:
            plan = jobs.plan(model, None, scheduled_at, scheduled=True)
            if "skipped" in plan:
                return plan
            return self._run(jobs, model, plan["start"], plan["end"])
        except Exception:  # the state machine's catch: noted, then the run fails
            return jobs.failed(model, f"{model}-s{scheduled_at:%Y%m%dT%H%M}", RUN_FAILED)

    def status(self, model: str, run_id: str) -> RunStatus:
        try:
            return self.runs[model, run_id]
        except KeyError:
            raise NotFound(f"no drift run {run_id} for {model}") from None
