"""Instances for the zero duality gap of two-layer ReLU networks with weight decay (Pilanci & Ergen, ICML 2020; the
base case of Wang, Ergen & Pilanci, ICLR 2023): data sets, networks, and the convex program they are compared with
(``solvers/convex_relu.py``).

A data instance is n points in [-1, 1]^2 with a bias column (X is n x 3) and labels in [-1, 1]. For each instance
the convex program is solved three ways, in one batched cvxpy call each (CLARABEL): as stated (p_cvx), without
the cone constraints (p_relax, the relaxation), and with the penalty beta/2 instead of beta (p_half, the wrong
scaling); p_double (penalty 2 beta) is computed for the network search. Results are cached per instance, so a
data set seen at several sweep points is solved once per process.

Three experiments use these:

* ``evaluate_convex_program``: random and adversarially searched data sets; the network rebuilt from the convex
  solution, evaluated directly (``net_cvx``).
* ``network_space`` / ``evaluate_networks``: one fixed data set per sweep point; the instances are NETWORKS
  (first layer U in [-L, L]^(3 x m), second layer alpha in [-L, L]^m). Random draws are GD-trained networks
  (random Gaussian initialisation, then decaying-step GD); the adversarial search then moves every weight to try
  to push the regularised objective below p_cvx.
* ``measure_gd``: per replicate a random data set and the first R of a pool of random initialisations of a
  width-m network trained by GD for T steps; the best objective of the R runs, and the fraction of runs within 1%
  of p_cvx. The pool is drawn whole at every R, so under common random numbers the runs are nested in R and the
  best objective cannot increase with R.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy
from boundlab.errors import UsageError
from solvers import convex_relu as cr

Array = Any

LIMIT = 4.0        # network weights live in [-LIMIT, LIMIT] (the convex solutions' weights are below 2 here)
ETA = 0.1          # GD's initial step
DECAY = 1e-3       # GD's step falls geometrically from ETA to ETA * DECAY over the run
SAMPLER_STEPS = 3000
REACHED = 1e-2     # a GD run "reaches" p_cvx when it ends within 1% of it (the fraction reported)

_CACHE: dict[tuple[bytes, float], dict[str, float]] = {}


def design(points: np.ndarray) -> np.ndarray:
    """X = [points, 1]: (B, n, 2) -> (B, n, 3)."""
    points = np.asarray(points, dtype=float)
    return np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)


def random_data(rng: np.random.Generator, count: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` data sets: points uniform in [-1, 1]^2 (as X with a bias column) and labels uniform in [-1, 1]."""
    return design(rng.uniform(-1.0, 1.0, (count, n, 2))), rng.uniform(-1.0, 1.0, (count, n))


def fixed_data(n: int, instance: int) -> tuple[np.ndarray, np.ndarray]:
    """The data set number ``instance`` (seeded by it): X (1, n, 3), y (1, n)."""
    return random_data(np.random.default_rng([20231, int(n), int(instance)]), 1, n)


def convex_values(X: np.ndarray, y: np.ndarray, beta: float) -> dict[str, np.ndarray]:
    """p_cvx, p_relax, p_half, p_double and the reconstructed network's objective net_cvx, per instance."""
    keys = [(X[b].tobytes() + y[b].tobytes(), float(beta)) for b in range(X.shape[0])]
    todo = [b for b, k in enumerate(keys) if k not in _CACHE]
    if todo:
        Xt, yt = X[todo], y[todo]
        D = cr.pad_patterns([cr.arrangement_patterns(x) for x in Xt])
        exact = cr.solve_convex_programs(Xt, yt, D, beta)
        U, alpha = cr.network_from_convex(exact.V, exact.W)
        net = cr.network_objective(Xt, yt, U[:, None], alpha[:, None], beta)[:, 0]
        relax = cr.solve_convex_programs(Xt, yt, D, beta, cone=False).value
        half = cr.solve_convex_programs(Xt, yt, D, beta / 2).value
        double = cr.solve_convex_programs(Xt, yt, D, 2 * beta).value
        for i, b in enumerate(todo):
            _CACHE[keys[b]] = {"p_cvx": float(exact.value[i]), "net_cvx": float(net[i]),
                               "p_relax": float(relax[i]), "p_half": float(half[i]), "p_double": float(double[i])}
    return {name: np.array([_CACHE[k][name] for k in keys]) for name in
            ("p_cvx", "net_cvx", "p_relax", "p_half", "p_double")}


