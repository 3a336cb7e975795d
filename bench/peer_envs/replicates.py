"""The replicates of ``bench/drift_quality.py``: one generator, numpy only, imported by
Steward's side and by the peers' runner (``bench/peer_envs/quality.py``, in the peers' own
virtualenvs), so that every tool judges the same rows (each side reports a checksum of what
it generated, and the bench compares them).

Six features: ``n0`` normal(0, 1), ``n1`` normal(5, 2), ``n2`` lognormal(0, 0.5), ``n3``
Poisson(4) (ties), ``c0`` five equally likely categories, ``c1`` four skewed ones. A drifted
replicate changes one feature of the window (``TARGET``); the reference never drifts. Every
replicate draws its own reference (``reference_rows(n)`` rows) and its own window from its
own seed.
"""

from __future__ import annotations

import zlib

import numpy as np

NUMERIC = ["n0", "n1", "n2", "n3"]
CATEGORICAL = ["c0", "c1"]
CASES = (
    "none",
    "shift_0.1",
    "shift_0.25",
    "shift_0.5",
    "variance_1.5",
    "new_category_10%",
    "missing_20%",
)
TARGET = {c: ("c0" if c.startswith("new_category") else "n0") for c in CASES if c != "none"}
C0 = np.array(["a", "b", "c", "d", "e"], dtype="<U3")
C1 = np.array(["p", "q", "r", "s"], dtype="<U3")


def reference_rows(n: int) -> int:
    """Ten times the window (NannyML's default thresholds need reference chunks of the
    window's size: ten of them), two times at a million rows to stay within memory."""
    return 10 * n if n <= 100_000 else 2 * n


def seed(n: int, case: str, replicate: int) -> int:
    return zlib.crc32(f"{n}/{case}/{replicate}".encode())


def columns(rows: int, rng: np.random.Generator, case: str) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {
        "n0": rng.normal(0.0, 1.0, rows),
        "n1": rng.normal(5.0, 2.0, rows),
        "n2": rng.lognormal(0.0, 0.5, rows),
        "n3": rng.poisson(4.0, rows).astype(np.float64),
        "c0": rng.choice(C0, rows),
        "c1": rng.choice(C1, rows, p=[0.6, 0.25, 0.1, 0.05]),
    }
    if case.startswith("shift_"):
        cols["n0"] += float(case.removeprefix("shift_"))  # in standard deviations (1)
    elif case == "variance_1.5":
        cols["n0"] *= np.sqrt(1.5)
    elif case == "new_category_10%":
        cols["c0"][rng.random(rows) < 0.1] = "new"
    elif case == "missing_20%":
        cols["n0"][rng.random(rows) < 0.2] = np.nan
    return cols


def replicate(n: int, case: str, index: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(reference, window) of one replicate."""
    rng = np.random.default_rng(seed(n, case, index))
    return columns(reference_rows(n), rng, "none"), columns(n, rng, case)


def checksum(reference: dict[str, np.ndarray], window: dict[str, np.ndarray]) -> float:
    """What both sides compare to know they judged the same rows."""
    return round(float(np.nansum(reference["n0"]) + np.nansum(window["n0"])), 6)
