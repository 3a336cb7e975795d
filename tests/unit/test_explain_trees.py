"""Exact interventional TreeSHAP: against enumeration over every feature coalition, against
``shap`` (dev extra only) on real models, and additivity on every model."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)

from steward.explain.onnx_trees import from_onnx
from steward.explain.sklearn_trees import from_sklearn
from steward.explain.trees import Tree, ensemble, prepare, tree_shap


def enumerate_shapley(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, background: np.ndarray
) -> np.ndarray:
    """The definition: φ_i = Σ_S |S|!(M-|S|-1)!/M! (v(S + i) - v(S)), with v(S) the mean of
    f over the background with the features of S taken from x."""
    m = len(x)
    value = {}
    for members in itertools.product((False, True), repeat=m):
        rows = background.copy()
        rows[:, list(members)] = x[list(members)]
        value[members] = f(rows).mean(axis=0)
    phi = np.zeros((m, *np.shape(value[members])))
    for i in range(m):
        for members, v in value.items():
            if members[i]:
                continue
            s = sum(members)
            weight = math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m)
            with_i = tuple(True if j == i else members[j] for j in range(m))
            phi[i] += weight * (value[with_i] - v)
    return phi


def _small(dataset: Callable[..., tuple[np.ndarray, np.ndarray]], k: int = 6):
    x, y = dataset(return_X_y=True)
    return x[:, :k], y


@pytest.mark.parametrize(
    "model",
    [
        GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
        RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0),
        HistGradientBoostingClassifier(max_iter=8, random_state=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_sklearn_trees_equal_enumeration_over_coalitions(model: object) -> None:
    x, y = _small(load_breast_cancer)
    model.fit(x, y)  # type: ignore[attr-defined]
    trees, link = from_sklearn(model)  # type: ignore[misc]
    f = (
        model.predict_proba  # type: ignore[attr-defined]
        if link == "probability"
        else (lambda r: model.decision_function(r).reshape(len(r), -1))  # type: ignore[attr-defined]
    )
    result = tree_shap(trees, x[:4], x[:25])
    for i in range(2):
        np.testing.assert_allclose(result.values[i], enumerate_shapley(f, x[i], x[:25]), atol=1e-12)
    np.testing.assert_allclose(result.output, f(x[:4]).reshape(4, -1), atol=1e-12)
    np.testing.assert_allclose(result.base + result.values.sum(axis=1), result.output, atol=1e-12)


@st.composite
def random_ensembles(draw: st.DrawFn) -> tuple[list[Tree], int]:
    """Small random trees (repeated features on a path, every split operator, NaN routing)."""
    n_features = draw(st.integers(1, 4))
    trees = []
    for _ in range(draw(st.integers(1, 3))):
        depth = draw(st.integers(0, 4))
        nodes = 2 ** (depth + 1) - 1
        inner = np.arange(nodes) < 2**depth - 1
        feature = np.array([draw(st.integers(0, n_features - 1)) for _ in range(nodes)])
        threshold = np.array([draw(st.sampled_from([-1.0, 0.0, 0.5, 1.0])) for _ in range(nodes)])
        op = np.array([draw(st.integers(0, 5)) for _ in range(nodes)])
        value = np.array([[draw(st.floats(-5, 5))] for _ in range(nodes)])
        trees.append(
            Tree(
                feature=np.where(inner, feature, -1),
                threshold=threshold,
                yes=np.where(inner, 2 * np.arange(nodes) + 1, -1),
                no=np.where(inner, 2 * np.arange(nodes) + 2, -1),
                missing_yes=np.array([draw(st.booleans()) for _ in range(nodes)]),
                value=value,
                op=op,
            )
        )
    return trees, n_features


@settings(max_examples=60, deadline=None)
@given(random_ensembles(), st.integers(0, 2**32 - 1))
def test_random_trees_equal_enumeration(drawn: tuple[list[Tree], int], seed: int) -> None:
    trees, n = drawn
    model = ensemble(trees, np.array([0.25]), n, np.float64)
    rng = np.random.default_rng(seed)
    data = rng.choice([-1.0, 0.0, 0.3, 0.5, 1.0, 2.0, np.nan], size=(6, n))

    def f(rows: np.ndarray) -> np.ndarray:
        return tree_shap(model, rows, rows[:1]).output

    result = tree_shap(model, data[:2], data[2:])
    for i in range(2):
        np.testing.assert_allclose(
            result.values[i], enumerate_shapley(f, data[i], data[2:]), atol=1e-9
        )
    np.testing.assert_allclose(result.base + result.values.sum(axis=1), result.output, atol=1e-9)
    per_row = tree_shap(model, data[:2], prepare(model, data[2:], table_slots=0))
    np.testing.assert_allclose(per_row.values, result.values, atol=1e-12)


def test_tabled_and_per_row_leaves_agree_on_deep_trees() -> None:
    """Leaves testing more than TABLE_SLOTS features are computed row by row: a deep forest
    has both kinds, and the two ways give the same values."""
    from sklearn.ensemble import ExtraTreesRegressor

    x, y = load_diabetes(return_X_y=True)
    model = ExtraTreesRegressor(n_estimators=4, max_depth=14, random_state=0).fit(x, y)
    trees, _ = from_sklearn(model)
    mixed = prepare(trees, x[:60])
    assert len(mixed.tabled) and len(mixed.rest)
    result = tree_shap(trees, x[-20:], mixed)
    per_row = tree_shap(trees, x[-20:], prepare(trees, x[:60], table_slots=0))
    assert not len(prepare(trees, x[:60], table_slots=0).tabled)
    np.testing.assert_allclose(result.values, per_row.values, atol=1e-9)
    np.testing.assert_allclose(result.output, model.predict(x[-20:])[:, None], atol=1e-9)
    np.testing.assert_allclose(result.base + result.values.sum(axis=1), result.output, atol=1e-9)


def _full_trees(
    rng: np.random.Generator, trees: int, depth: int, features: int, outputs: int
) -> list[Tree]:
    """Random complete trees: random features (repeated on a path), thresholds, operators,
    NaN routing and leaf values."""
    nodes = 2 ** (depth + 1) - 1
    inner = np.arange(nodes) < 2**depth - 1
    return [
        Tree(
            feature=np.where(inner, rng.integers(0, features, nodes), -1),
            threshold=rng.normal(0, 1, nodes),
            yes=np.where(inner, 2 * np.arange(nodes) + 1, -1),
            no=np.where(inner, 2 * np.arange(nodes) + 2, -1),
            missing_yes=rng.random(nodes) < 0.5,
            value=rng.normal(0, 1, (nodes, outputs)),
            op=rng.integers(0, 6, nodes),
        )
        for _ in range(trees)
    ]


def test_rows_explained_chunk_by_chunk_equal_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are explained in chunks (the working set stays small): chunks of one row and one
    chunk of every row give the same values, outputs per class too, and the per-row
    computation agrees."""
    from steward.explain import trees as module

    rng = np.random.default_rng(4)
    model = ensemble(_full_trees(rng, 12, 4, 5, 3), rng.normal(0, 1, 3), 5, np.float64)
    x = rng.normal(0, 1, (40, 5))
    x[rng.random(x.shape) < 0.1] = np.nan
    prepared = prepare(model, x[:20])
    whole = tree_shap(model, x, prepared)
    monkeypatch.setattr(module, "_CHUNK_CELLS", 1)
    chunked = tree_shap(model, x, prepared)
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-12)
    np.testing.assert_array_equal(chunked.output, whole.output)
    per_row = tree_shap(model, x, prepare(model, x[:20], table_slots=0))
    np.testing.assert_allclose(per_row.values, whole.values, atol=1e-12)
    np.testing.assert_allclose(whole.base + whole.values.sum(axis=1), whole.output, atol=1e-12)


