"""X-Ray subsegments on the scoring path (model load, predict, log hand-off) through
powertools' ``Tracer``, built on first use.

Importing the X-Ray SDK costs 0.5-1 s on these machines (at import it builds a botocore X-Ray
client for centralized sampling), more than the scoring function's whole cold-import budget.
So nothing imports it until the first traced call of a cold start, and nothing ever does when
tracing is off (``POWERTOOLS_TRACE_DISABLED``, as in tests, or outside Lambda, as on the
local platform): then each subsegment is a no-op context.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any

SERVICE = "steward-scoring"


def enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower()
    in_lambda = "LAMBDA_TASK_ROOT" in os.environ and "AWS_SAM_LOCAL" not in os.environ
    return in_lambda and disabled not in ("1", "true", "yes", "on")


@lru_cache(maxsize=1)
def tracer() -> Any | None:
    """The powertools Tracer (AWS SDK calls traced too), or None when tracing is off."""
    if not enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=["botocore"])


def subsegment(name: str, **annotations: str | int) -> AbstractContextManager[Any]:
    """``with subsegment("predict", model=..., version=...):`` records a timed subsegment
    annotated for filtering in X-Ray; a no-op when tracing is off."""
    active = tracer()
    if active is None:
        return nullcontext()
    return _Annotated(active, name, annotations)


class _Annotated(AbstractContextManager[Any]):
    def __init__(self, active: Any, name: str, annotations: dict[str, str | int]) -> None:
        self._context = active.provider.in_subsegment(name)
        self._annotations = annotations

    def __enter__(self) -> Any:
        segment = self._context.__enter__()
        for key, value in self._annotations.items():
            segment.put_annotation(key, value)
        return segment

    def __exit__(self, *exc: Any) -> Any:
        return self._context.__exit__(*exc)
