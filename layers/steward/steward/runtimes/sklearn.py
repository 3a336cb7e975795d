"""scikit-learn models stored with skops: a zip of JSON and arrays, loaded type by type.

Only the types skops trusts by default, Steward's reviewed scikit-learn types and the
deployment's additions may appear (:mod:`steward.runtimes.skops_trust`); an artifact naming
any other type is refused with the list of those types and how to allow them. Trees are
bounds-checked once loaded (:mod:`steward.runtimes.tree_checks`).
"""

from __future__ import annotations

import numpy as np

from steward.domain.errors import RuntimeUnavailable, ValidationFailed
from steward.domain.frames import Columns
from steward.domain.models import Signature, Task
from steward.runtimes.base import Prediction, Runtime
from steward.runtimes.probabilities import classified, settle
from steward.runtimes.safety import ZIP_MAGIC, refuse_pickle
from steward.runtimes.skops_trust import effective, forbidden, untrusted_message
from steward.runtimes.tree_checks import check_trees
from steward.stats.performance import class_key


class SklearnRuntime(Runtime):
    flavor = "sklearn"

    def __init__(self, data: bytes, signature: Signature, task: Task) -> None:
        super().__init__(signature, task)
        refuse_pickle(data)
        if not data.startswith(ZIP_MAGIC):
            raise ValidationFailed("a sklearn artifact must be a skops file (skops.io.dump)")
        try:
            import skops.io as sio
        except ImportError:
            raise RuntimeUnavailable("scikit-learn and skops are not installed here") from None
        trusted = effective()
        try:
            named = sio.get_untrusted_types(data=data)
        except Exception:
            raise ValidationFailed("the artifact is not a readable skops file") from None
        untrusted = [n for n in named if n not in trusted or forbidden(n)]
        if untrusted:
            raise ValidationFailed(untrusted_message(untrusted[:20]))
        try:
            self.model = sio.loads(data, trusted=[n for n in named if n in trusted])
        except Exception:
            raise ValidationFailed("the skops file could not be loaded") from None
        check_trees(self.model)

    @property
    def class_names(self) -> list[str] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else [class_key(c) for c in classes]

    def predict(self, columns: Columns) -> Prediction:
        x = self.feature_matrix(columns, np.float64)
        if self.task is Task.CLASSIFICATION and hasattr(self.model, "predict_proba"):
            probs = np.asarray(self.model.predict_proba(x))
            return classified(settle(probs, probs.dtype), list(self.model.classes_))
        return Prediction(values=np.asarray(self.model.predict(x)))
