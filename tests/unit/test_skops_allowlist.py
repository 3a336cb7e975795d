"""The shipped skops allowlist: only scikit-learn's own classes, nothing that runs code;
scikit-learn's tree models load and answer as scikit-learn does; crafted node arrays are
refused before anything predicts; an admin extends the list, never with a forbidden name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sklearn
import skops.io as sio
from sklearn import ensemble, tree
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steward import config
from steward.domain.errors import ValidationFailed
from steward.domain.frames import Columns
from steward.domain.models import Flavor, Signature, Task
from steward.runtimes.loader import load_runtime
from steward.runtimes.skops_allowlist import REFUSED, SKLEARN, TRUSTED
from steward.runtimes.skops_trust import (
    forbidden,
    parse_extra,
    shipped_refusal,
    trust_added,
)

HGB = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
TREE = "sklearn.tree._tree.Tree"
DANGEROUS = [
    "builtins.eval",
    "builtins.exec",
    "builtins.getattr",
    "builtins.__import__",
    "functools.partial",
    "os.system",
    "subprocess.Popen",
    "numpy.load",
    "numpy.vectorize",
    "numpy.frompyfunc",
    "numpy.lib.npyio.NpzFile",
    "pickle.loads",
    "operator.attrgetter",
    "importlib.import_module",
]


@pytest.mark.parametrize("name", sorted(TRUSTED))
def test_every_shipped_type_is_a_scikit_learn_class_that_runs_no_code(name: str) -> None:
    assert shipped_refusal(name) is None, name


@pytest.mark.parametrize("name", DANGEROUS)
def test_the_review_refuses_callables_that_run_code_for_anyone(name: str) -> None:
    assert forbidden(name) and shipped_refusal(name)
    with pytest.raises(ValueError, match="never trusted"):
        parse_extra([name])


def test_the_review_refuses_what_is_outside_sklearn_or_not_a_class() -> None:
    assert shipped_refusal("numpy.dtype") == "outside scikit-learn"
    assert shipped_refusal("sklearn.feature_selection._univariate_selection.f_classif")
    assert "bounds" in str(shipped_refusal("sklearn.neighbors._kd_tree.KDTree"))
    assert shipped_refusal("sklearn.utils.validation.check_array")  # a function
    assert shipped_refusal("sklearn.base.clone") is not None
    assert not set(TRUSTED) & set(REFUSED)


def test_the_list_was_generated_with_the_installed_scikit_learn() -> None:
    """Regenerate and review on an upgrade: python -m steward.runtimes.skops_review --write."""
    assert sklearn.__version__ == SKLEARN
    assert {HGB, TREE} <= set(TRUSTED)


def _runtime(model: Any, task: Task, n: int) -> Any:
    sig = Signature.model_validate({"inputs": [{"name": f"f{i}"} for i in range(n)]})
    return load_runtime(Flavor.SKLEARN, sio.dumps(model), sig, task)


def _columns(x: np.ndarray) -> Columns:
    return {f"f{i}": x[:, i] for i in range(x.shape[1])}


def test_hist_gradient_boosting_regressor_on_diabetes_answers_as_sklearn() -> None:
    x, y = load_diabetes(return_X_y=True)
    model = ensemble.HistGradientBoostingRegressor(max_iter=50).fit(x, y)
    served = _runtime(model, Task.REGRESSION, x.shape[1]).predict(_columns(x))
    np.testing.assert_allclose(served.values, model.predict(x), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "model",
    [
        ensemble.HistGradientBoostingClassifier(max_iter=30),
        ensemble.RandomForestClassifier(n_estimators=20, random_state=0),
        ensemble.GradientBoostingClassifier(n_estimators=20),
        tree.DecisionTreeClassifier(max_depth=4),
    ],
    ids=lambda m: type(m).__name__,
)
def test_tree_classifiers_on_breast_cancer_answer_as_sklearn(model: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model.fit(x, y)
    served = _runtime(model, Task.CLASSIFICATION, x.shape[1]).predict(_columns(x))
    np.testing.assert_allclose(served.scores, model.predict_proba(x)[:, 1], atol=1e-9)
    assert (served.values == model.predict(x)).all()


def _crafted(model: Any, edit: Any) -> bytes:
    edit(model)
    return sio.dumps(model)


def _predictor_nodes(model: Any) -> np.ndarray:
    nodes: np.ndarray = model._predictors[0][0].nodes
    return nodes


def _split(nodes: np.ndarray, flag: str = "is_leaf") -> int:
    return int(np.flatnonzero(nodes[flag] == 0)[0])


def _hgb_edits() -> Iterator[tuple[str, Any]]:
    def child(m: Any) -> None:
        nodes = _predictor_nodes(m)
        nodes["left"][_split(nodes)] = 10**6

    def cycle(m: Any) -> None:
        nodes = _predictor_nodes(m)
        nodes["right"][_split(nodes)] = 0

    def feature(m: Any) -> None:
        nodes = _predictor_nodes(m)
        nodes["feature_idx"][_split(nodes)] = 10**6

    def bitset(m: Any) -> None:
        nodes = _predictor_nodes(m)
        nodes["is_categorical"][_split(nodes)] = 1
        nodes["bitset_idx"][_split(nodes)] = 7

    yield from [("child", child), ("cycle", cycle), ("feature", feature), ("bitset", bitset)]


@pytest.mark.parametrize("label,edit", list(_hgb_edits()), ids=lambda v: str(v)[:7])
def test_a_crafted_histogram_gbm_is_refused_before_it_predicts(label: str, edit: Any) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = ensemble.HistGradientBoostingClassifier(max_iter=3).fit(x, y)
    data = _crafted(model, edit)
    sig = Signature.model_validate({"inputs": [{"name": f"f{i}"} for i in range(x.shape[1])]})
    with pytest.raises(ValidationFailed, match=r"tree at model\._predictors\[0\]\[0\]"):
        load_runtime(Flavor.SKLEARN, data, sig, Task.CLASSIFICATION)


def _set_tree(model: Any, **changes: Any) -> None:
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    inner = int(np.flatnonzero(nodes["left_child"] != -1)[0])
    for field, value in changes.items():
        if field == "max_depth":
            state["max_depth"] = value
        else:
            nodes[field][inner] = value
    model.tree_.__setstate__({**state, "nodes": nodes})


@pytest.mark.parametrize(
    "changes",
    [
        {"left_child": 10**6},
        {"right_child": 0},
        {"feature": 10**6},
        {"feature": -5},
        {"max_depth": 1},
    ],
    ids=str,
)
def test_a_crafted_decision_tree_is_refused_before_it_predicts(changes: dict[str, int]) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = tree.DecisionTreeClassifier(max_depth=4).fit(x, y)
    _set_tree(model, **changes)
    with pytest.raises(ValidationFailed, match=r"tree at model\.tree_ is malformed"):
        _runtime(model, Task.CLASSIFICATION, x.shape[1])


@pytest.fixture
def admin_trusts() -> Iterator[Any]:
    yield trust_added
    trust_added([])


def test_an_untrusted_type_is_named_with_how_to_allow_it_and_an_admin_can(
    admin_trusts: Any,
) -> None:
    x, y = load_wine(return_X_y=True)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x, y)
    with pytest.raises(ValidationFailed) as refused:
        _runtime(model, Task.CLASSIFICATION, x.shape[1])
    message = str(refused.value)
    assert "does not trust: numpy.dtype" in message
    assert "steward:skopsTrusted" in message and "STEWARD_SKOPS_TRUSTED" in message
    admin_trusts(["numpy.dtype"])
    served = _runtime(model, Task.CLASSIFICATION, x.shape[1]).predict(_columns(x))
    assert (served.values == model.predict(x)).all()


def test_a_forbidden_type_stays_refused_whatever_the_deployment_says(
    admin_trusts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="never trusted"):
        admin_trusts(["numpy.dtype", "builtins.eval"])
    monkeypatch.setenv("STEWARD_SKOPS_TRUSTED", "numpy.dtype,builtins.eval")
    with pytest.raises(ValueError, match=r"never trusted \(builtins.eval"):
        config.Settings.from_env()
    monkeypatch.setenv("STEWARD_SKOPS_TRUSTED", "numpy.dtype, scipy.sparse._csr.csr_matrix")
    assert config.Settings.from_env().skops_trusted == [
        "numpy.dtype",
        "scipy.sparse._csr.csr_matrix",
    ]