def test_subtrees_tabled_at_every_key_width_equal_the_per_row_computation() -> None:
    """A table per subtree (its key: a bit per feature of the path down to it, one per split
    below): whatever the widest key allowed, and so wherever the subtrees start (a whole
    tree, below a path that tests some of their features again, a leaf alone, or per row),
    the values and outputs are the per-row computation's, on repeated features, every
    operator, NaN routing and three outputs."""
    rng = np.random.default_rng(8)
    model = ensemble(_full_trees(rng, 6, 5, 4, 3), rng.normal(0, 1, 3), 4, np.float64)
    x = rng.normal(0, 1, (30, 4))
    x[rng.random(x.shape) < 0.15] = np.nan
    per_row = tree_shap(model, x, prepare(model, x[:12], table_slots=0))
    leaf_slots = int(np.bitwise_count(model.paths.valid).sum())
    for width in range(1, 9):
        prepared = prepare(model, x[:12], table_slots=width)
        result = tree_shap(model, x, prepared)
        np.testing.assert_allclose(result.values, per_row.values, atol=1e-12)
        np.testing.assert_allclose(result.output, per_row.output, atol=1e-12)
        assert len(prepared.tabled) + len(prepared.rest) == model.paths.n_leaves
        if width >= 6:  # most leaves share a subtree's table: fewer lookups than leaf slots
            assert len(prepared.unit_mask) < len(prepared.tabled)
            assert len(prepared.cell_unit) < leaf_slots / 2


