"""ONNX models (and so XGBoost, LightGBM, PyTorch and scikit-learn exports) via onnxruntime.

Input binding: a graph with one 2-D tensor input takes the signature's inputs as columns in
signature order; otherwise each graph input is bound to the feature of the same name.
Output reading: a probability output (a 2-D float tensor or a ZipMap sequence of maps) gives
the class probabilities (named by the ZipMap's keys, or by the classifier node's class labels:
:mod:`steward.runtimes.onnx_classes`), settled for float rounding
(:mod:`steward.runtimes.probabilities`); a label output gives the class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steward.domain.errors import RuntimeUnavailable, ValidationFailed
from steward.domain.frames import Columns
from steward.domain.models import Signature, Task
from steward.runtimes.base import Prediction, Runtime
from steward.runtimes.onnx_classes import class_labels
from steward.runtimes.probabilities import classified, settle
from steward.stats.performance import class_key

_NP_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


class OnnxRuntime(Runtime):
    flavor = "onnx"

    def __init__(self, data: bytes, signature: Signature, task: Task) -> None:
        super().__init__(signature, task)
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeUnavailable("onnxruntime is not installed here") from None

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                data, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception:  # onnxruntime raises its own untyped errors for bad graphs
            raise ValidationFailed("the artifact is not a loadable ONNX model") from None
        self._inputs = self.session.get_inputs()
        self._outputs = [o.name for o in self.session.get_outputs()]
        self._types = [str(o.type) for o in self.session.get_outputs()]
        self._classes = class_labels(data) if task is Task.CLASSIFICATION else None
        self.artifact = data  # the graph itself: explanations read its trees
        names = {f.name for f in signature.inputs}
        self._stacked = len(self._inputs) == 1 and len(self._inputs[0].shape or []) == 2
        if not self._stacked:
            unbound = [i.name for i in self._inputs if i.name not in names]
            if unbound:
                raise ValidationFailed(f"ONNX inputs not in the signature: {unbound}")

    @property
    def class_names(self) -> list[str] | None:
        """The declared classes as the answer spells them, in probability column order."""
        return None if self._classes is None else [class_key(c) for c in self._classes]

    def _feed(self, columns: Columns) -> dict[str, Any]:
        if self._stacked:
            first = self._inputs[0]
            dtype = _NP_TYPES.get(first.type, np.float32)
            return {first.name: self.feature_matrix(columns, dtype)}
        feed: dict[str, Any] = {}
        for node in self._inputs:
            dtype = _NP_TYPES.get(node.type, np.float32)
            values = columns[node.name]
            feed[node.name] = values.astype(dtype).reshape(-1, 1)
        return feed

    def predict(self, columns: Columns) -> Prediction:
        results = self.session.run(None, self._feed(columns))
        labels, probabilities = None, None
        classes: list[Any] | None = self._classes
        dtype: Any = np.float32
        for name, kind, value in zip(self._outputs, self._types, results, strict=True):
            if isinstance(value, list):  # ZipMap: one {class: probability} per row
                keys = list(value[0].keys()) if value else []
                probabilities = np.array([[row[k] for k in keys] for row in value])
                classes, dtype = keys, np.float64 if "double" in kind else np.float32
            elif (
                value.dtype.kind == "f"
                and probabilities is None
                and ("prob" in name.lower() or (value.ndim == 2 and value.shape[1] > 1))
            ):
                probabilities, dtype = np.asarray(value), value.dtype
            elif labels is None:
                labels = np.asarray(value).reshape(len(value), -1)[:, 0]
        if self.task is Task.REGRESSION or probabilities is None:
            if labels is None and probabilities is not None:
                labels = probabilities.reshape(len(probabilities), -1)[:, 0]
            assert labels is not None
            return Prediction(
                values=labels.astype(np.float64) if labels.dtype.kind == "f" else labels
            )
        return classified(settle(probabilities, dtype), classes, labels)
