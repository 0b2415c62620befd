"""Instances and measurements for Sinkhorn-Newton-Sparse (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao,
Ying, ICLR 2024).

Instances. The paper's "random assignment" family: costs C with i.i.d. uniform [0, 1] entries and uniform
marginals r = c = 1/n (:func:`random_assignment`). The correctness claim searches over costs in [0, 1]^{n x n} and
marginals in the interior of the simplex (softmaxes of logits in [-3, 3]): every instance is valid by
construction.

Every measure function solves its ``n`` replicates as one batch with :mod:`solvers.sinkhorn` (Sinkhorn and the
Newton-CG stage are both batched over instances; see its docstring). The reference, POT's log-domain Sinkhorn
(``ot.sinkhorn(method='sinkhorn_log')``), runs one instance at a time, which is inherent to it, and is imported
inside the function that uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.spaces import Box, Product, Simplex
from solvers import sinkhorn as sk

Params = Mapping[str, Any]
LOGITS = (-3.0, 3.0)
TOL = 1e-10  # the marginal accuracy a user sets: ||grad f||_1 = ||P 1 - r||_1 + ||P^T 1 - c||_1 <= 1e-10
REF_STOP = 1e-13  # POT's stopping threshold for the reference plans
EARLY_TOL = 1e-7  # the near-resolution mutant: Sinkhorn stopped at ||grad f||_1 <= 1e-7
SINKHORN_CAP = 20_000  # Sinkhorn iterations at most in the speed-up experiment (censored there; reported)
LOCAL_WINDOW = 1e-3  # the local phase: Newton iterations that start at an error <= 1e-3


def random_assignment(rng: np.random.Generator, count: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` instances of the random-assignment family: r = c = 1/n (count, n), C uniform [0, 1]."""
    C = rng.uniform(0.0, 1.0, size=(count, n, n))
    r = np.full((count, n), 1.0 / n)
    return r, r.copy(), C


def _xp(xp: Any, *arrays: np.ndarray) -> list:
    return [xp.asarray(a) for a in arrays]


# ----------------------------------------------------------------------------------------------------------------
# correctness against POT
# ----------------------------------------------------------------------------------------------------------------
def instance_space(params: Params) -> Product:
    """Costs in [0, 1]^{n x n} and marginals r, c in the interior of the simplex."""
    n = int(params["n"])
    return Product(C=Box(0.0, 1.0, shape=(n, n)), r=Simplex(n, *LOGITS), c=Simplex(n, *LOGITS))


def pot_plan(r: np.ndarray, c: np.ndarray, C: np.ndarray, eta: float) -> np.ndarray:
    """POT's log-domain Sinkhorn plan (reg = 1/eta) to a marginal error of 1e-13 (at most 10^6 iterations)."""
    import ot

    return ot.sinkhorn(r, c, C, 1.0 / eta, method="sinkhorn_log", stopThr=REF_STOP, numItermax=1_000_000,
                       warn=False)


