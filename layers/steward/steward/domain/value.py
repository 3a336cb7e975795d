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
    counts, summed exactly (as fractions) and rounded once; ``estimated`` needs a label-free
    estimate of the counts, which there is not yet (None)."""
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