# ------------------------------------------------------------------------------------------ convex program

def data_space(params: Mapping[str, Any]) -> Product:
    """n points in [-1, 1]^2 and n labels in [-1, 1]."""
    n = int(params["n"])
    return Product(points=Box(-1.0, 1.0, (n, 2)), labels=Box(-1.0, 1.0, n))


def evaluate_convex_program(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                            ) -> dict[str, np.ndarray]:
    """Per data set: the program's value p_cvx, the rebuilt network's objective net_cvx, p_relax and p_half."""
    X, y = design(instances["points"]), np.asarray(instances["labels"], dtype=float)
    values = convex_values(X, y, float(params["beta"]))
    return {k: values[k] for k in ("p_cvx", "net_cvx", "p_relax", "p_half")}


# ------------------------------------------------------------------------------------------ network search

def _init(rng: np.random.Generator, shape: tuple[int, ...], p: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian initialisation: U entries N(0, 1/p), alpha entries N(0, 1/m); shape = (B, R)."""
    return (rng.standard_normal(shape + (p, m)) / np.sqrt(p), rng.standard_normal(shape + (m,)) / np.sqrt(m))


def network_space(params: Mapping[str, Any]) -> Product:
    """Networks of width m with weights in [-LIMIT, LIMIT]; random draws are GD-trained on the sweep point's data."""
    n, m, beta = int(params["n"]), int(params["m"]), float(params["beta"])
    X, y = fixed_data(n, int(params["instance"]))

    def sample(rng: np.random.Generator, count: int) -> np.ndarray:
        U0, a0 = _init(rng, (1, count), X.shape[2], m)
        U, a = cr.gradient_descent(X, y, U0, a0, beta, SAMPLER_STEPS, ETA, DECAY)
        z = np.concatenate([U[0].reshape(count, -1), a[0]], axis=1)
        return np.clip(z, -LIMIT, LIMIT)

    return Product(sampler=sample, first=Box(-LIMIT, LIMIT, (3, m)), second=Box(-LIMIT, LIMIT, m))


def evaluate_networks(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                      ) -> dict[str, np.ndarray]:
    """Per network: its regularised objective on the fixed data set, with that data set's p_cvx and p_double."""
    n, beta = int(params["n"]), float(params["beta"])
    X, y = fixed_data(n, int(params["instance"]))
    U = xp.expand_dims(xp.asarray(np.asarray(instances["first"], dtype=float)), axis=0)      # (1, N, 3, m)
    alpha = xp.expand_dims(xp.asarray(np.asarray(instances["second"], dtype=float)), axis=0)  # (1, N, m)
    f = to_numpy(cr.network_objective(xp.asarray(X), xp.asarray(y), U, alpha, beta, xp))[0]
    values = convex_values(X, y, beta)
    return {"objective": f, "p_cvx": np.full(f.shape, values["p_cvx"][0]),
            "p_double": np.full(f.shape, values["p_double"][0])}


# ------------------------------------------------------------------------------------------ GD from many inits

def measure_gd(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Per replicate (a random data set): the best objective of the first R of ``pool`` GD initialisations after
    T steps, the convex values, and the fraction of those R runs ending within 1% of p_cvx."""
    size, m, R, pool = int(params["n"]), int(params["m"]), int(params["R"]), int(params["pool"])
    beta, steps = float(params["beta"]), int(params["T"])
    if not 1 <= R <= pool:
        raise UsageError(f"R must be in [1, pool = {pool}] (the first R of a pool of initialisations), got {R}.")
    X, y = random_data(rng, n, size)
    U0, a0 = _init(rng, (n, pool), X.shape[2], m)   # the whole pool is drawn, so the first R are nested in R
    U0, a0 = U0[:, :R], a0[:, :R]
    U, a = cr.gradient_descent(xp.asarray(X), xp.asarray(y), xp.asarray(U0), xp.asarray(a0), beta, steps, ETA,
                               DECAY, xp)
    f = to_numpy(cr.network_objective(xp.asarray(X), xp.asarray(y), U, a, beta, xp))   # (n, R)
    values = convex_values(X, y, beta)
    best = np.min(f, axis=1)
    reached = np.mean(f <= values["p_cvx"][:, None] * (1 + REACHED), axis=1)
    return {"best": best, "worst_run": np.max(f, axis=1), "reached": reached, "p_cvx": values["p_cvx"],
            "p_relax": values["p_relax"], "p_half": values["p_half"]}
