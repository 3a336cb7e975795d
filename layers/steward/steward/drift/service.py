"""Drift evaluation for a model and a window: find the log files, stream them, report,
keep the report, tell the model, and raise ``DriftDetected`` when the policy says so.

With an artifact store, a sample of the window's rows is explained too, and the report
carries attribution drift (:mod:`steward.drift.attributions`)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from steward.domain.errors import Conflict, NotFound, StewardError, ValidationFailed
from steward.domain.frames import Columns, columns_from_records
from steward.domain.limits import MAX_BATCH_BYTES, MAX_BATCH_ROWS
from steward.domain.models import ModelVersion, Page, Signature
from steward.domain.partitions import prefixes
from steward.domain.profile import Profile
from steward.domain.value import combined
from steward.drift import attributions, estimate, outcomes
from steward.drift.evaluate import Accumulator
from steward.drift.html import render
from steward.drift.metrics import emit
from steward.drift.partials import Child
from steward.drift.plan import batches, listed, with_rows
from steward.drift.report import DriftReport, report
from steward.explain.explainer import BACKGROUND_ROWS, Explainer
from steward.explain.profile import SAMPLED_PROFILE_ROWS
from steward.logs.reader import RowReader, stream
from steward.ports import ArtifactStore, ModelStore
from steward.ports.audit import AuditLog
from steward.ports.monitoring import EventBus, LogFiles, ReportStore, summary_of
from steward.registry.core import REFERENCE_FILE
from steward.registry.integrity import fetch_verified
from steward.registry.tabular import decode_sample
from steward.retry import on_conflict

MAX_WINDOW = timedelta(days=31)
HISTORY = 30  # past reports drawn in the HTML report's drift-over-time charts


@dataclass
class Run:
    """One evaluation of one window against one version; its id is the report's id, so a
    rerun of the same window replaces the same report."""

    model: str
    version: int
    start: datetime
    end: datetime
    keys: list[str]
    batches: list[list[str]] = field(default_factory=list)
    rows: int = 0  # planned: from the footers (a file without one counts none)
    feedback: list[str] = field(default_factory=list)  # listed once, read by every child

    @property
    def run_id(self) -> str:
        window_id = f"{self.model}|{self.version}|{self.start.isoformat()}|{self.end.isoformat()}"
        return hashlib.sha256(window_id.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "keys": self.keys,
            "batches": self.batches,
            "rows": self.rows,
            "feedback": self.feedback,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls(
            model=data["model"],
            version=int(data["version"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            keys=list(data["keys"]),
            batches=[list(b) for b in data.get("batches", [])],
            rows=int(data.get("rows", 0)),
            feedback=list(data.get("feedback", [])),
        )


class DriftService:
    def __init__(
        self,
        store: ModelStore,
        logs: LogFiles,
        reports: ReportStore,
        events: EventBus,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        batch_rows: int = MAX_BATCH_ROWS,
        batch_bytes: int = MAX_BATCH_BYTES,
        metrics: Callable[[DriftReport], None] = emit,
        audit: AuditLog | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        self.audit = audit
        # The versions' artifacts and reference samples: attribution drift (none without)
        self.artifacts = artifacts
        self._explainers: dict[tuple[str, int, str], tuple[Explainer | None, str | None]] = {}
        self._lock = threading.Lock()
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.store = store
        self.logs = logs
        self.reports = reports
        self.events = events
        self.clock = clock
        self.metrics = metrics

    def _window(
        self, name: str, start: datetime | None, end: datetime | None
    ) -> tuple[int, datetime, datetime, list[str]]:
        """The window (default: the policy's, up to now), the version it is compared with,
        and the feedback files that can label it: its hours and the policy's label lag, up to
        now (listed here once; every child reads them)."""
        model = self.store.get_model(name)
        end = (end or self.clock()).astimezone(UTC)
        start = (start or end - timedelta(hours=model.monitoring.window_hours)).astimezone(UTC)
        if not start < end or end - start > MAX_WINDOW:
            raise ValidationFailed("the window must have start < end and span at most 31 days")
        number = model.traffic.champion or model.aliases.get("production")
        if number is None:
            raise Conflict(f"{name} has no production version to compare with its reference")
        labelled_until = max(
            min(end + timedelta(hours=model.monitoring.label_lag_hours), self.clock()), end
        )
        feedback = list(listed(prefixes("feedback", name, start, labelled_until), self.logs.sizes))
        return number, start, end, feedback

    def _reference(self, name: str, number: int) -> tuple[Profile, Signature]:
        version = self.store.get_version(name, number)
        if not version.profile:
            raise Conflict(f"version {number} of {name} has no reference profile")
        return Profile.model_validate(version.profile), version.signature

    def evaluate(
        self, name: str, start: datetime | None = None, end: datetime | None = None
    ) -> DriftReport:
        """The whole window in this process (planned as a distributed run is: the footers'
        row counts set the attribution sample's rate, so both sample the same rows)."""
        started = time.perf_counter()
        run = self.plan(name, start, end)
        return self.finish(run, self.evaluate_keys(run, run.keys), time.perf_counter() - started)

    # -- distributed runs: plan -> map (evaluate_keys per batch) -> reduce (finish) ------------

    def plan(self, name: str, start: datetime | None = None, end: datetime | None = None) -> Run:
        """The window's files (partition pruning) in batches sized from their footers."""
        number, start, end, feedback = self._window(name, start, end)
        sizes = listed(prefixes("predictions", name, start, end), self.logs.sizes)
        files = with_rows(sizes, self.logs.tail, window=(start, end))
        groups = batches(files, self.batch_rows, self.batch_bytes)
        keys, rows = [f.key for f in files], sum(f.rows or 0 for f in files)
        return Run(name, number, start, end, keys, [b.keys for b in groups], rows, feedback)

    def evaluate_keys(self, run: Run, keys: list[str]) -> Child:
        """One map child: the window's labels read, then ``keys`` streamed once (each file
        opened once) into a drift partial and, joined with the labels, outcomes."""
        model = self.store.get_model(run.model)
        reference, signature = self._reference(run.model, run.version)
        skipped: list[dict[str, str]] = []
        labels = outcomes.read_labels(self._opened(run.feedback), model.task, skipped)
        accumulator = Accumulator(reference, signature)
        join = outcomes.joining(labels, model.task, model.monitoring)
        sample = model.monitoring.attribution_sample_rows
        explainer, unavailable = self._explainer(run.model, run.version) if sample else (None, None)
        if explainer is not None and explainer.method == "sampling_shap":
            sample = min(sample, SAMPLED_PROFILE_ROWS)  # each row costs thousands of calls
        sampler = attributions.Sampler(
            signature,
            explainer,
            attributions.sample_rate(sample, run.rows),
            attributions.CHILD_CAP * sample,
            unavailable,
        )
        readers: list[RowReader] = [accumulator, sampler]
        if join is not None:
            readers.append(join)
        calibration = self._calibration(run)
        scores = estimate.ScoreCounter(calibration) if calibration is not None else None
        readers += [scores] if scores is not None else []
        stream(self._opened(keys), (run.start, run.end), run.version, readers)
        found = join.result() if join is not None else outcomes.Outcomes()
        counted = scores.result() if scores is not None else None
        return Child(
            accumulator.result(),
            found,
            labels.num_rows,
            skipped,
            sampler.result(),
            estimate=counted,
        )

    def _calibration(self, run: Run) -> dict[str, Any] | None:
        """The version's score calibration (CBPE), if validation fitted one."""
        version = self.store.get_version(run.model, run.version)
        return version.validation.calibration if version.validation else None

    def _explainer(self, name: str, number: int) -> tuple[Explainer | None, str | None]:
        """The version's explainer (its runtime and background), once per warm function;
        or why there is none."""
        version = self.store.get_version(name, number)
        key = (name, number, version.sha256)
        with self._lock:
            if key not in self._explainers:
                self._explainers[key] = self._build_explainer(version)
            return self._explainers[key]

    def _build_explainer(self, version: ModelVersion) -> tuple[Explainer | None, str | None]:
        if self.artifacts is None:
            return None, "attribution drift needs the artifact store, not given to this service"
        if not (version.attribution_profile or {}).get("features"):
            return None, None  # nothing to compare with: the reduce says so
        task = self.store.get_model(version.name).task
        try:
            data = fetch_verified(self.artifacts, version)
            runtime = attributions.runtime_for(version.flavor, data, version.signature, task)
            explainer = Explainer(runtime, self._background(version))
            if explainer.method == "sampling_shap" and isinstance(
                runtime, attributions.GraphRuntime
            ):
                return None, (
                    f"version {version.version} is explained by sampling_shap, which runs the "
                    "model: onnxruntime is not installed here"
                )
        except StewardError as exc:  # no runtime here, no method, a missing or altered artifact
            return None, f"version {version.version} is not explained here: {exc.message}"
        except PermissionError:  # a misconfiguration: the verdicts still stand, and say so
            return None, "the artifact store refused to read the version's artifact"
        return explainer, None

    def _background(self, version: ModelVersion) -> Columns | None:
        """The first ``min(100, n)`` rows of the version's reference sample."""
        assert self.artifacts is not None
        uri = f"{version.artifact.uri.rsplit('/', 1)[0]}/{REFERENCE_FILE}"
        try:
            rows = decode_sample(self.artifacts.get(uri))[0][:BACKGROUND_ROWS]
        except NotFound:
            return None
        return columns_from_records(rows, version.signature) if rows else None

    def finish(self, run: Run, child: Child, seconds: float) -> DriftReport:
        """The reduce step: the merged child results -> report (drift, performance,
        fairness), summary, latest drift, event."""
        model = self.store.get_model(run.model)
        reference, signature = self._reference(run.model, run.version)
        result = report(
            child.partial,
            reference,
            signature,
            model.monitoring,
            report_id=run.run_id,
            model=run.model,
            version=run.version,
            window=(run.start, run.end),
            created_at=self.clock().isoformat(),
        )
        started = time.perf_counter()
        found = child.outcomes
        found.skipped = found.skipped + child.feedback_skipped
        version = self.store.get_version(run.model, run.version)
        result.performance, result.fairness = outcomes.assess_version(
            found, child.labels, version, model.task, model.monitoring
        )
        calibration = version.validation.calibration if version.validation else None
        estimated = None
        if calibration is not None and child.estimate is not None:
            estimated = estimate.assess(
                child.estimate,
                calibration,
                result.performance,
                outcomes.labelled_rows(found),
                model.value,
            )
            if estimated is not None:
                result.performance["estimated"] = estimated
        if model.value is not None:
            worth = combined(
                model.value,
                result.performance.get("confusion"),
                estimated.get("value") if estimated else None,
            )
            if worth is not None:
                result.performance["value"] = worth
        result.attribution_drift, result.attribution_drift_reason = attributions.assess(
            child.attributions, version.attribution_profile, model.monitoring, run.version
        )
        reasons = ["features"] if result.drift_detected else []
        if result.attribution_drift is not None and result.attribution_drift["drift"]:
            reasons.append("attributions")
            result.drift_detected, result.verdict = True, "drift"
        result.data_quality["seconds"] = round(seconds + time.perf_counter() - started, 3)
        payload = result.model_dump(mode="json")
        history = self.reports.summaries(run.model, HISTORY, None).items
        self.reports.save(run.model, payload, render(result, history))
        # The model's latest drift before the metrics and the event: whoever reacts to
        # DriftDetected reads the model and finds this report. A model changing too often
        # to keep it fails the call (a 409, a failed run that is retried) before any event.
        self._remember(run.model, summary_of(payload))
        self.reports.note_run(
            run.model,
            {
                "outcome": "evaluated",
                "at": result.created_at,
                "window_end": run.end.isoformat(),
                "report_id": result.report_id,
                "rows": result.rows,
                "drift_detected": result.drift_detected,
            },
        )
        self._audit(result)
        self.metrics(result)
        if result.drift_detected:
            self.events.publish(
                "DriftDetected",
                {
                    "model": run.model,
                    "version": run.version,
                    "report_id": result.report_id,
                    "severity": "high" if result.drift_share >= 0.5 else "medium",
                    "drifted_features": result.drifted_features,
                    # what drifted: the features' distributions, the model's attributions
                    "reasons": reasons,
                },
            )
        return result

    def _audit(self, result: DriftReport) -> None:
        """``drift.reported`` in the model's audit trail: what the practice KPIs read."""
        if self.audit is None:
            return
        performance = result.performance or {}
        self.audit.append(
            stream=result.model,
            actor="workflow",
            action="drift.reported",
            target=f"{result.model}/{result.version}",
            clock=self.clock,
            after={
                "report_id": result.report_id,
                "version": result.version,
                "drift_detected": result.drift_detected,
                "labelled": bool(performance.get("rows_labelled")),
                "degraded": bool(performance.get("degraded")),
                **_practice(performance),
            },
        )

    def _opened(self, keys: list[str]) -> Iterator[tuple[str, IO[bytes]]]:
        """Each file open while it is read, closed when the next one is asked for."""
        for key in keys:
            with self.logs.open(key) as file:
                yield key, file

    def _remember(self, name: str, summary: dict[str, Any]) -> None:
        def attempt(_: int) -> None:
            model = self.store.get_model(name)
            self.store.save_model(model.model_copy(update={"latest_drift": summary}), model.rev)

        on_conflict(attempt, f"keeping the latest drift of {name}")

    def list(self, name: str, limit: int = 50, token: str | None = None) -> Page[dict[str, Any]]:
        self.store.get_model(name)
        return self.reports.summaries(name, limit, token)

    def get(self, name: str, report_id: str, kind: str = "json") -> str:
        return self.reports.get(name, report_id, kind)


def _practice(performance: dict[str, Any]) -> dict[str, Any]:
    """What the practice KPIs read of a report besides its verdicts: its value (realized,
    estimated, unit) and the label-free estimate's ROC AUC error on the labelled rows."""
    found: dict[str, Any] = {}
    worth = performance.get("value") or {}
    for key in ("realized", "estimated"):
        if worth.get(key) is not None:
            found[f"value_{key}"] = worth[key]
    if found:
        found["value_unit"] = worth.get("unit")
    estimated = performance.get("estimated") or {}
    compared = ((estimated.get("comparison") or {}).get("metrics") or {}).get("roc_auc")
    if compared is not None:
        found["estimate_error_auc"] = abs(compared["error"])
    return found
