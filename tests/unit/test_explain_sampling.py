"""sampling_shap: permutation sampling of interventional Shapley values for any ONNX graph.

Against exact enumeration over every coalition (models of at most 8 features), the error of
each attribution is measured in its own reported standard error, over seeds: the z-scores
must look standard normal (calibrated, none past 4, at most 2% past 3). Additivity holds to
float precision on every model; a budget that cannot reach the stated error is refused with
a 422 naming it; and ``shap``'s exact explainer (dev extra only) computes the same game."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from steward.domain.errors import ExplanationBudgetExceeded, ValidationFailed
from steward.domain.frames import Columns
from steward.domain.models import Signature, Task
from steward.explain.explainer import Explainer
from steward.explain.sampling import Budget, sampling_shap
from steward.runtimes.onnx import OnnxRuntime
from tests.unit.test_explain_trees import enumerate_shapley


def _onnx(model: Any, x: np.ndarray, task: Task) -> OnnxRuntime:
    from skl2onnx import to_onnx

    options = {id(model): {"zipmap": False}} if task is Task.CLASSIFICATION else None
    graph = to_onnx(model, x[:1].astype(np.float32), options=options).SerializeToString()
    names = [f"f{i}" for i in range(x.shape[1])]
    signature = Signature.model_validate({"inputs": [{"name": n, "type": "double"} for n in names]})
    return OnnxRuntime(graph, signature, task)


def _columns(x: np.ndarray) -> Columns:
    return {f"f{i}": x[:, i].astype(np.float64) for i in range(x.shape[1])}


def _models() -> list[tuple[str, OnnxRuntime, np.ndarray]]:
    """Small ONNX graphs no exact method reads: an MLP on breast cancer, a scaler + logistic
    pipeline on wine (three classes), a calibrated SVC on breast cancer and an MLP
    regressor on diabetes (6 to 8 features: enumeration stays cheap)."""
    cancer, cancer_y = load_breast_cancer(return_X_y=True)
    wine, wine_y = load_wine(return_X_y=True)
    diabetes, diabetes_y = load_diabetes(return_X_y=True)
    c6, w7, d8 = cancer[:, :6], wine[:, :7], diabetes[:, :8]
    mlp = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=0)
    )
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    svc = make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(), ensemble=False))
    regressor = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(16,), max_iter=800, random_state=0, learning_rate_init=0.01
        ),
    )
    return [
        ("mlp", _onnx(mlp.fit(c6, cancer_y), c6, Task.CLASSIFICATION), c6),
        ("logistic3", _onnx(logistic.fit(w7, wine_y), w7, Task.CLASSIFICATION), w7),
        ("svc", _onnx(svc.fit(c6, cancer_y), c6, Task.CLASSIFICATION), c6),
        ("mlp_regressor", _onnx(regressor.fit(d8, diabetes_y), d8, Task.REGRESSION), d8),
    ]


MODELS = _models()


def _game(explainer: Explainer) -> Callable[[np.ndarray], np.ndarray]:
    """The explained output as a function of a float matrix (all columns)."""

    def f(rows: np.ndarray) -> np.ndarray:
        return explainer._outputs(_columns(rows))

    return f


@pytest.mark.parametrize(("name", "runtime", "x"), MODELS, ids=[m[0] for m in MODELS])
def test_errors_are_within_the_reported_standard_errors_of_exact_enumeration(
    name: str, runtime: OnnxRuntime, x: np.ndarray
) -> None:
    explainer = Explainer(runtime, _columns(x[:150]))
    assert explainer.method == "sampling_shap"
    f = _game(explainer)
    rows = x[-3:]
    exact = [enumerate_shapley(f, row, x[:100]) for row in rows]
    z: list[float] = []
    for seed in range(6):
        result = sampling_shap(
            explainer._outputs, explainer.names, _columns(rows), explainer.background, seed=seed
        )
        for i in range(len(rows)):
            truth = exact[i][:, result.pick[i]]
            assert result.stderr[i].max() <= result.target[i]
            z += ((result.values[i] - truth) / result.stderr[i]).tolist()
            # additivity: exact, whatever the sampling noise
            total = result.base[i] + result.values[i].sum()
            assert abs(total - result.output[i]) <= 1e-12 * max(1.0, abs(result.output[i]))
    scores = np.abs(np.array(z))
    assert scores.max() < 4.0, scores.max()
    assert (scores > 3.0).mean() <= 0.02
    assert 0.5 < float((scores**2).mean()) < 1.6  # calibrated, neither loose nor tight


def test_the_explainer_answers_log_odds_of_the_predicted_class_with_errors() -> None:
    _, runtime, x = MODELS[1]  # three wine classes
    explainer = Explainer(runtime, _columns(x[:150]))
    explanation = explainer.explain(_columns(x[[0, 80, 170]]))
    assert (explanation.method, explanation.output_space) == ("sampling_shap", "log_odds")
    prediction = runtime.predict(_columns(x[[0, 80, 170]]))
    assert explanation.classes == [str(v) for v in prediction.values.tolist()]
    assert prediction.probabilities is not None
    p = prediction.probabilities.max(axis=1)
    np.testing.assert_allclose(explanation.outputs, np.log(p / (1 - p)), rtol=1e-6)
    assert explanation.errors is not None and explanation.evaluations is not None
    for base, attributions, output in zip(
        explanation.base, explanation.attributions, explanation.outputs, strict=True
    ):
        assert base is not None
        assert abs(base + sum(attributions.values()) - output) <= 1e-9


def test_same_request_same_answer() -> None:
    _, runtime, x = MODELS[0]
    explainer = Explainer(runtime, _columns(x[:100]))
    first = explainer.explain(_columns(x[-2:]))
    assert explainer.explain(_columns(x[-2:])).attributions == first.attributions


def test_a_budget_that_cannot_reach_the_error_is_refused_naming_it() -> None:
    _, runtime, x = MODELS[0]
    explainer = Explainer(runtime, _columns(x[:100]))
    with pytest.raises(ExplanationBudgetExceeded, match=r"budget of 5000 model evaluations"):
        explainer.explain(_columns(x[-1:]), Budget(evaluations=5000, error=1e-4))
    # too small even for the pilot (two blocks of 100 units of 10 evaluations)
    with pytest.raises(ExplanationBudgetExceeded, match=r"budget of 1000 model evaluations"):
        explainer.explain(_columns(x[-1:]), Budget(evaluations=1000))
    assert issubclass(ExplanationBudgetExceeded, ValidationFailed)  # answered 422
    # a looser error fits the same budget
    loose = explainer.explain(_columns(x[-1:]), Budget(evaluations=5000, error=0.5))
    assert loose.evaluations is not None and loose.evaluations[0] <= 5000


def test_a_single_feature_takes_the_whole_difference() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    runtime = _onnx(
        LogisticRegression(max_iter=500).fit(x[:, :1], y), x[:, :1], Task.CLASSIFICATION
    )
    explainer = Explainer(runtime, _columns(x[:100, :1]))
    explanation = explainer.explain(_columns(x[-2:, :1]))
    for base, attributions, output in zip(
        explanation.base, explanation.attributions, explanation.outputs, strict=True
    ):
        assert base is not None and base + attributions["f0"] == pytest.approx(output, abs=1e-12)


def test_a_scikit_learn_pipeline_from_skops_is_sampled_too() -> None:
    """The same estimator over a skops model (the scoring image function): a logistic
    pipeline whose log-odds stay far from the clip is an additive game, which every sampled
    order credits exactly: the answer equals enumeration to float precision."""
    import skops.io as sio

    from steward.runtimes.sklearn import SklearnRuntime

    x, y = load_breast_cancer(return_X_y=True)
    x = x[:, :5]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=500)).fit(x, y)
    names = [f"f{i}" for i in range(5)]
    signature = Signature.model_validate({"inputs": [{"name": n, "type": "double"} for n in names]})
    runtime = SklearnRuntime(sio.dumps(model), signature, Task.CLASSIFICATION)
    explainer = Explainer(runtime, _columns(x[:100]))
    assert explainer.method == "sampling_shap"
    explanation = explainer.explain(_columns(x[-2:]))
    assert explanation.errors is not None
    for i, attributions in enumerate(explanation.attributions):
        truth = enumerate_shapley(_game(explainer), x[-2 + i], x[:100])[:, 0]
        error = explanation.errors[i]
        base = explanation.base[i]
        assert base is not None
        assert abs(base + sum(attributions.values()) - explanation.outputs[i]) <= 1e-12
        for j, name in enumerate(names):
            assert abs(attributions[name] - truth[j]) <= 4 * error[name] + 1e-9


def test_where_the_graph_cannot_run_the_explanation_is_unavailable_not_an_error() -> None:
    """The drift function reads ONNX graphs as bytes (no onnxruntime): a graph only
    sampling_shap explains gives a ValidationFailed there, which attribution drift reports
    as its reason, instead of failing the evaluation."""
    from steward.drift.attributions import GraphRuntime

    _, runtime, x = MODELS[0]
    graph = GraphRuntime(runtime.artifact, runtime.signature, runtime.task)
    explainer = Explainer(graph, _columns(x[:100]))
    assert explainer.method == "sampling_shap"
    with pytest.raises(ValidationFailed, match="not installed here"):
        explainer.explain(_columns(x[-1:]))


# -- agreement with shap ---------------------------------------------------------------------

shap = pytest.importorskip("shap")


@pytest.mark.parametrize(("name", "runtime", "x"), MODELS[:2], ids=[m[0] for m in MODELS[:2]])
def test_shap_exact_explainer_computes_the_same_game(
    name: str, runtime: OnnxRuntime, x: np.ndarray
) -> None:
    """shap's Exact explainer with an Independent masker over the same 100 background rows is
    the interventional game enumerated: it equals our enumeration, and our estimate lies
    within 4 of its standard errors of it on every feature."""
    explainer = Explainer(runtime, _columns(x[:150]))
    f = _game(explainer)
    rows = x[-4:]
    result = sampling_shap(
        explainer._outputs, explainer.names, _columns(rows), explainer.background
    )
    masker = shap.maskers.Independent(x[:100], max_samples=100)
    values = shap.explainers.Exact(f, masker)(rows).values  # (rows, features[, outputs])
    for i in range(len(rows)):
        theirs = values[i] if values.ndim == 2 else values[i][:, result.pick[i]]
        np.testing.assert_allclose(
            theirs, enumerate_shapley(f, rows[i], x[:100])[:, result.pick[i]], atol=1e-9
        )
        assert (np.abs(result.values[i] - theirs) < 4 * result.stderr[i]).all()
