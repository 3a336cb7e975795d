"""Business value: what each outcome of a binary decision is worth, applied to the
confusion counts of a labelled window (``performance.value`` of a drift report)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Worth = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e12, le=1e12)]
OUTCOMES = ("tp", "fp", "tn", "fn")


class ValueMatrix(BaseModel):
    """The worth of one true positive, false positive, true negative, false negative."""

    model_config = ConfigDict(extra="forbid")

    tp: Worth = 0.0
    fp: Worth = 0.0
    tn: Worth = 0.0
    fn: Worth = 0.0


class BusinessValue(BaseModel):
    """A binary classifier's value matrix, e.g. a retained customer's margin (tp), an
    offer wasted (fp), a churner missed (fn)."""

    model_config = ConfigDict(extra="forbid")

    matrix: ValueMatrix
    unit: str = Field(default="USD", min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_ .$€£%-]+$")


def realized(value: BusinessValue, counts: Mapping[str, int]) -> dict[str, Any]:
    """``{"realized", "estimated", "per_row", "unit", "counts"}``: the matrix applied to the
    counts, summed exactly (as fractions) and rounded once; ``estimated`` is filled from the
    label-free estimate of the counts (:func:`estimated`) when the report has one."""
    total = sum(
        (Fraction(int(counts.get(k, 0))) * Fraction(getattr(value.matrix, k)) for k in OUTCOMES),
        Fraction(0),
    )
    rows = sum(int(counts.get(k, 0)) for k in OUTCOMES)
    return {
        "realized": float(total),
        "estimated": None,
        "per_row": float(total / rows) if rows else None,
        "unit": value.unit,
        "counts": {k: int(counts.get(k, 0)) for k in OUTCOMES},
    }


def estimated(value: BusinessValue, expected: Mapping[str, float]) -> dict[str, Any]:
    """The matrix applied to CBPE's expected confusion counts (floats):
    ``{"estimated", "per_row", "unit"}``."""
    total = sum(float(expected.get(k, 0.0)) * getattr(value.matrix, k) for k in OUTCOMES)
    rows = sum(float(expected.get(k, 0.0)) for k in OUTCOMES)
    return {"estimated": total, "per_row": total / rows if rows else None, "unit": value.unit}


def combined(
    value: BusinessValue, counts: Mapping[str, int] | None, estimate: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """A report's ``performance.value``: realized from the labelled counts, estimated from
    the label-free estimate, side by side (``per_row``: realized when there are labels, else
    estimated); None when there is neither."""
    if counts is None and estimate is None:
        return None
    if counts is not None:
        found = realized(value, counts)
    else:
        found = {"realized": None, "per_row": None, "unit": value.unit, "counts": None}
    if estimate is not None:
        found["estimated"] = estimate["estimated"]
        found["estimated_per_row"] = estimate["per_row"]
        if found["per_row"] is None:
            found["per_row"] = estimate["per_row"]
    return found
