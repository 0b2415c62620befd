"""Independent reference solvers for sparsity-constrained OT (single instance, NumPy in, floats out).

Each function is small, names the solver it uses, checks the solver status and raises ``RuntimeError`` on
failure.  The cvxpy programs are built once per shape with the data as parameters (DPP), so repeated solves skip
cvxpy's compilation.  Conventions are those of :mod:`solvers.sparse_ot` (POT's): ``Omega(t) = gamma/2 ||t||^2``, at most
``k`` nonzeros per column of the plan.

* :func:`dual_dk_cvxpy`            D_k, ``cp.sum_largest(cp.square(cp.pos(.)), k)``, CLARABEL;
* :func:`semi_dual_sk_enumeration` S_k by enumerating the supports (m <= 6), CLARABEL;
* :func:`primal_pk_miqp`           P_k exactly, mixed-integer QP, SCIP (+inf when infeasible);
* :func:`qrot_cvxpy`               quadratically regularised OT (k = m), QP, CLARABEL;
* :func:`ot_exact`                 unregularised OT, ``ot.emd2`` / ``ot.emd`` (network simplex);
* :func:`pot_sparse_semi_dual`     POT's ``smooth_ot_semi_dual(reg_type="sparsity_constrained")`` (L-BFGS-B).
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import math
import threading
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import ot

_OK = ("optimal",)
# the compiled problems below are shared by every caller in a process: one solve at a time per process
_SOLVING = threading.Lock()


def _check(prob: cp.Problem, what: str) -> None:
    if prob.status not in _OK:
        raise RuntimeError(f"{what}: solver {prob.solver_stats.solver_name} returned status {prob.status!r}")


def dual_dk_cvxpy(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, k: int, *,
                  allow_inaccurate: bool = False) -> float:
    """``D_k = max a.alpha + b.beta - sum_j sum_largest([alpha + beta_j - c_j]_+^2, k) / (2 gamma)`` (CLARABEL).

    CLARABEL may end with ``optimal_inaccurate`` on larger instances (m = n = 100); that raises unless
    ``allow_inaccurate`` is set (the benchmark sets it and prints the status).
    """
    m, n = C.shape
    alpha, beta = cp.Variable(m), cp.Variable(n)
    terms = [cp.sum_largest(cp.square(cp.pos(alpha + beta[j] - C[:, j])), k) for j in range(n)]
    prob = cp.Problem(cp.Maximize(a @ alpha + b @ beta - cp.sum(cp.hstack(terms)) / (2 * gamma)))
    prob.solve(solver="CLARABEL")
    if not (allow_inaccurate and prob.status == "optimal_inaccurate"):
        _check(prob, "D_k")
    return float(prob.value)


@functools.lru_cache(maxsize=32)
def _semi_dual_sk_problem(m: int, n: int, k: int) -> tuple[cp.Problem, cp.Parameter, cp.Parameter, cp.Parameter,
                                                           cp.Parameter]:
    """The S_k enumeration program for one shape, with a, b, C and w_j = 2 gamma b_j as parameters (DPP: compiled
    once, then only the parameter values change); each epigraph constraint is multiplied through by w_j."""
    a, b = cp.Parameter(m), cp.Parameter(n, nonneg=True)
    C, w = cp.Parameter((m, n)), cp.Parameter(n, nonneg=True)
    alpha, u = cp.Variable(m), cp.Variable(n)
    cons = []
    for j in range(n):
        for S in itertools.combinations(range(m), k):
            mu = cp.Variable()
            idx = list(S)
            cons.append(w[j] * u[j] >= w[j] * mu + cp.sum(cp.square(cp.pos(alpha[idx] - C[idx, j] - mu))))
    return cp.Problem(cp.Maximize(a @ alpha - b @ u), cons), a, b, C, w


def semi_dual_sk_enumeration(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, k: int) -> float:
    """S_k with one epigraph constraint per (support S, column j), |S| = k (CLARABEL; m <= 6).

    ``max_{t in simplex_S} s.t - (c/2)||t||^2 = min_mu mu + sum_{i in S} [s_i - mu]_+^2 / (2c)`` (c = gamma b_j), so
    ``S_k = max a.alpha - b.u`` s.t. ``u_j >= mu_{jS} + sum_{i in S} pos(alpha_i - C_ij - mu_{jS})^2/(2 gamma b_j)``.
    """
    m, n = C.shape
    if m > 6:
        raise ValueError("semi_dual_sk_enumeration: m must be <= 6 (it enumerates C(m, k) supports)")
    prob, a_par, b_par, C_par, w_par = _semi_dual_sk_problem(m, n, int(k))
    with _SOLVING:
        a_par.value, b_par.value, C_par.value, w_par.value = a, b, C, 2 * gamma * b
        prob.solve(solver="CLARABEL")
        _check(prob, "S_k enumeration")
        return float(prob.value)


@functools.lru_cache(maxsize=32)
def _primal_pk_problem(m: int, n: int, k: int, gamma: float) -> tuple[cp.Problem, cp.Parameter, cp.Parameter,
                                                                     cp.Parameter]:
    """The P_k MIQP for one shape and gamma, with a, b and C as parameters (compiled once)."""
    a, b, C = cp.Parameter(m), cp.Parameter(n, nonneg=True), cp.Parameter((m, n))
    T = cp.Variable((m, n), nonneg=True)
    Z = cp.Variable((m, n), boolean=True)
    cons = [cp.sum(T, axis=1) == a, cp.sum(T, axis=0) == b, T <= Z @ cp.diag(b), cp.sum(Z, axis=0) <= k]
    return cp.Problem(cp.Minimize(cp.sum(cp.multiply(T, C)) + gamma / 2 * cp.sum_squares(T)), cons), a, b, C


def primal_pk_miqp(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, k: int) -> float:
    """P_k exactly: MIQP with ``T <= Z diag(b)``, ``sum_i Z_ij <= k``, Z boolean (SCIP).  +inf if infeasible."""
    m, n = C.shape
    prob, a_par, b_par, C_par = _primal_pk_problem(m, n, int(k), float(gamma))
    with _SOLVING:
        a_par.value, b_par.value, C_par.value = a, b, C
        prob.solve(solver="SCIP")
        if prob.status in ("infeasible", "infeasible_inaccurate"):
            return math.inf
        _check(prob, "P_k MIQP")
        return float(prob.value)


@functools.lru_cache(maxsize=32)
def _qrot_problem(m: int, n: int, gamma: float) -> tuple[cp.Problem, cp.Variable, cp.Parameter, cp.Parameter,
                                                         cp.Parameter]:
    """The QROT QP for one shape and gamma, with a, b and C as parameters (compiled once)."""
    a, b, C = cp.Parameter(m), cp.Parameter(n), cp.Parameter((m, n))
    T = cp.Variable((m, n), nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(T, C)) + gamma / 2 * cp.sum_squares(T)),
                      [cp.sum(T, axis=1) == a, cp.sum(T, axis=0) == b])
    return prob, T, a, b, C


def qrot_cvxpy(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    """Quadratically regularised OT ``min_{T in U(a,b)} <T,C> + gamma/2 ||T||^2`` (CLARABEL): value, plan."""
    prob, T, a_par, b_par, C_par = _qrot_problem(*C.shape, float(gamma))
    with _SOLVING:
        a_par.value, b_par.value, C_par.value = a, b, C
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, tol_ktratio=1e-10,
                   max_iter=500)
        _check(prob, "QROT QP")
        return float(prob.value), np.maximum(np.asarray(T.value), 0.0)


def ot_exact(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> tuple[float, np.ndarray]:
    """Unregularised OT by POT's network simplex (``ot.emd2`` value, ``ot.emd`` plan)."""
    value, log = ot.emd2(a, b, C, log=True)
    if log.get("warning"):
        raise RuntimeError(f"ot.emd2: {log['warning']}")
    return float(value), ot.emd(a, b, C)