def test_explaining_many_rows_of_a_large_ensemble_takes_bounded_memory() -> None:
    """Attribution drift explains ~500 rows at once: on 100 trees of depth 6 (6,400 leaves)
    the working memory stays under 48 MB (it peaked at ~330 MB, in (rows, conditions) and
    (rows, leaves, slots) temporaries that cost about 1 s per evaluation, issue #17)."""
    import tracemalloc

    rng = np.random.default_rng(5)
    model = ensemble(_full_trees(rng, 100, 6, 20, 1), np.zeros(1), 20, np.float64)
    x = rng.normal(0, 1, (500, 20))
    x[rng.random(x.shape) < 0.02] = np.nan
    prepared = prepare(model, rng.normal(0, 1, (100, 20)))
    tracemalloc.start()
    try:
        result = tree_shap(model, x, prepared)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.0f} MB"
    np.testing.assert_allclose(result.base + result.values.sum(axis=1), result.output, atol=1e-9)


# -- agreement with shap -----------------------------------------------------------------------

shap = pytest.importorskip("shap")


def _f32(x: np.ndarray) -> np.ndarray:
    """Data whose values are float32 numbers: scikit-learn's trees compare float32(x) with
    their float64 thresholds and shap compares x itself, so on such data both agree."""
    return x.astype(np.float32).astype(np.float64)


def _shap(
    model: object, x: np.ndarray, background: np.ndarray, output: str
) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.TreeExplainer(
            model, background, feature_perturbation="interventional", model_output=output
        )
        values = np.asarray(explainer.shap_values(x, check_additivity=False))
    values = values if values.ndim == 3 else values[:, :, None]
    return values, np.asarray(explainer.expected_value).reshape(-1)


def _classifiers() -> list[tuple[object, Callable, str]]:
    """Real models: gradient boosting on breast cancer, a random forest on wine."""
    return [
        (
            GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
            load_breast_cancer,
            "raw",
        ),
        (
            RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0),
            load_wine,
            "probability",
        ),
    ]


def _margin(model: object, output: str) -> Callable[[np.ndarray], np.ndarray]:
    if output == "probability":
        return model.predict_proba  # type: ignore[attr-defined,no-any-return]
    method = getattr(model, "decision_function", None) or model.predict  # type: ignore[attr-defined]
    return lambda rows: np.asarray(method(rows)).reshape(len(rows), -1)


@pytest.mark.parametrize(
    ("model", "dataset", "output"),
    [
        *_classifiers(),
        (HistGradientBoostingRegressor(max_iter=30, random_state=0), load_diabetes, "raw"),
    ],
    ids=["gbc-breast-cancer", "rf-wine", "hgb-diabetes"],
)
def test_sklearn_trees_agree_with_shap(model: object, dataset: Callable, output: str) -> None:
    """float64 models: to 1e-6, and every attribution adds up to the model's own output."""
    x, y = dataset(return_X_y=True)
    x = _f32(x)[:, :7] if dataset is load_wine else _f32(x)
    model.fit(x, y)  # type: ignore[attr-defined]
    trees, _ = from_sklearn(model)  # type: ignore[misc]
    rows, background = x[100:140], x[:100]
    result = tree_shap(trees, rows, background)
    expected, base = _shap(model, rows, background, output)
    truth = _margin(model, output)(rows)
    np.testing.assert_allclose(result.output, truth, atol=1e-9)
    np.testing.assert_allclose(result.base + result.values.sum(axis=1), truth, atol=1e-9)
    np.testing.assert_allclose(result.base, base, atol=1e-6)
    _agree(result.values, expected, 1e-6, _margin(model, output), rows, background)


