"""Calibration of the adversarial search of sure claims: power and tightness measured, never injected.

Every trial goes through the code path of ``verify``: a synthetic :class:`~boundlab.experiments.Experiment`
(an :class:`~boundlab.experiments.InstanceSearch` on the box [0, 1]^p) and a :class:`~boundlab.claims.SureClaim`
``Q <= B``; random draws from ``Experiment.run``; starts from :func:`boundlab.work.worst_draws`; the search of
:func:`boundlab.work.search_claim` (what ``work.run_search`` runs); the verdict from ``SureClaim.decide``.

Synthetic problems, each a fresh random instance per seed (maximum known in closed form):

* ``mean-of-squares``: Q = mean((theta - s)^2) for a random corner s; maximum 1 at the opposite corner;
* ``rotated-quadratic``: Q = 1 - (theta - c)^T H (theta - c), c uniform in [0.2, 0.8]^p, H = R diag(lambda) R^T
  with a Haar rotation R and eigenvalues log-spaced over a condition number of 100, scaled so that a uniform
  random theta has E[(theta - c)^T H (theta - c)] >= 1; maximum 1 at the interior point c;
* ``l1-peak``: Q = 1 - ||theta - c||_1 / p, c uniform in [0.2, 0.8]^p: non-smooth, maximum 1 at c.

For each, the false bound B = 0.99 max (power: the fraction of seeds found ``violated``, next to the fraction
the random draws alone refute) and the true bound B = max (false-violation rate, nominal 0, and the tightness
reached: max found / max).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy as sp

from boundlab.calibration import Rate
from boundlab.claims import PointData, SureClaim, reconstructed
from boundlab.experiments import THETA, Budget, Experiment, InstanceSearch, grid
from boundlab.papers import Paper
from boundlab.seeding import stable_int
from boundlab.spaces import Box
from boundlab.statements import Relation
from boundlab.work import search_claim, worst_draws

PAPER = Paper(key="search-calibration", title="Synthetic sure claims for the search calibration",
              authors=("BoundLab",), venue="internal", year=2026, arxiv="none")
Q, B = sp.symbols("Q B", real=True)
PROBLEMS: tuple[str, ...] = ("mean-of-squares", "rotated-quadratic", "l1-peak")
REPLICATES = 64
RESTARTS = 3
EVALUATIONS = 200  # per dimension, the Budget default

Evaluate = Callable[[Mapping[str, Any], np.ndarray, Any], dict[str, np.ndarray]]


def _rng(seed: int, what: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stable_int(what),)))


def problem(name: str, dim: int, rng: np.random.Generator) -> tuple[Evaluate, float]:
    """A fresh random instance of a synthetic problem: its batched evaluate function and its true maximum."""
    if name == "mean-of-squares":
        corner = rng.integers(0, 2, size=dim).astype(float)

        def evaluate(params: Mapping[str, Any], theta: np.ndarray, xp: Any) -> dict[str, np.ndarray]:
            return {"Q": np.mean((theta - corner) ** 2, axis=1)}

        return evaluate, 1.0
    if name == "rotated-quadratic":
        c = rng.uniform(0.2, 0.8, size=dim)
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        rotation = q * np.sign(np.diag(r))  # Haar distributed
        lam = np.logspace(0.0, 2.0, dim) if dim > 1 else np.ones(1)
        lam *= 12.0 / lam.sum()  # E over uniform theta >= trace(H) / 12 = 1
        H = (rotation * lam) @ rotation.T

        def evaluate(params: Mapping[str, Any], theta: np.ndarray, xp: Any) -> dict[str, np.ndarray]:
            d = theta - c
            return {"Q": 1.0 - np.einsum("ni,ij,nj->n", d, H, d)}

        return evaluate, 1.0
    if name == "l1-peak":
        c = rng.uniform(0.2, 0.8, size=dim)

        def evaluate(params: Mapping[str, Any], theta: np.ndarray, xp: Any) -> dict[str, np.ndarray]:
            return {"Q": 1.0 - np.abs(theta - c).sum(axis=1) / dim}

        return evaluate, 1.0
    raise ValueError(f"unknown problem {name!r}; expected one of {', '.join(PROBLEMS)}")


def trial(evaluate: Evaluate, dim: int, bound: float, seed: int, replicates: int = REPLICATES,
          restarts: int = RESTARTS, evaluations: int = EVALUATIONS) -> dict[str, Any]:
    """Decide ``Q <= bound`` on [0, 1]^dim as ``verify`` would; also the verdict of the random draws alone."""
    budget = Budget(grid(dim=dim), replicates=replicates, block=replicates, restarts=restarts,
                    evaluations=evaluations)
    experiment = Experiment("synthetic-search", "Synthetic instance space [0, 1]^p.",
                            {"quick": budget, "standard": budget, "full": budget},
                            search=InstanceSearch(Box(0.0, 1.0, shape=dim), evaluate), outputs=("Q",))
    claim = SureClaim("synthetic-bound", PAPER, Relation(sp.Le(Q, B)), experiment,
                      reconstructed("Synthetic: the maximum is known."), rtol=1e-9, atol=1e-12)
    statement = claim.statement
    assert isinstance(statement, Relation)
    params = {"dim": dim, "B": float(bound)}
    raw = experiment.run(params, _rng(seed, "draws"), replicates, np)
    arrays = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    replay = [{"seed": seed, "index": i, "theta": arrays[THETA][i].tolist()} for i in range(replicates)]
    point = PointData(params, arrays, replay)
    decide_rng = _rng(seed, "decide")
    random_only = claim.decide(statement, [point], decide_rng).verdict
    starts = worst_draws(claim, statement, point, restarts)
    found = [] if starts is None else search_claim(claim, statement, params, starts, evaluations,
                                                   stable_int(f"search-{seed}"), np)
    decision = claim.decide(statement, [point], decide_rng, searched=[found])
    best = max([float(np.max(arrays["Q"]))] + [float(f["lhs"]) for f in found])
    return {"verdict": decision.verdict, "random_verdict": random_only, "max_found": best,
            "evaluations": sum(int(f["evaluations"]) for f in found)}


def _row(name: str, dim: int, kind: str, trials: list[dict[str, Any]], want: str, true_max: float
         ) -> dict[str, Any]:
    hits = sum(t["verdict"] == want for t in trials)
    rate = Rate(name, hits, len(trials), 0.0 if kind == "false_violation" else None).to_dict()
    tightness = np.array([t["max_found"] / true_max for t in trials])
    rate.update(
        problem=name.split(":")[0], dim=dim, kind=kind,
        median_evaluations=float(np.median([t["evaluations"] for t in trials])),
        random_draw_rate=float(np.mean([t["random_verdict"] == want for t in trials])),
        median_tightness=float(np.median(tightness)), worst_tightness=float(np.min(tightness)),
    )
    return rate


def calibrate_search(seeds: int, dims: tuple[int, ...] = (2, 10, 30, 100),
                     problems: tuple[str, ...] = PROBLEMS) -> list[dict[str, Any]]:
    """Power against a bound 1% below the maximum, and false violations and tightness at the maximum.

    One row per (problem, dimension, bound): name, problem, dim, kind ('power' or 'false_violation'), hits,
    trials, rate, Clopper-Pearson 95% ci, nominal, median_evaluations (search evaluations per trial),
    random_draw_rate (the same rate from the random draws alone), median_tightness and worst_tightness
    (largest Q found / true maximum).
    """
    rows = []
    for name in problems:
        for dim in dims:
            false_trials, true_trials = [], []
            for seed in range(seeds):
                evaluate, true_max = problem(name, dim, _rng(seed, f"{name}-{dim}"))
                false_trials.append(trial(evaluate, dim, 0.99 * true_max, seed))
                true_trials.append(trial(evaluate, dim, true_max, seed))
            rows.append(_row(f"{name}: bound 1% below the maximum", dim, "power", false_trials, "violated",
                             true_max))
            rows.append(_row(f"{name}: bound at the maximum", dim, "false_violation", true_trials, "violated",
                             true_max))
    return rows