@dataclass(frozen=True)
class POTResult:
    plan: np.ndarray
    value: float  # semi-dual objective S at POT's alpha (POT convention)
    feasibility_gap: float
    primal_value: float
    iterations: int
    seconds: float
    alpha: np.ndarray


def pot_sparse_semi_dual(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, k: int, *,
                         stop_thr: float = 1e-9, max_iter: int = 500) -> POTResult:
    """POT's sparsity-constrained semi-dual (scipy L-BFGS-B).  Inputs are copied and stdout is silenced
    (POT's ``projection_sparse_simplex`` prints debug output; ``delta_Omega`` edits its input)."""
    a, b, C = (np.array(v, dtype=np.float64, copy=True) for v in (a, b, C))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        plan, log = ot.smooth.smooth_ot_semi_dual(a, b, C, gamma, reg_type="sparsity_constrained", max_nz=int(k),
                                                  stopThr=stop_thr, numItermax=max_iter, log=True)
        seconds = time.perf_counter() - t0
        regul = ot.smooth.SparsityConstrained(max_nz=int(k), gamma=gamma)
        value, _ = ot.smooth.semi_dual_obj_grad(log["alpha"], a, b, C.copy(), regul)
    res = log["res"]
    if not np.all(np.isfinite(plan)):
        raise RuntimeError(f"POT semi-dual returned a non-finite plan ({res.message})")
    gap = float(np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum())
    primal = float((plan * C).sum() + gamma / 2 * (plan**2).sum())
    return POTResult(plan=plan, value=float(value), feasibility_gap=gap, primal_value=primal,
                     iterations=int(res.nit), seconds=seconds, alpha=np.asarray(log["alpha"]))
