"""Retrain with the team's own code, on the local platform over HTTP: the breast-cancer
gradient-boosted ONNX model, its trainer ``examples/trainers/gbm``, from ``POST .../retrain``
to the new version registered (the retrain state machine: lease, training set from the
logs joined with the labels, the trainer in its cached environment, holdout metrics,
registration). The trainer process's own time (the audit event ``retrain.trained``) is
reported apart from Steward's overhead (the rest).

Targets (issue 16): the loop < 60 s with the trainer's environment cached; Steward's
overhead < 2 s. A first run warms the environment cache and is not counted. Prints medians
of N runs. Run: `.venv/bin/python -m bench.retrain [-n 3]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from steward.client import Client
from steward.local.platform import LocalPlatform
from tests.factories import gbm_in_production

GBM = Path(__file__).resolve().parents[1] / "examples" / "trainers" / "gbm"
TARGET_S, OVERHEAD_S = 60.0, 2.0


def _until(check: Any, timeout_s: float = 300) -> Any:
    deadline = time.perf_counter() + timeout_s
    while not (found := check()):
        if time.perf_counter() > deadline:
            raise TimeoutError("the retrained version never came")
        time.sleep(0.02)
    return found


def _trainer_seconds(alice: Client, name: str) -> float:
    """The trainer process's time, from the audit event ``retrain.trained``."""
    events = alice.get(f"/models/{name}/audit")["items"]
    [trained] = [e for e in events if e["action"] == "retrain.trained"]
    return float(trained["after"]["seconds"])


def one_run(platform: LocalPlatform, name: str) -> dict[str, float]:
    alice = Client(url=platform.url, user="alice")
    retrain = {"trainer": "custom", "on_drift": False, "cooldown_hours": 0, "min_labels": 100}
    gbm_in_production(alice, name, retrain, platform.flush, _until)
    requirements = (GBM / "requirements.txt").read_text().split()
    alice.set_trainer(name, str(GBM), requirements=requirements)

    t0 = time.perf_counter()
    run = alice.post(f"/models/{name}/retrain", {})
    _until(lambda: alice.get(f"/models/{name}")["latest_version"] >= 2)
    total = time.perf_counter() - t0
    assert run["run"]
    trainer = _trainer_seconds(alice, name)
    return {"total": total, "trainer": trainer, "overhead": total - trainer}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3, help="counted runs (after one warm-up)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as data,
        LocalPlatform(port=0, data_dir=Path(data)) as platform,
    ):
        one_run(platform, "bench-retrain-warm")  # builds the trainer's environment
        runs = [one_run(platform, f"bench-retrain-{i}") for i in range(args.n)]
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"retrain with the team's trainer (examples/trainers/gbm), medians of {args.n} runs:")
    print(
        f"  POST retrain -> version registered  {medians['total']:6.2f} s  (target < {TARGET_S:g})"
    )
    print(f"  the trainer process                 {medians['trainer']:6.2f} s")
    overhead = medians["overhead"]
    print(f"  Steward's overhead                  {overhead:6.2f} s  (target < {OVERHEAD_S:g})")


if __name__ == "__main__":
    main()
