"""Interventional Shapley values of any model by sampling, with a standard error and a budget.

The game is the one :mod:`.trees` computes exactly: with the background's rows ``z`` (the first
``min(100, n)`` reference rows), ``v(S) = mean_z g(x_S, z_rest)`` where ``g`` is the model's
output in its explained space. Here the model is a black box (any ONNX graph), so the values
are estimated by permutation sampling (Štrumbelj & Kononenko 2014) with antithetic pairs
(Mitchell et al. 2022):

* a sample unit is a random feature order ``π`` and a background row ``z``; the unit walks
  from ``z`` to ``x`` adding features in the order ``π`` and again in the reverse order, and
  credits each feature with its two marginal contributions' mean; that costs ``2 (M - 1)``
  model evaluations (the walk's ends, ``g(z)`` and ``g(x)``, are known); each unit is
  unbiased for the exact values and sums to ``g(x) - g(z)``;
* units come in blocks of one per background row, so every block's mean sums to
  ``g(x) - base`` exactly: ``base + Σ φ = g(x)`` holds to float precision (the last
  rounding residual is spread over the features by their variances);
* the background rows are strata: the standard error of each feature is
  ``sqrt(Σ_z s²_z / (m² B))`` over ``B`` blocks, ``s²_z`` the variance of the units with row
  ``z`` across blocks (``m (B - 1)`` degrees of freedom).

Sampling goes in rounds: a pilot of ``PILOT_BLOCKS`` blocks (and at least ``PILOT_UNITS``
units), then as many blocks as the pilot's variances say the stated error needs. The
variances are estimated from the sample: a feature whose contribution changes only on rare
(order, background row) pairs, e.g. where a classifier's probability reaches the clip, can
show less variance than it has until such pairs are drawn. When the number needed does not
fit the budget (model evaluations per record), the record is refused with
:class:`ExplanationBudgetExceeded` rather than answered less precisely than stated. Draws
are seeded: the same request gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from steward.domain.errors import ExplanationBudgetExceeded, ValidationFailed
from steward.domain.frames import Columns, n_rows
from steward.domain.models import EXPLAIN_BUDGET, MAX_EXPLAIN_BUDGET

RELATIVE_ERROR = 0.01  # default target: 1% of the output's standard deviation over the background
PILOT_UNITS = 32  # at least this many units, and PILOT_BLOCKS blocks, before the first estimate
PILOT_BLOCKS = 4
_ROWS_PER_CALL = 60_000  # model rows per call: bounds the working memory

Model = Callable[[Columns], np.ndarray]  # columns -> (rows, outputs), the explained space


@dataclass(frozen=True)
class Budget:
    """``evaluations``: model evaluations allowed per record; ``error``: the standard error
    to reach on every feature, in output units (None: ``RELATIVE_ERROR`` times the standard
    deviation of the output over the background)."""

    evaluations: int = EXPLAIN_BUDGET
    error: float | None = None


@dataclass
class SamplingShap:
    """Per record: ``values`` (rows, features), their standard errors ``stderr``, ``base``
    (the background's mean output of the explained column), ``output`` (g(x)), ``pick`` (the
    explained output column: the predicted class when there are several), ``evaluations``
    (model evaluations spent) and ``target`` (the standard error aimed at)."""

    values: np.ndarray
    stderr: np.ndarray
    base: np.ndarray
    output: np.ndarray
    pick: np.ndarray
    evaluations: np.ndarray
    target: np.ndarray


def sampling_shap(
    model: Model,
    names: list[str],
    x: Columns,
    background: Columns,
    budget: Budget = Budget(),
    seed: int = 0,
) -> SamplingShap:
    """Estimate the interventional Shapley values of every row of ``x`` (columns ``names``)
    against ``background``; raises :class:`ExplanationBudgetExceeded` when a record cannot
    reach ``budget.error`` within ``budget.evaluations``."""
    m, n = n_rows(background), n_rows(x)
    if m == 0:
        raise ValidationFailed("sampling_shap needs a background: register a reference sample")
    if not 0 < budget.evaluations <= MAX_EXPLAIN_BUDGET:
        raise ValidationFailed(
            f"the budget must be between 1 and {MAX_EXPLAIN_BUDGET} evaluations per record"
        )
    gz_all = _call(model, background)  # (m, K)
    gx_all = _call(model, x)  # (n, K)
    pick = gx_all.argmax(axis=1) if gx_all.shape[1] > 1 else np.zeros(n, dtype=np.int64)
    k = len(names)
    out = SamplingShap(
        values=np.zeros((n, k)),
        stderr=np.zeros((n, k)),
        base=gz_all[:, pick].mean(axis=0) if n else np.zeros(0),
        output=gx_all[np.arange(n), pick],
        pick=pick,
        evaluations=np.zeros(n, dtype=np.int64),
        target=np.zeros(n),
    )
    for r in range(n):
        gz = gz_all[:, pick[r]]
        target = budget.error
        if target is None:
            spread = float(gz.std())
            target = RELATIVE_ERROR * (spread if spread > 0 else max(1.0, abs(out.output[r])))
        out.target[r] = target
        row = {name: x[name][r : r + 1] for name in names}
        walker = _Walker(model, names, row, background, gz, out.output[r], int(pick[r]))
        rng = np.random.default_rng([seed, r])
        phi, se, spent = walker.run(target, budget.evaluations, rng)
        out.values[r], out.stderr[r], out.evaluations[r] = phi, se, spent
    return out


def _call(model: Model, columns: Columns) -> np.ndarray:
    outputs = np.asarray(model(columns), dtype=np.float64)
    return outputs.reshape(len(outputs), -1)


class _Walker:
    """The sampling of one record, in blocks: a block is one unit per background row."""

    def __init__(
        self,
        model: Model,
        names: list[str],
        x: Columns,
        background: Columns,
        gz: np.ndarray,
        gx: float,
        pick: int,
    ) -> None:
        self.model, self.names, self.x, self.background = model, names, x, background
        self.gz, self.gx, self.pick = gz, gx, pick
        self.blocks: list[np.ndarray] = []  # (blocks, m, M) per round

    def run(
        self, target: float, budget: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, int]:
        k, m = len(self.names), len(self.gz)
        delta = self.gx - float(self.gz.mean())
        if k <= 1:  # one player takes the whole difference (none: nothing to share)
            return np.full(k, delta), np.zeros(k), 0
        cost = 2 * (k - 1) * m  # model evaluations per block
        blocks = max(PILOT_BLOCKS, -(-PILOT_UNITS // m))
        spent = 0
        while True:
            if spent + blocks * cost > budget:
                raise self._refusal(target, budget, spent + blocks * cost, spent)
            self._round(blocks, rng)
            spent += blocks * cost
            phi, se, spread = self._estimate(delta)
            if se.max() <= target:
                return phi, se, spent
            needed = int(np.ceil(spread.max() / target**2 * 1.05))
            blocks = max(needed - sum(len(b) for b in self.blocks), 1)

    def _refusal(self, target: float, budget: int, needed: int, spent: int) -> Exception:
        return ExplanationBudgetExceeded(
            f"sampling_shap cannot reach a standard error of {target:.3g} within its budget of "
            f"{budget} model evaluations per record: this record needs about {needed} "
            f"(estimated after {spent}); raise the budget or the error (the model's explain "
            "policy `explain.budget`/`explain.error`, or ?budget=&error= on the request)"
        )

    def _round(self, blocks: int, rng: np.random.Generator) -> None:
        k, m = len(self.names), len(self.gz)
        units = blocks * m
        z_all = np.tile(np.arange(m), blocks)  # every background row once per block
        phis = []
        per_call = max(1, _ROWS_PER_CALL // (2 * (k - 1)))
        for start in range(0, units, per_call):
            z = z_all[start : start + per_call]
            count = len(z)
            perms = np.argsort(rng.random((count, k)), axis=1)  # (U, M) feature orders
            rank = np.argsort(perms, axis=1)  # rank[u, f]: f's position in the order
            steps = np.arange(1, k)  # coalitions of 1 .. M-1 features
            first = rank[:, None, :] < steps[None, :, None]  # (U, M-1, M): forward walk
            mask = np.concatenate([first, ~first])  # the reverse walk: the complements
            rows = np.tile(np.repeat(z, k - 1), 2)
            columns = {
                name: np.where(mask[:, :, j].ravel(), self.x[name][0], self.background[name][rows])
                for j, name in enumerate(self.names)
            }
            g = _call(self.model, columns)[:, self.pick].reshape(2, count, k - 1)
            ends_z = self.gz[z][:, None]
            ends_x = np.full((count, 1), self.gx)
            forward = np.concatenate([ends_z, g[0], ends_x], axis=1)  # (U, M+1) by size
            # The reverse walk's coalition of size s is the complement of the forward one
            # of size M - s: its values by size are g[1] read backwards.
            backward = np.concatenate([ends_z, g[1][:, ::-1], ends_x], axis=1)
            step_f = np.diff(forward, axis=1)  # (U, M): the contribution of the j-th added
            step_b = np.diff(backward, axis=1)
            index = np.arange(count)[:, None]
            phis.append(0.5 * (step_f[index, rank] + step_b[index, k - 1 - rank]))
        self.blocks.append(np.concatenate(phis).reshape(blocks, m, k))

    def _estimate(self, delta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The estimate, its standard errors, and the variance of one block's mean.

        Every block uses each background row once, so its mean sums to ``g(x) - base``
        exactly and the background rows are strata: the variance of the estimate is
        ``Σ_z s²_z / (m² B)`` with ``s²_z`` the variance of the units with row ``z`` across
        the ``B`` blocks (``m (B - 1)`` degrees of freedom)."""
        units = np.concatenate(self.blocks)  # (B, m, M)
        b, m, _ = units.shape
        estimate = units.mean(axis=(0, 1))
        spread = units.var(axis=0, ddof=1).sum(axis=0) / (m * m)  # one block's mean: variance
        se = np.sqrt(spread / b)
        # What floating point leaves of Σφ = delta, spread by the features' variances.
        gap = delta - estimate.sum()
        total = spread.sum()
        share = spread / total if total > 0 else np.full(len(estimate), 1 / len(estimate))
        return estimate + gap * share, se, spread
