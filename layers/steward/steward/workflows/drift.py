"""The drift function's tasks, as :mod:`steward.dispatch` routes them: the schedule's
evaluation (``scheduled``, the default: a schedule sends ``{"model": name}``) and the steps
of a distributed run (``plan``, ``map``, ``reduce``; ``evaluate`` for a whole window).
Each event is validated by its step model in :mod:`steward.drift.runs`."""

from __future__ import annotations

from typing import Any

from steward.wiring import drift_jobs


def run(event: dict[str, Any]) -> dict[str, Any]:
    return drift_jobs().handle(event)