def evaluate_correctness(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """l1 distances to POT's plan of: our SNS plan (``plan_error``; NaN, so that the instance says nothing about
    the claim, where SNS did not reach ``TOL`` within its Newton budget: ``newton_budget_exhausted`` is then 1),
    SNS with the Hessian's sign flipped (``flipped_sign_error``), our Sinkhorn stopped at 1e-7
    (``early_stop_error``); our final marginal errors."""
    eta = float(params["eta"])
    C, r, c = (np.asarray(instances[k], float) for k in ("C", "r", "c"))
    r, c = r / r.sum(axis=1, keepdims=True), c / c.sum(axis=1, keepdims=True)
    ref = np.stack([pot_plan(r[i], c[i], C[i], eta) for i in range(C.shape[0])])
    a = _xp(xp, r, c, C)
    ours = sk.sinkhorn_newton_sparse(*a, eta, tol=TOL)
    flipped = sk.sinkhorn_newton_sparse(*a, eta, tol=TOL, max_newton=5, _hessian_sign=-1.0)
    early = sk.sinkhorn(*a, eta, tol=EARLY_TOL)

    def dist(P: Any) -> np.ndarray:
        return np.abs(to_numpy(P) - ref).sum(axis=(1, 2))

    reached = to_numpy(ours.converged).astype(bool)
    return {"plan_error": np.where(reached, dist(ours.plan), np.nan),
            "newton_budget_exhausted": (~reached).astype(float), "flipped_sign_error": dist(flipped.plan),
            "early_stop_error": dist(early.plan), "marginal_error": to_numpy(ours.error),
            "ref_marginal_error": np.abs(ref.sum(2) - r).sum(1) + np.abs(ref.sum(1) - c).sum(1)}


# ----------------------------------------------------------------------------------------------------------------
# iterations to 1e-10
# ----------------------------------------------------------------------------------------------------------------
def measure_iterations(params: Params, rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Iterations to ||grad f||_1 <= 1e-10 of Sinkhorn and of SNS (its Sinkhorn stage plus its Newton stage, the
    paper's count), on random-assignment instances; ``log_speedup`` = log10 of their ratio. Sinkhorn is stopped
    at ``SINKHORN_CAP`` iterations (``sinkhorn_censored``): a censored count is a lower bound, so the speed-up
    measured is then a lower bound too."""
    size, eta = int(params["n"]), float(params["eta"])
    a = _xp(xp, *random_assignment(rng, n, size))
    s = sk.sinkhorn(*a, eta, tol=TOL, max_iter=SINKHORN_CAP)
    o = sk.sinkhorn_newton_sparse(*a, eta, tol=TOL, density=float(params["density_n"]) / size)
    s_it = to_numpy(s.iterations).astype(float)
    o_it = to_numpy(o.sinkhorn_iterations + o.newton_iterations).astype(float)
    return {"sinkhorn_iterations": s_it, "sns_iterations": o_it, "log_speedup": np.log10(s_it / o_it),
            "sinkhorn_censored": (~to_numpy(s.converged)).astype(float),
            "sns_converged": to_numpy(o.converged).astype(float)}


# ----------------------------------------------------------------------------------------------------------------
# operations per Newton iteration
# ----------------------------------------------------------------------------------------------------------------
def measure_operations(params: Params, rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Operation count per Newton iteration of SNS (the first ``newton_steps`` Newton iterations after the Sinkhorn
    stage; the count of :mod:`solvers.sinkhorn`: n^2 per evaluation of P, n^2 for the threshold, nnz + 2n per CG
    product), and the same iterations with a dense solve of the Newton system ((2n)^3 / 3 in place of CG)."""
    size, eta = int(params["n"]), float(params["eta"])
    a = _xp(xp, *random_assignment(rng, n, size))
    o = sk.sinkhorn_newton_sparse(*a, eta, tol=1e-300, max_newton=int(params["newton_steps"]))
    it = np.maximum(to_numpy(o.newton_iterations).astype(float), 1.0)
    return {"ops": to_numpy(o.operations) / it, "dense_ops": to_numpy(o.dense_solve_operations) / it,
            "cg_products": to_numpy(o.cg_products) / it, "nnz": to_numpy(o.nnz).astype(float)}


# ----------------------------------------------------------------------------------------------------------------
# the local phase
# ----------------------------------------------------------------------------------------------------------------
def convergence_order(history: np.ndarray, window: float = LOCAL_WINDOW, last: int = 10) -> np.ndarray:
    """Per row: the least-squares slope of log e_{k+1} against log e_k over the Newton iterations whose start error
    e_k is at most ``window`` (1 for a linear rate, 2 for a quadratic one); when fewer than two such pairs exist
    (a run that never reaches the window), over its last ``last`` pairs. NaN and zeros are skipped."""
    H = np.asarray(history, float)
    a, b = H[:, :-1], H[:, 1:]
    valid = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    inside = valid & (a <= window)
    use = np.where(inside.sum(axis=1, keepdims=True) >= 2, inside, valid)
    rank = np.cumsum(use[:, ::-1], axis=1)[:, ::-1]  # pairs left from each position on
    use = use & (rank <= np.where(inside.sum(axis=1, keepdims=True) >= 2, H.shape[1], last))
    la, lb = np.log(np.where(use, a, 1.0)), np.log(np.where(use, b, 1.0))
    k = use.sum(axis=1)
    ma, mb = (la * use).sum(1) / np.maximum(k, 1), (lb * use).sum(1) / np.maximum(k, 1)
    cov = (((la - ma[:, None]) * (lb - mb[:, None])) * use).sum(1)
    var = (((la - ma[:, None]) ** 2) * use).sum(1)
    return np.where((k >= 2) & (var > 0), cov / np.where(var > 0, var, 1.0), np.nan)


def measure_local_order(params: Params, rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """The local order of the Newton stage (:func:`convergence_order`) at density lambda = density_n / n, at the
    paper's default lambda = 2/n and at lambda = 1/n^2 (one kept entry), on the same random-assignment
    instances."""
    size, eta = int(params["n"]), float(params["eta"])
    a = _xp(xp, *random_assignment(rng, n, size))
    out: dict[str, np.ndarray] = {}
    for name, lam in (("order", float(params["density_n"]) / size), ("order_default", 2.0 / size),
                      ("order_one_entry", 1.0 / size**2)):
        o = sk.sinkhorn_newton_sparse(*a, eta, tol=TOL, density=lam, max_newton=40, record=True)
        out[name] = convergence_order(to_numpy(o.history))
        if name == "order":
            out["newton_iterations"] = to_numpy(o.newton_iterations).astype(float)
    return out
