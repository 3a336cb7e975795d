"""The retrain workflow's steps: policy and lease, training set from the logs joined with
feedback, the built-in trainer, registration with lineage, and the lease's release."""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from steward.domain import log_schema as schema
from steward.domain.deployment import retrain_refusal, retrain_slot
from steward.domain.errors import Conflict, RuntimeUnavailable, ValidationFailed
from steward.domain.identity import Identity, Role
from steward.domain.models import PRODUCTION, Model, RetrainState, Signature, Trainer
from steward.lifecycle.quality import quality
from steward.lifecycle.trainer import refit
from steward.logs.reader import read_window
from steward.ports import WorkflowEngine
from steward.ports.monitoring import LogFiles
from steward.registry.requests import RegisterVersion, TabularData
from steward.registry.service import REFERENCE_SAMPLE, Registry
from steward.runtimes.loader import DECISION_FLAVORS
from steward.training import local, remote
from steward.training.contract import (
    TrainerFailed,
    TrainerResult,
    channel_tables,
    extra_path,
    read_result,
    write_layout,
)
from steward.training.remote import REMOTE

# Retrained versions are registered by this service identity, so any human approver may
# decide on them (the registrant never approves its own version).
RETRAINER = Identity(user="steward-retrain", roles=frozenset({Role.DATA_SCIENTIST}))
HOLDOUT_EVERY = 5  # one labelled row in 5 is held out, by its request id
MAX_HOLDOUT = 20_000
BUILTIN_REF = "steward:builtin-trainer"
SUFFIX = {"onnx": "onnx", "sklearn": "skops"}  # else model.json
MAX_CHANNEL_OBJECTS = 1000  # objects of one extra channel
MAX_CHANNEL_BYTES = 512 * 1024 * 1024  # bytes of one extra channel, copied by Steward


def _bucket(request_id: str) -> int:
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")


def is_holdout(request_id: str) -> bool:
    """Whether a labelled row is held out from training: decided by a hash of its request id
    alone, so the split does not depend on the order in which log files are read."""
    return _bucket(request_id) % HOLDOUT_EVERY == 0


def _split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    held = [is_holdout(str(r[schema.REQUEST_ID])) for r in rows]
    train = [r for r, h in zip(rows, held, strict=True) if not h]
    holdout = [r for r, h in zip(rows, held, strict=True) if h]
    if len(holdout) > MAX_HOLDOUT:  # the rows with the smallest hashes: still order-free
        holdout = sorted(holdout, key=lambda r: _bucket(str(r[schema.REQUEST_ID])))
        holdout = holdout[:MAX_HOLDOUT]
    return train, holdout


def _instance(row: dict[str, Any], features: list[str]) -> dict[str, Any]:
    """A training row (log columns) as the model's input (feature names)."""
    return {f: row[schema.column_of(f)] for f in features}


