"""`steward local up`: emulator, provisioned stack, in-process Lambda, scheduler, gateway."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from steward import wiring
from steward.local.console import ConsoleFiles
from steward.local.emulator import Emulator
from steward.local.gateway import Gateway
from steward.local.paths import repo_root
from steward.local.periods import Period, fire_period
from steward.local.pollers import QueuePoller, StreamPoller
from steward.local.provision import Deployment, deploy
from steward.local.runtime import LocalRuntime
from steward.local.scheduler import Scheduler
from steward.local.synth import local_template

log = logging.getLogger("steward_local")

# Set by the platform for every function, whatever the template says.
LOCAL_ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}


def evidence_key(data_dir: Path) -> Path:
    """The local platform's Ed25519 key that signs evidence packs' manifests, made once in
    the data directory; its public half (``evidence-ed25519.pub``) verifies them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private, public = data_dir / "evidence-ed25519.pem", data_dir / "evidence-ed25519.pub"
    if not private.is_file():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        private.touch(mode=0o600)
        private.write_bytes(pem)
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private


@dataclass
class LocalPlatform:
    port: int = 8080
    host: str = "127.0.0.1"
    data_dir: Path = field(default_factory=lambda: Path(".steward"))
    tick_s: float = 1.0
    emulator: Emulator = field(default_factory=Emulator)
    deployment: Deployment | None = None
    runtime: LocalRuntime | None = None
    scheduler: Scheduler | None = None
    pollers: list[QueuePoller] = field(default_factory=list)
    streams: list[StreamPoller] = field(default_factory=list)
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None
    _saved_env: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalPlatform:
        started = time.perf_counter()
        self._saved_env = dict(os.environ)
        for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        template = local_template(self.data_dir / "cache")
        self.emulator.start()
        self.deployment = deploy(template)
        self.runtime = LocalRuntime(repo_root() / "functions")
        self._export_environment(self.deployment)
        for spec in self.deployment.functions:
            self.runtime.register(spec)
        self.runtime.install_moto_hook()
        self.scheduler = Scheduler(self.runtime, tick_s=self.tick_s)
        self.scheduler.start()
        self.pollers = [QueuePoller(self.runtime, s) for s in self.deployment.queue_sources]
        self.streams = [StreamPoller(self.runtime, s) for s in self.deployment.stream_sources]
        for poller in self.pollers:
            poller.start()
        for stream in self.streams:
            stream.start()
        console = ConsoleFiles(repo_root() / "console")
        gateway = Gateway(self.runtime, self.deployment.routes, extra=[self._local_routes, console])
        self._server = make_server(self.host, self.port, gateway, threaded=True)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="steward-gateway", daemon=True
        )
        self._thread.start()
        log.info("local platform up in %.1f s at %s", time.perf_counter() - started, self.url)
        return self

    def _export_environment(self, deployment: Deployment) -> None:
        """One process hosts every function: export the union of their environments.

        Values that differ between functions (service names) stay per function in powertools'
        defaults; resource names are the same for all, so a union is exact.
        """
        merged: dict[str, str] = {}
        for spec in deployment.functions:
            for key, value in spec.environment.items():
                if key.startswith("STEWARD_"):
                    merged[key] = value
        os.environ.update({**merged, **LOCAL_ENV})
        os.environ["STEWARD_EVIDENCE_KEY_FILE"] = str(evidence_key(self.data_dir))
        os.environ.setdefault("STEWARD_TRAINER_CACHE", str(self.data_dir / "cache" / "trainers"))
        wiring.reset()

    def _local_routes(self, request: Request) -> Response | None:
        if not request.path.startswith("/_local/"):
            return None
        assert self.scheduler is not None and self.deployment is not None
        if request.path == "/_local/info" and request.method == "GET":
            info = {
                "emulator": self.emulator.endpoint,
                "state": "in memory: everything is lost when the platform stops",
                "functions": [f.source for f in self.deployment.functions],
                "state_machines": self.deployment.state_machines,
                "routes": [
                    {"path": r.path, "methods": sorted(r.methods)} for r in self.deployment.routes
                ],
                "queues": [
                    {"queue": p.source.queue_url, "batches": p.batches} for p in self.pollers
                ],
                "schedules": [
                    {"name": r["Name"], "expression": r["ScheduleExpression"]}
                    for r in self.scheduler.rules()
                ],
            }
            return _json(200, info)
        if request.path == "/_local/flush" and request.method == "POST":
            return _json(200, {"delivered": self.flush()})
        prefix = "/_local/schedules/"
        if request.path.startswith(prefix) and request.path.endswith("/fire"):
            if request.method != "POST":
                return _json(405, {"error": "method_not_allowed", "message": "use POST"})
            name = request.path[len(prefix) : -len("/fire")]
            if name not in {r["Name"] for r in self.scheduler.rules()}:
                return _json(404, {"error": "not_found", "message": "no such schedule"})
            return _json(202, {"schedule": name, "targets": self.scheduler.fire(name)})
        return _json(404, {"error": "not_found", "message": "no such route"})

    def fire_period(
        self,
        models: Collection[str] | None = None,
        wait: bool = True,
        timeout_s: float = 600.0,
    ) -> Period:
        """One period of drift schedules now: every model's schedule (or those of ``models``)
        fires once, each at its own latest firing time, the start queue goes to the starter,
        and (``wait``) every run it started is awaited. What happened:
        :class:`~steward.local.periods.Period`."""
        assert self.scheduler is not None
        return fire_period(
            self.scheduler, self.pollers, models=models, wait=wait, timeout_s=timeout_s
        )

    def flush(self) -> int:
        """Deliver every queued log record to its writer, and every audit event to the
        archiver, now (tests and demos)."""
        return sum(p.flush() for p in self.streams) + sum(p.flush() for p in self.pollers)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.scheduler is not None:
            self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
        for stream in self.streams:
            stream.stop()
        self.emulator.stop()
        if self._saved_env is not None:  # leave the process as we found it
            os.environ.clear()
            os.environ.update(self._saved_env)
        wiring.reset()
        log.info("local platform stopped")

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until SIGINT or SIGTERM, then stop everything."""
        done = threading.Event()

        def _stop(signum: int, _: FrameType | None) -> None:
            done.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        try:
            done.wait()
        finally:
            self.stop()


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")
