"""Runs Lambda handlers in-process, as the Lambda service would run them.

Each function of the deployed template maps to a folder of ``functions/`` through its
``steward:source`` tag; its ``Handler`` names the module and function. Invocations come from
the local API gateway, from the scheduler and, through a hook on moto's no-Docker Lambda
backend, from Step Functions executions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from steward.domain.forwarding import FORWARDED_MARK

log = logging.getLogger("steward_local")

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    source: str
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str] = field(default_factory=dict)
    image: bool = False  # a container-image function (same handler folder, more libraries)
    reserved: int | None = None  # ReservedConcurrentExecutions: at most this many at once


class LambdaContext:
    """The attributes handlers (and powertools) read from the Lambda context object."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """An unhandled error in a handler, reported the way Lambda reports it."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.payload = {"errorType": error_type, "errorMessage": message}


class LocalRuntime:
    def __init__(self, functions_dir: Path) -> None:
        self._functions_dir = functions_dir
        self._specs: dict[str, FunctionSpec] = {}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        # powertools keeps the request being resolved in a class attribute
        # (``BaseRouter.current_event``) shared by every resolver in the process: Lambda runs
        # one invocation per environment at a time, so API requests here run one at a time
        # too, or a concurrent request could be authorized as another caller.
        self._http_lock = threading.RLock()
        self.invocations: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def register(self, spec: FunctionSpec) -> None:
        self._specs[spec.name] = spec
        self._specs[spec.arn] = spec
        if spec.reserved:
            self._slots[spec.name] = threading.BoundedSemaphore(spec.reserved)

    def _slot(self, spec: FunctionSpec, http: bool) -> contextlib.AbstractContextManager[Any]:
        """A slot of the function's reserved concurrency for an invocation that is not an
        API request (those run one at a time anyway). Lambda throttles an invocation over
        the reservation and Step Functions retries it after a backoff (the states' throttle
        retry); here it waits for a slot, which is that retry landing as soon as one is
        free. Without it a period of a thousand drift runs ran a thousand at once."""
        slots = self._slots.get(spec.name)
        return slots if slots is not None and not http else contextlib.nullcontext()

    def spec(self, name_or_arn: str) -> FunctionSpec:
        key = name_or_arn
        if key not in self._specs and key.startswith("arn:"):
            key = key.split(":")[6]  # arn:aws:lambda:region:acct:function:NAME[:qualifier]
        try:
            return self._specs[key]
        except KeyError:
            raise KeyError(f"no local function {name_or_arn!r}") from None

    @property
    def functions(self) -> list[FunctionSpec]:
        return sorted({s.name: s for s in self._specs.values()}.values(), key=lambda s: s.name)

    def _load(self, spec: FunctionSpec) -> Handler:
        with self._lock:
            if spec.name in self._handlers:
                return self._handlers[spec.name]
            module_name, _, attr = spec.handler.rpartition(".")
            path = self._functions_dir / spec.source / f"{module_name}.py"
            qualified = f"steward_functions.{spec.source}.{module_name}"
            module_spec = importlib.util.spec_from_file_location(qualified, path)
            if module_spec is None or module_spec.loader is None:
                raise RuntimeError(f"cannot load handler {path}")
            module: ModuleType = importlib.util.module_from_spec(module_spec)
            sys.modules[qualified] = module
            module_spec.loader.exec_module(module)
            handler: Handler = getattr(module, attr)
            self._handlers[spec.name] = handler
            return handler

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Invoke synchronously; an unhandled exception becomes :class:`FunctionError`."""
        spec = self.spec(name_or_arn)
        handler = self._load(spec)
        started = time.perf_counter()
        self.invocations[spec.source] += 1
        # A request the scoring function forwards to the image function arrives on another
        # thread while its caller holds the lock and waits for it: it belongs to that request.
        http = isinstance(event, dict) and "httpMethod" in event and not event.get(FORWARDED_MARK)
        try:
            with self._http_lock if http else contextlib.nullcontext(), self._slot(spec, http):
                return handler(event, LambdaContext(spec))
        except Exception as exc:
            self.failures[spec.source] += 1
            log.error("function %s failed:\n%s", spec.source, traceback.format_exc())
            raise FunctionError(type(exc).__name__, str(exc)) from exc
        finally:
            log.debug("%s took %.1f ms", spec.source, (time.perf_counter() - started) * 1e3)

    def invoke_async(self, name_or_arn: str, event: Any) -> None:
        def run() -> None:
            # An async failure is already logged; retries and DLQs belong to the caller.
            with contextlib.suppress(FunctionError):
                try:
                    self.invoke(name_or_arn, event)
                except KeyError:
                    # moto's Lambda hook is process-wide: an event of a platform that has
                    # stopped (its workflows still running) can reach the next one's runtime
                    log.warning("dropped an async invocation of %s: not deployed here", name_or_arn)

        threading.Thread(target=run, name=f"lambda-{name_or_arn[-24:]}", daemon=True).start()

    def install_moto_hook(self) -> None:
        """Route moto's Lambda ``Invoke`` (used by Step Functions) to the real handlers."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        runtime = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            event = json.loads(body) if body else {}
            if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
                runtime.invoke_async(function_name, event)
                return b""
            try:
                result = runtime.invoke(function_name, event)
            except FunctionError as exc:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(exc.payload).encode()
            return json.dumps(result).encode()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
