"""The adversarial search of sure claims: maximise a violation objective over an instance space's box.

``maximise_violation`` works on the box of search coordinates of a :class:`~boundlab.spaces.Space`, rescaled to
the unit cube, with a batched ``score(z)`` that returns, for every row of coordinates, the objective to
maximise and the claim's own excess, lhs and rhs (the verdict stays ``SureClaim.excess > 1``; the objective
only steers the search). The default objective, :func:`violation`, is the gap past the bound over
``|bound| + atol``: dimensionless, finite when the claim's tolerance is zero, and monotone in the gap.

Budget. The search may evaluate ``evaluations_per_dim x dim`` instances in all (the budget grows with the
dimension). Half of it goes to multi-start L-BFGS-B (``scipy.optimize.minimize``), split equally among the
starts (the worst random draws); each gradient is a forward difference computed in ONE batched call of dim + 1
rows (backward at the upper face). A start whose share is below dim + 1 rows is skipped. Everything left
(including what L-BFGS-B did not use when it converged early) goes to CMA-ES (``cma``, ask/tell, one batched call
per population, bounds [0, 1]) started from the best point so far with step 0.25, restarted from the best point
with a doubled population (IPOP) whenever it stops; CMA-ES is the method for piecewise constant or rough
objectives, where finite differences are useless. The search stops as soon as one instance violates the claim
(excess > 1): one counterexample decides the verdict.

Non-finite objective values (NaN, +-inf) are replaced by -1e6 (NaN, -inf) and +1e6 (+inf) for the optimisers;
the recorded excess, lhs and rhs stay as computed. Every evaluated row is a real instance and a candidate: each
method reports the best row it evaluated, not just its final iterate. Deterministic given ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from boundlab.kinds.sure import sure_gap

Score = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

CAP = 1e6  # the optimisers see objectives clipped to [-CAP, CAP]
STEP = 1e-6  # finite-difference step in unit-cube coordinates
SIGMA0 = 0.25  # CMA-ES initial step in unit-cube coordinates
LBFGS_SHARE = 0.5


def violation(lhs: np.ndarray, rhs: np.ndarray, op: str, atol: float) -> np.ndarray:
    """Gap past the bound over |bound| + atol (> 0 on the wrong side; |lhs - rhs| / (|rhs| + atol) for ==)."""
    lhs, rhs = np.broadcast_arrays(np.asarray(lhs, float), np.asarray(rhs, float))
    scale = np.abs(rhs) + float(atol)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sure_gap(lhs, rhs, op) / np.where(scale > 0, scale, 1.0)


class _Stop(Exception):
    """Raised inside an optimiser's callback when the budget is spent or a violation was found."""


@dataclass
class _Best:
    label: str
    u: np.ndarray
    objective: float
    excess: float
    lhs: float
    rhs: float
    evaluations: int = 0

    def better(self, objective: float, excess: float) -> bool:
        return (excess > 1.0, objective) > (self.excess > 1.0, self.objective)


@dataclass
class _Tracker:
    """Counts evaluations, keeps the best row per method, and maps unit-cube rows to search coordinates."""

    score: Score
    low: np.ndarray
    high: np.ndarray
    budget: int
    used: int = 0
    violated: bool = False
    label: str = ""
    best: dict[str, _Best] = field(default_factory=dict)

    def z(self, u: np.ndarray) -> np.ndarray:
        return self.low + np.clip(u, 0.0, 1.0) * (self.high - self.low)

    def u(self, z: np.ndarray) -> np.ndarray:
        width = np.where(self.high > self.low, self.high - self.low, 1.0)
        return np.clip((np.asarray(z, float) - self.low) / width, 0.0, 1.0)

    def left(self) -> int:
        return self.budget - self.used

    def evaluate(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.atleast_2d(u), 0.0, 1.0)
        objective, excess, lhs, rhs = (np.broadcast_to(np.asarray(v, float), (u.shape[0],))
                                       for v in self.score(self.z(u)))
        self.used += u.shape[0]
        safe = np.clip(np.nan_to_num(objective, nan=-CAP, posinf=CAP, neginf=-CAP), -CAP, CAP)
        ranked_excess = np.nan_to_num(excess, nan=-np.inf)
        i = int(np.lexsort((safe, ranked_excess > 1.0))[-1])
        current = self.best.get(self.label)
        if current is None or current.better(float(safe[i]), float(ranked_excess[i])):
            self.best[self.label] = _Best(self.label, u[i].copy(), float(safe[i]), float(excess[i]),
                                          float(lhs[i]), float(rhs[i]), current.evaluations if current else 0)
        self.best[self.label].evaluations += u.shape[0]
        self.violated = self.violated or bool(np.any(ranked_excess > 1.0))
        return safe

    def overall(self) -> _Best | None:
        return max(self.best.values(), key=lambda b: (b.excess > 1.0, b.objective), default=None)


