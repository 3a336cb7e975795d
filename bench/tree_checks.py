"""What Steward's bounds checks of tree node arrays add to loading a scikit-learn model.

Three 100-tree models on breast cancer (random forest, histogram GBM, gradient boosting),
dumped with skops; seven loads (``skops.io.loads`` with the shipped allowlist) and seven
checks (:func:`steward.runtimes.tree_checks.check_trees`) each, alternating so both see the
same load on a shared machine; medians and their same-run ratio.

    python -m bench.tree_checks
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from steward.runtimes.skops_allowlist import TRUSTED
from steward.runtimes.tree_checks import check_trees


def main() -> None:
    import skops.io as sio
    from sklearn import ensemble
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    models: list[Any] = [
        ensemble.RandomForestClassifier(n_estimators=100, random_state=0),
        ensemble.HistGradientBoostingClassifier(random_state=0),
        ensemble.GradientBoostingClassifier(random_state=0),
    ]
    print("model | trees | skops load (ms) | checks (ms) | checks / load")
    for model in models:
        data = sio.dumps(model.fit(x, y))
        loads, checks, trees = [], [], 0
        for _ in range(7):
            started = time.perf_counter()
            loaded = sio.loads(data, trusted=list(TRUSTED))
            loads.append(time.perf_counter() - started)
            started = time.perf_counter()
            trees = check_trees(loaded)
            checks.append(time.perf_counter() - started)
        load, check = statistics.median(loads), statistics.median(checks)
        print(
            f"{type(model).__name__} | {trees} | {load * 1e3:.1f} | {check * 1e3:.1f} "
            f"| {check / load:.2f}"
        )


if __name__ == "__main__":
    main()