def _agree(
    values: np.ndarray,
    expected: np.ndarray,
    atol: float,
    f: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
) -> None:
    """Ours equal shap's to ``atol`` on most rows; on the others (where shap's TreeExplainer
    routes a mixed row differently from the model's own splits: float32 rounding of the
    thresholds), enumeration over the coalitions with the model's own outputs decides."""
    close = (np.abs(values - expected) <= atol).all(axis=(1, 2))
    assert close.mean() >= 0.75
    for i in np.flatnonzero(~close):
        reference = enumerate_shapley(f, rows[i], background)
        np.testing.assert_allclose(values[i], reference.reshape(values[i].shape), atol=atol)


def test_all_wine_features_equal_enumeration() -> None:
    """On all 13 wine features (with the first 100 rows as background) shap's values for
    this forest miss the model's own output by 5e-4 on every row; enumeration over the 8,192
    coalitions is the referee."""
    x, y = load_wine(return_X_y=True)
    x = _f32(x)
    model = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(x, y)
    trees, _ = from_sklearn(model)  # type: ignore[misc]
    result = tree_shap(trees, x[100:101], x[:20])
    reference = enumerate_shapley(model.predict_proba, x[100], x[:20])
    np.testing.assert_allclose(result.values[0], reference, atol=1e-12)


def _onnx(model: object, x: np.ndarray) -> bytes:
    from skl2onnx import to_onnx

    options = {id(model): {"zipmap": False}}
    return to_onnx(model, x[:1].astype(np.float32), options=options).SerializeToString()


@pytest.mark.parametrize(
    ("model", "dataset", "output"),
    _classifiers(),
    ids=["gbc-breast-cancer", "rf-wine"],
)
def test_onnx_trees_agree_with_shap_and_onnxruntime(
    model: object, dataset: Callable, output: str
) -> None:
    """float32 graphs: shap explains the scikit-learn model the graph was converted from."""
    import onnxruntime as ort

    x, y = dataset(return_X_y=True)
    x = _f32(x)[:, :7] if dataset is load_wine else _f32(x)
    model.fit(x, y)  # type: ignore[attr-defined]
    data = _onnx(model, x)
    trees, link = from_onnx(data, x.shape[1])  # type: ignore[misc]
    result = tree_shap(trees, x[100:140], x[:100])
    expected, base = _shap(model, x[100:140], x[:100], output)
    if result.values.shape[2] == 1 and expected.shape[2] == 2:
        expected, base = expected[:, :, 1:], base[1:]
    probabilities = ort.InferenceSession(data).run(None, {"X": x[100:140].astype(np.float32)})[1]
    session = ort.InferenceSession(data)

    def graph(rows: np.ndarray) -> np.ndarray:
        out = session.run(None, {"X": rows.astype(np.float32)})[1].astype(np.float64)
        if link == "logistic":
            return np.asarray(np.log(out[:, 1:] / out[:, :1]))
        return np.asarray(out[:, -result.values.shape[2] :])

    _agree(result.values, expected, 1e-4, graph, x[100:140], x[:100])
    margin = result.output
    if link == "logistic":
        np.testing.assert_allclose(1 / (1 + np.exp(-margin[:, 0])), probabilities[:, 1], atol=1e-6)
    else:
        np.testing.assert_allclose(margin, probabilities, atol=1e-6)
    scale = np.maximum(1, np.abs(result.output))
    assert (np.abs(result.base + result.values.sum(axis=1) - result.output) <= 1e-4 * scale).all()


def test_a_graph_that_is_not_a_tree_ensemble_is_not_read_as_one() -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    linear = LogisticRegression(max_iter=500).fit(x, y)
    assert from_onnx(to_onnx(linear, x[:1].astype(np.float32)).SerializeToString(), 30) is None
    scaled = make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=3)).fit(x, y)
    graph = to_onnx(scaled, x[:1].astype(np.float32)).SerializeToString()
    assert from_onnx(graph, 30) is None  # the trees see scaled features, not the inputs
    assert from_onnx(b"not a model", 30) is None
