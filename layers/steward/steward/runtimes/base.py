"""The one interface scoring, validation and retraining use for every flavor."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from steward.domain.frames import Columns
from steward.domain.models import Signature, Task


@dataclass
class Prediction:
    """One entry per row.

    ``values``: the class, the regression value or the decision outcome. ``scores``: the
    positive-class probability (binary classification), the top class's probability
    (multiclass), the points (scorecards), or None. ``explanations``: for decision models, the
    rule or points that produced each outcome. ``probabilities``: a classifier's (rows,
    classes) matrix, rows summing to 1, columns in the order of ``classes`` (each class
    spelled as :func:`steward.runtimes.probabilities.class_key` spells it).
    """

    values: np.ndarray
    scores: np.ndarray | None = None
    explanations: list[Any] | None = None
    probabilities: np.ndarray | None = None
    classes: list[str] | None = None

    @property
    def multiclass(self) -> bool:
        return self.probabilities is not None and self.probabilities.shape[1] > 2

    def __len__(self) -> int:
        return int(self.values.shape[0])


class Runtime(ABC):
    flavor: str

    def __init__(self, signature: Signature, task: Task) -> None:
        self.signature = signature
        self.task = task

    @abstractmethod
    def predict(self, columns: Columns) -> Prediction:
        """Score rows given as columns (see :mod:`steward.domain.frames`)."""

    def feature_matrix(self, columns: Columns, dtype: type = np.float32) -> np.ndarray:
        """The numeric inputs stacked in signature order: shape (rows, features)."""
        return np.column_stack([columns[f.name].astype(dtype) for f in self.signature.inputs])
