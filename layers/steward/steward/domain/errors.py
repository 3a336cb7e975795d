"""Typed domain errors. The HTTP mapping lives in one place: ``steward.api.errors``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """Validation errors (pydantic's shape) as one line for the caller: where, and what."""
    parts = []
    for err in errors[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


class StewardError(Exception):
    """Base of every error the domain raises on purpose.

    ``code`` is a stable machine-readable string; ``message`` is safe to show a caller.
    """

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(StewardError):
    code = "validation_failed"


class NotFound(StewardError):
    code = "not_found"


class AlreadyExists(StewardError):
    code = "already_exists"


class Conflict(StewardError):
    code = "conflict"


class Forbidden(StewardError):
    code = "forbidden"


class PayloadTooLarge(StewardError):
    code = "payload_too_large"


class BadRequest(StewardError):
    code = "bad_request"


class IntegrityError(StewardError):
    """Stored data failed a check (sha256 mismatch, broken audit chain)."""

    code = "integrity_error"


class DependencyUnavailable(StewardError):
    """An AWS dependency failed or throttled; the caller may retry."""

    code = "service_unavailable"


class RuntimeUnavailable(StewardError):
    """This function does not ship the runtime a flavor needs (validation moves elsewhere)."""

    code = "runtime_unavailable"


class ExplanationBudgetExceeded(ValidationFailed):
    """A sampled explanation cannot reach its stated error within its budget (422)."""

    code = "explanation_budget_exceeded"