def _lbfgsb(tracker: _Tracker, u0: np.ndarray, rows: int) -> None:
    """L-BFGS-B from u0 with batched forward-difference gradients, within ``rows`` evaluations.

    The objective is divided by the largest component of its gradient at u0, so that a unit step of the
    first iteration crosses the cube: the objective's scale is arbitrary, and without this L-BFGS-B creeps
    along a weak gradient (its curvature pairs are skipped where the objective is convex in the direction of
    the step, which is typical when the maximum is at a face or corner).
    """
    dim = u0.size
    stop_at = tracker.used + rows
    scale: list[float] = []

    def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
        if tracker.violated or tracker.used + dim + 1 > stop_at:
            raise _Stop
        h = np.where(u + STEP <= 1.0, STEP, -STEP)
        values = tracker.evaluate(np.vstack([u, u + np.diag(h)]))
        gradient = (values[1:] - values[0]) / h
        if not scale:
            largest = float(np.max(np.abs(gradient)))
            scale.append(largest if np.isfinite(largest) and largest > 0 else 1.0)
        return -float(values[0]) / scale[0], -gradient / scale[0]

    try:
        optimize.minimize(fun, u0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * dim,
                          options={"maxiter": 10**6, "maxfun": 10**6, "ftol": 1e-15, "gtol": 1e-12})
    except _Stop:
        pass


def _cma(tracker: _Tracker, u0: np.ndarray, rng: np.random.Generator) -> int:
    """CMA-ES with IPOP restarts from the best point so far until the budget is spent; returns the runs."""
    import cma

    dim = u0.size
    popsize = 4 + int(3 * np.log(max(dim, 2)))
    runs = 0
    x0 = u0
    while not tracker.violated and tracker.left() >= popsize:
        options = {
            "bounds": [0.0, 1.0], "popsize": popsize, "seed": np.nan, "verbose": -9, "verb_disp": 0,
            "verb_log": 0, "verb_filenameprefix": "", "tolx": 1e-13, "tolfun": 1e-15, "tolfunhist": 0,
            "randn": lambda *shape: rng.standard_normal(shape),
        }
        es = cma.CMAEvolutionStrategy(np.clip(x0, 1e-12, 1 - 1e-12).tolist(), SIGMA0, options)
        runs += 1
        while not es.stop() and not tracker.violated and tracker.left() >= popsize:
            asked = es.ask()
            values = tracker.evaluate(np.array(asked))
            es.tell(asked, (-values).tolist())
        best = tracker.overall()
        x0 = best.u if best is not None else u0
        popsize *= 2
    return runs


def _ordinal(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def maximise_violation(score: Score, low: np.ndarray, high: np.ndarray, starts: np.ndarray,
                       evaluations_per_dim: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Search the box [low, high] for the largest violation; one found dict per method run (see module doc).

    ``starts`` (k, dim) are the worst random draws, in order. Each found dict has ``theta`` (coordinates, for
    replay), ``lhs``, ``rhs``, ``excess``, ``objective``, ``evaluations`` and ``found_by``.
    """
    low, high = np.asarray(low, float).ravel(), np.asarray(high, float).ravel()
    dim = low.size
    starts = np.asarray(starts, float).reshape(-1, dim)
    tracker = _Tracker(score, low, high, budget=int(evaluations_per_dim) * dim)
    per_start = int(tracker.budget * LBFGS_SHARE) // max(len(starts), 1)
    for i, z0 in enumerate(starts):
        if per_start < dim + 1 or tracker.violated:
            break
        tracker.label = f"L-BFGS-B with batched forward differences from the {_ordinal(i + 1)} worst random draw"
        _lbfgsb(tracker, tracker.u(z0), per_start)
    start = tracker.overall()
    u0 = start.u if start is not None else (tracker.u(starts[0]) if len(starts) else np.full(dim, 0.5))
    tracker.label = "CMA-ES from the best point so far"
    runs = _cma(tracker, u0, rng) if dim >= 2 else 0
    found = []
    for best in tracker.best.values():
        label = best.label + (f" ({runs} run(s), IPOP restarts)" if best.label.startswith("CMA") else "")
        found.append({
            "theta": tracker.z(best.u).tolist(),
            "lhs": best.lhs,
            "rhs": best.rhs,
            "excess": best.excess,
            "objective": best.objective,
            "evaluations": best.evaluations,
            "found_by": f"adversarial search ({label}; best of {best.evaluations} evaluations, "
                        f"{tracker.used} in all)",
        })
    return found
