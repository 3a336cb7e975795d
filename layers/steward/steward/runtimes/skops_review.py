"""Build and check the shipped skops allowlist (:mod:`steward.runtimes.skops_allowlist`).

Every public scikit-learn estimator (``sklearn.utils.all_estimators``, with the instances
scikit-learn's own test suite constructs for it, plus the loss and solver variants below) is
fitted on a bundled dataset and dumped with skops; every type skops does not trust by default
is a candidate. A candidate is shipped when it passes the review rules of
:func:`steward.runtimes.skops_trust.shipped_refusal` (a class defined in ``sklearn.*``,
nothing that runs code, no index-holding type Steward does not bounds-check); the others are
listed as refused with the reason.

    python -m steward.runtimes.skops_review --write   # regenerate the module
    python -m steward.runtimes.skops_review --check   # exit 1 if the module differs

Run it with the scikit-learn and skops versions the scoring image pins
(``layers/deps/sklearn.txt``); it takes about a minute.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steward.runtimes.skops_trust import shipped_refusal

TARGET = Path(__file__).with_name("skops_allowlist.py")


def _variants() -> Iterator[Any]:
    """Fitted-state variants the default constructors miss (other losses and solvers)."""
    from sklearn import calibration, ensemble, linear_model, multiclass, neural_network

    for loss in ("absolute_error", "gamma", "poisson", "quantile"):
        yield ensemble.HistGradientBoostingRegressor(loss=loss, max_iter=5)
    for loss in ("huber", "quantile", "absolute_error"):
        yield ensemble.GradientBoostingRegressor(loss=loss, n_estimators=5)
    yield ensemble.GradientBoostingClassifier(loss="exponential", n_estimators=5)
    for power in (0, 1, 1.5, 2, 3):
        yield linear_model.TweedieRegressor(power=power, link="auto")
    for method in ("isotonic", "sigmoid", "temperature"):
        yield calibration.CalibratedClassifierCV(method=method)
    for solver in ("sgd", "lbfgs"):
        yield neural_network.MLPClassifier(solver=solver, max_iter=50)
    # a code book with a constant column (seeded: the default draws one only sometimes)
    base = linear_model.LogisticRegression(max_iter=300)
    yield multiclass.OutputCodeClassifier(base, code_size=2, random_state=0)


def _data(estimator: Any, binary: bool) -> list[tuple[Any, ...]]:
    import numpy as np
    from sklearn.base import is_classifier, is_regressor
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

    iris, diabetes = load_iris(return_X_y=True), load_diabetes(return_X_y=True)
    cancer = load_breast_cancer(return_X_y=True)
    if is_regressor(estimator):
        x, y = diabetes
        return [(x, y), (x, np.c_[y, y])]
    if is_classifier(estimator):
        return [cancer if binary else iris, cancer]
    return [iris, (iris[0],), (iris[1],)]


def _fitted() -> Iterator[tuple[str, Any]]:
    from sklearn.utils import all_estimators
    from sklearn.utils._test_common.instance_generator import _construct_instances

    candidates: list[tuple[str, Any]] = []
    for name, cls in all_estimators():
        try:
            candidates += [(name, e) for e in _construct_instances(cls)]
        except Exception:  # noqa: S112 - one that needs arguments the generator lacks
            continue
    candidates += [(type(e).__name__, e) for e in _variants()]
    for name, estimator in candidates:
        for binary in (False, True):
            for data in _data(estimator, binary):
                try:
                    yield name, estimator.fit(*data)
                    break
                except Exception:  # noqa: S112 - the next dataset shape may suit it
                    continue
            else:
                continue
            break


def candidates() -> dict[str, set[str]]:
    """Each type skops does not trust by default, with the estimators whose state held it."""
    import numpy as np
    import skops.io as sio

    found: dict[str, set[str]] = defaultdict(set)
    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, estimator in _fitted():
            try:
                data = sio.dumps(estimator)
            except Exception:  # noqa: S112 - skops cannot persist it at all
                continue
            for type_name in sio.get_untrusted_types(data=data):
                found[type_name].add(name)
    return found


def render(found: dict[str, set[str]]) -> str:
    import sklearn
    import skops

    trusted, refused = {}, {}
    for name in sorted(found):
        held = ", ".join(sorted(found[name])[:4]) + (" ..." if len(found[name]) > 4 else "")
        why = shipped_refusal(name)
        if why:
            refused[name] = f"{why} (held by {held})"
        else:
            trusted[name] = f"held by {held}"
    lines = [
        "# ruff: noqa: E501",
        '"""scikit-learn types skops does not trust by default that Steward does: generated by',
        "``python -m steward.runtimes.skops_review --write`` (do not edit by hand) and reviewed",
        'as docs/skops-allowlist.md says."""',
        "",
        f'SKLEARN = "{sklearn.__version__}"',
        f'SKOPS = "{skops.__version__}"',
        "",
        "TRUSTED: dict[str, str] = {",
        *(f'    "{k}": "{v}",' for k, v in trusted.items()),
        "}",
        "",
        "# Found in fitted state and refused by the review: an admin may add the ones that are",
        "# not forbidden (steward.runtimes.skops_trust.forbidden) per deployment.",
        "REFUSED: dict[str, str] = {",
        *(f'    "{k}": "{v}",' for k, v in refused.items()),
        "}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(candidates())
    if args.write:
        TARGET.write_text(text)
        print(f"wrote {TARGET}")
        return 0
    if TARGET.read_text() != text:
        print(f"{TARGET} differs from what this scikit-learn and skops produce: --write, review")
        shipped = TARGET.read_text().splitlines(keepends=True)
        sys.stdout.writelines(difflib.unified_diff(shipped, text.splitlines(keepends=True)))
        return 1
    print(f"{TARGET} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