def run_name(name: str, trigger: str, key: str) -> str:
    """Execution names allow [A-Za-z0-9-_] up to 80 characters; equal keys give equal names,
    so a duplicated event starts one execution."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in key)
    return f"{name}-{trigger}-{safe}"[:80]


def start_retrain(workflows: WorkflowEngine, name: str, trigger: str, key: str) -> dict[str, Any]:
    """Start the retrain workflow; ``trigger`` is ``drift`` (``key`` the report id),
    ``schedule`` or ``manual`` (``key`` the time, to the minute)."""
    run = run_name(name, trigger, key)
    label = f"drift:{key}" if trigger == "drift" else trigger
    execution = workflows.start_retrain(name, run, {"name": name, "run": run, "trigger": label})
    return {"run": run, "execution": execution}


class Retrainer:
    def __init__(
        self,
        registry: Registry,
        logs: LogFiles,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        trainer_cache: str | None = None,
    ) -> None:
        self.registry = registry
        self.logs = logs
        self.clock = clock
        self.trainer_cache = Path(trainer_cache or Path(tempfile.gettempdir()) / "steward-trainers")

    def begin(self, name: str, run: str, trigger: str) -> dict[str, Any]:
        """Check the policy and take the model's lease; one retrain at a time."""
        model = self.registry.get_model(name)
        end = self.clock()
        start = end - timedelta(hours=model.retrain.window_hours)
        labels = read_window(self.logs, "feedback", name, (start, end))
        count = 0 if labels is None else labels.num_rows  # labelled request ids
        kind = trigger.split(":", 1)[0]
        refusal = retrain_refusal(
            model.retrain,
            model.retraining,
            count,
            end,
            kind if kind in ("drift", "schedule") else "manual",  # type: ignore[arg-type]
        )
        if refusal is None and PRODUCTION not in model.aliases:
            refusal = "no production version to retrain from"
        if refusal is None:
            state = RetrainState(run=run, trigger=trigger, started_at=end)
            try:
                self.registry.set_retraining(model, state, f"{trigger}: {count} labels")
            except Conflict:
                refusal = "another retrain took the lease first"
        if refusal is not None:
            self.registry.record(name, "retrain.skipped", name, refusal)
            return {"started": False, "reason": refusal}
        window = {"start": start.isoformat(), "end": end.isoformat()}
        return {"started": True, "labels": count, "window": window}

    def scheduled(self, workflows: WorkflowEngine) -> list[str]:
        """Start the retrains whose schedule has a slot due (run hourly). Each run is named
        after its slot, so running this twice in a slot starts nothing more."""
        now = self.clock()
        started: list[str] = []
        token: str | None = None
        while True:
            page = self.registry.list_models(100, token)
            for model in page.items:
                if not model.retrain.schedule:
                    continue
                last = model.retraining.started_at if model.retraining else None
                slot = retrain_slot(model.retrain.schedule, model.created_at, last, now)
                if slot is not None:
                    key = slot.strftime("%Y%m%dT%H%M")
                    started.append(start_retrain(workflows, model.name, "schedule", key)["run"])
            if not (token := page.next_token):
                return started

    def _features(self, name: str) -> tuple[Any, list[str]]:
        model = self.registry.get_model(name)
        champion = self.registry.get_version(name, model.aliases[PRODUCTION])
        return champion, [f.name for f in champion.signature.inputs]

    def prepare(self, name: str, run: str, window: dict[str, str]) -> dict[str, Any]:
        """The window's scored rows joined with their labels, as one Parquet file."""
        import pyarrow.parquet as pq

        _, features = self._features(name)
        start, end = (datetime.fromisoformat(window[k]) for k in ("start", "end"))
        scored = read_window(self.logs, "predictions", name, (start, end), features=features)
        labels = read_window(self.logs, "feedback", name, (start, end), [schema.LABEL])
        if scored is None or labels is None:
            raise ValidationFailed("no scored rows with labels in the window")
        # One row per request id on both sides (the reader's); features keep their log
        # columns, so a feature named like ``label`` is not the label.
        joined = scored.join(labels, keys=schema.REQUEST_ID, join_type="inner")
        joined = joined.sort_by(schema.REQUEST_ID)  # the same rows give the same file
        sink = BytesIO()
        pq.write_table(joined, sink)
        data = sink.getvalue()
        uri, version_id = self.registry.artifacts.put(
            f"models/{name}/training/{run}/data.parquet", data
        )
        return {
            "uri": uri,
            "version_id": version_id,
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": joined.num_rows,
        }

    def _rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        raw = self.registry.artifacts.get(data["uri"], data.get("version_id"))
        if hashlib.sha256(raw).hexdigest() != data["sha256"]:
            raise ValidationFailed("the training set changed since it was prepared")
        rows: list[dict[str, Any]] = pq.read_table(BytesIO(raw)).to_pylist()
        return rows

    def train(self, name: str, run: str, data: dict[str, Any]) -> dict[str, Any]:
        """Refit the champion's kind of model on the training rows (``builtin``), or run the
        model's own trainer (``custom``); score the holdout."""
        import numpy as np

        model = self.registry.get_model(name)
        if model.retrain.trainer == "custom":
            return self._custom(model, run, data)
        champion, features = self._features(name)
        train, holdout = _split(self._rows(data))
        if len(train) < 2 or not holdout:
            raise ValidationFailed(f"{len(train)} training rows are too few to fit")
        spec = json.loads(self.registry.load_artifact(champion))
        x = np.asarray(
            [[float(r[schema.column_of(f)]) for f in spec["coefficients"]] for r in train]
        )
        y = np.asarray([float(r[schema.LABEL]) for r in train])
        artifact = refit(champion.flavor, spec, x, y)
        labels = [r[schema.LABEL] for r in holdout]
        args = (champion.flavor, artifact, champion.signature, champion.task)
        found = quality(*args, [_instance(r, features) for r in holdout], labels)
        uri, _ = self.registry.artifacts.put(f"models/{name}/training/{run}/model.json", artifact)
        return {
            "artifact_uri": uri,
            "sha256": hashlib.sha256(artifact).hexdigest(),
            "flavor": champion.flavor.value,
            "parent_version": champion.version,
            "metrics": found,
            "rows": len(train),
        }

    def _trainer(self, model: Model) -> Trainer:
        trainer = model.trainer
        if trainer is None:
            raise ValidationFailed("retrain.trainer is custom but the model has no trainer")
        return trainer

    def extra_channels(self, model: Model) -> dict[str, dict[str, bytes]]:
        """The retrain policy's channels by URI: each object under the URI, by its path
        below ``input/data`` (``<channel>/<key below the prefix>``)."""
        found: dict[str, dict[str, bytes]] = {}
        for name, uri in sorted(model.retrain.channels.items()):
            uris = self.registry.artifacts.uris_under(uri, MAX_CHANNEL_OBJECTS)
            if not uris:
                raise TrainerFailed(f"channel {name}: nothing at {uri}")
            files: dict[str, bytes] = {}
            size = 0
            for each in uris:
                if each.endswith("/"):  # a console-made folder marker
                    continue
                data = self.registry.artifacts.get(each)
                size += len(data)
                if size > MAX_CHANNEL_BYTES:
                    raise TrainerFailed(f"channel {name}: over {MAX_CHANNEL_BYTES} bytes")
                files[extra_path(name, uri, each)] = data
            found[name] = files
        return found

    def stage(self, name: str, run: str, data: dict[str, Any]) -> dict[str, Any]:
        """Where the run trains: ``builtin`` and ``local`` in the Train step; an AWS
        backend's input staged in S3 under ``training/<model>/<run>/`` for its state."""
        model = self.registry.get_model(name)
        if model.retrain.trainer != "custom":
            return {"backend": "builtin"}
        trainer = self._trainer(model)
        if trainer.backend not in REMOTE:
            return {"backend": trainer.backend}
        _, features = self._features(name)
        tables = channel_tables(self._rows(data), features, is_holdout)
        source = self.registry.trainer_source(trainer)
        extra = self.extra_channels(model)
        return remote.stage(self.registry.artifacts, name, run, trainer, source, tables, extra)

    def collect(
        self,
        name: str,
        run: str,
        data: dict[str, Any],
        staged: dict[str, Any],
        ran: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An AWS backend's output, through the contract's checks (as ``local``'s)."""
        model = self.registry.get_model(name)
        trainer = self._trainer(model)
        if staged.get("trainer_sha256") != trainer.sha256:
            raise ValidationFailed("the model's trainer changed while the run trained")
        champion, _ = self._features(name)
        decision = champion.flavor if champion.flavor in DECISION_FLAVORS else None
        with tempfile.TemporaryDirectory(prefix="steward-ml-") as folder:
            root = Path(folder)
            remote.collect(self.registry.artifacts, staged, root, error)
            result = read_result(root, decision)
        seconds = remote.seconds_of(ran)
        return self._trained(model, run, trainer, self._rows(data), result, seconds)

    def _custom(self, model: Model, run: str, data: dict[str, Any]) -> dict[str, Any]:
        """Run the model's own trainer on the window's rows with the ``local`` backend, in
        this function's task (the AWS backends are the state machine's branches: see
        :meth:`stage` and :meth:`collect`), and score its artifact on the holdout."""
        trainer = self._trainer(model)
        if trainer.backend != "local":
            raise ValidationFailed(f"the {trainer.backend} trainer backend runs in its own state")
        champion, features = self._features(model.name)
        rows = self._rows(data)
        source = self.registry.trainer_source(trainer)
        decision = champion.flavor if champion.flavor in DECISION_FLAVORS else None
        extra = self.extra_channels(model)
        with tempfile.TemporaryDirectory(prefix="steward-ml-") as folder:
            root = Path(folder)
            env = write_layout(root, rows, features, trainer.hyperparameters, is_holdout, extra)
            started = time.monotonic()
            local.run(
                source,
                trainer.entry_point,
                trainer.requirements,
                env,
                root,
                self.trainer_cache,
                trainer.timeout_s,
            )
            seconds = time.monotonic() - started
            result = read_result(root, decision)
        return self._trained(model, run, trainer, rows, result, seconds)

    def _trained(
        self,
        model: Model,
        run: str,
        trainer: Trainer,
        rows: list[dict[str, Any]],
        result: TrainerResult,
        seconds: float,
    ) -> dict[str, Any]:
        """Score a trainer's artifact on the holdout, record the run, keep the artifact."""
        champion, features = self._features(model.name)
        signature = (
            Signature.model_validate(result.signature) if result.signature else champion.signature
        )
        _, holdout = _split(rows)
        metrics = dict(result.metrics)
        # Steward's own holdout metrics win over the trainer's of the same name; without
        # the model's runtime here, the gates score the holdout where it is.
        with contextlib.suppress(RuntimeUnavailable):
            metrics |= quality(
                result.flavor,
                result.artifact,
                signature,
                model.task,
                [_instance(r, features) for r in holdout],
                [r[schema.LABEL] for r in holdout],
            )
        digest = hashlib.sha256(result.artifact).hexdigest()
        self.registry.record(
            model.name,
            "retrain.trained",
            run,
            f"trainer {trainer.sha256[:12]} ran {seconds:.2f} s ({trainer.backend})",
            after={
                "trainer_sha256": trainer.sha256,
                "sha256": digest,
                "seconds": seconds,
                "backend": trainer.backend,
            },
        )
        suffix = SUFFIX.get(result.flavor.value, "json")
        key = f"models/{model.name}/training/{run}/model.{suffix}"
        uri, _ = self.registry.artifacts.put(key, result.artifact)
        return {
            "artifact_uri": uri,
            "sha256": digest,
            "flavor": result.flavor.value,
            "parent_version": champion.version,
            "metrics": metrics,
            "rows": len(rows) - len(holdout),
            "signature": signature.model_dump(mode="json"),
            "trainer_sha256": trainer.sha256,
            "trainer_seconds": round(seconds, 3),
        }

    def register(
        self,
        name: str,
        run: str,
        trigger: str,
        window: dict[str, str],
        data: dict[str, Any],
        trained: dict[str, Any],
    ) -> dict[str, Any]:
        """Register the new version with its lineage; its approval workflow starts."""
        champion, features = self._features(name)
        train, holdout = _split(self._rows(data))
        request = RegisterVersion(
            flavor=trained["flavor"],
            artifact_uri=trained["artifact_uri"],
            sha256=trained["sha256"],
            signature=Signature.model_validate(trained.get("signature") or champion.signature),
            metrics=trained["metrics"],
            training_data={"uri": data["uri"], "sha256": data["sha256"], "rows": data["rows"]},
            reference_data=TabularData(
                instances=[_instance(r, features) for r in train[:REFERENCE_SAMPLE]]
            ),
            holdout_data=TabularData(
                instances=[_instance(r, features) for r in holdout],
                labels=[r[schema.LABEL] for r in holdout],
            ),
            parent_version=trained["parent_version"],
            trainer_run=run,
            trigger=trigger,
            code_ref=f"trainer:{sha}" if (sha := trained.get("trainer_sha256")) else BUILTIN_REF,
            trainer_sha256=trained.get("trainer_sha256"),
            data_window=window,
            description=f"retrained by {run} ({trigger})",
        )
        version = self.registry.register_version(name, request, RETRAINER)
        return {"version": version.version}

    def finish(
        self, name: str, run: str, outcome: str, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Release the lease (the cooldown counts from the start); a failed run's ``cause``
        (a trainer's ``output/failure`` text) goes to the audit trail and the execution."""
        cause = failure_cause(error) if error else None
        model = self.registry.get_model(name)
        state = model.retraining
        if state is None or state.run != run or not state.running:
            return {"released": False, "cause": cause}
        ended = state.model_copy(
            update={"running": False, "ended_at": self.clock(), "outcome": outcome}
        )
        self.registry.set_retraining(model, ended, cause or outcome)
        return {"released": True, "cause": cause}


# The errors whose message is written for the caller (a trainer's failure text included);
# any other error is named by its type only, never by its text or trace.
SAYABLE = frozenset({"TrainerFailed", "ValidationFailed", "IntegrityError", "NotFound"})


def failure_cause(error: dict[str, Any]) -> str:
    """A step's error, as Step Functions caught it (``{"Error", "Cause"}``), in words."""
    kind = str(error.get("Error") or "error")
    if kind not in SAYABLE:
        return f"the retrain failed ({kind[:100]})"
    cause = error.get("Cause")
    try:
        found = json.loads(cause) if isinstance(cause, str) else cause
        message = found.get("errorMessage") if isinstance(found, dict) else None
    except ValueError:
        message = cause
    return str(message or kind)[:2500]
