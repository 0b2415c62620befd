"""Public solvers: :func:`solve_semi_dual` and :func:`solve_dual` (the main dual method, then the k = 1 refinement
and the primal polish), their result :class:`SparseOTResult`, and :func:`best_beta`.  "The module docstring" below
is the overview in the package docstring of :mod:`solvers.sparse_ot`."""

from __future__ import annotations

from dataclasses import dataclass

from ._arrays import Array, _ns, _simplex_theta, _topk_sorted
from ._batch import _Data
from .exact_k1 import _refine_k1
from .objectives import (
    _dual_core,
    _semi_dual_core,
    _semi_dual_fg,
    _transpose,
    _transposed_cost,
    feasibility_gap,
    max_column_nnz,
    primal_value,
)
from .polish import _polish
from .quasi_newton import STOP_GRADIENT, STOP_STALL, _lbfgs
from .validation import _validate


# --------------------------------------------------------------------------------------------------------
# public solvers
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SparseOTResult:
    """Result of :func:`solve_semi_dual` / :func:`solve_dual`; every field has a leading batch axis B.

    plan:               (B, m, n) returned plan (the polished plan where ``polished``, else the raw dual plan)
    value:              (B,) dual objective (S_k or D_k) at the returned ``alpha`` (and ``beta``): a lower bound
                        on P_k (and on S_k for the dual)
    alpha, beta:        (B, m), (B, n) potentials at which ``value`` is attained (beta is None for the semi-dual):
                        those of the main dual method, or of the k = 1 refinement / the polish when these give a
                        larger dual value
    iterations:         (B,) quasi-Newton (BFGS / L-BFGS) iterations of the main dual method per instance
    converged:          (B,) main method stopped on the gradient or stall criterion (not line search/max_iter)
    stop_reason:        (B,) 0 gradient, 1 stall, 2 line search, 3 max_iter (see ``STOPPING_METRIC``)
    feasibility_gap:    (B,) ||T1 - a||_1 + ||T^T1 - b||_1 of ``plan``
    primal_value:       (B,) <T, C> + gamma/2 ||T||^2 of ``plan``
    max_column_nnz:     (B,) largest column support of ``plan`` (<= k by construction)
    polished:           (B,) the polish found an exactly feasible k-sparse plan (feasibility_gap <= feas_tol)
    raw_feasibility_gap:(B,) feasibility gap of the raw plan recovered from the returned potentials
    polish_solves, polish_newton_iterations: (B,) cost of the polish
    """

    plan: Array
    value: Array
    alpha: Array
    beta: Array | None
    iterations: Array
    converged: Array
    stop_reason: Array
    feasibility_gap: Array
    primal_value: Array
    max_column_nnz: Array
    polished: Array
    raw_feasibility_gap: Array
    polish_solves: Array
    polish_newton_iterations: Array

    @property
    def certified_gap(self) -> Array:
        """``primal_value - value`` >= P_k - value >= 0 where ``polished`` (upper bound on suboptimality)."""
        return self.primal_value - self.value


def _dual_at(alpha: Array, data: _Data, dual: bool) -> tuple[Array | None, Array]:
    """(beta, value) at alpha: the semi-dual S(alpha), or D(alpha, best beta) (= S(alpha)) for the dual."""
    xp = data.xp
    if not dual:
        return None, _semi_dual_fg(alpha, data.a, data.b, data.Ct, data.gamma, data.k, xp)[0]
    beta = _best_beta_t(alpha, data)
    return beta, _dual_core(alpha, beta, data.a, data.b, data.Ct, data.gamma, data.k, xp)[0]


def _keep_better(alpha: Array, beta: Array | None, value: Array, cand: Array, data: _Data, dual: bool):
    """Per instance, the potentials (alpha, beta) with the larger dual value: the current ones or ``cand``."""
    xp = data.xp
    beta_c, v_c = _dual_at(cand, data, dual)
    better = v_c > value
    alpha = xp.where(better[:, None], cand, alpha)
    if dual:
        beta = xp.where(better[:, None], beta_c, beta)
    return alpha, beta, xp.where(better, v_c, value)


def _finish(alpha: Array, beta: Array | None, value: Array, iters: Array, reason: Array, data: _Data, C: Array,
            *, polish: bool, feas_tol: float, dual: bool) -> SparseOTResult:
    xp, a, b = data.xp, data.a, data.b
    B = a.shape[0]
    if data.k == 1 and a.shape[1] > 1:  # exact LP value (see _refine_k1); never lowers the value
        alpha_1, _, _ = _refine_k1(alpha, data, xp)
        alpha, beta, value = _keep_better(alpha, beta, value, alpha_1, data, dual)
    if polish:
        pol_plan, alpha_pol, success, solves, newton_its = _polish(alpha, data, xp, feas_tol=feas_tol)
        success = success & (feasibility_gap(pol_plan, a, b) <= feas_tol)
        # the restricted potentials of the polish are a dual point too (the exact optimum when k >= k*)
        alpha, beta, value = _keep_better(alpha, beta, value, alpha_pol, data, dual)
    else:
        pol_plan = None
        success = xp.zeros((B,), dtype=xp.bool)
        solves = newton_its = xp.zeros((B,), dtype=xp.int64)
    if dual:
        raw_plan = _transpose(_dual_core(alpha, beta, a, b, data.Ct, data.gamma, data.k, xp)[3], xp)
    else:
        raw_plan = _transpose(_semi_dual_core(alpha, a, b, data.Ct, data.gamma, data.k, xp)[2], xp)
    plan = raw_plan if pol_plan is None else xp.where(success[:, None, None], pol_plan, raw_plan)
    return SparseOTResult(
        plan=plan, value=value, alpha=alpha, beta=beta, iterations=iters,
        converged=(reason == STOP_GRADIENT) | (reason == STOP_STALL), stop_reason=reason,
        feasibility_gap=feasibility_gap(plan, a, b), primal_value=primal_value(plan, C, data.gamma),
        max_column_nnz=max_column_nnz(plan), polished=success, raw_feasibility_gap=feasibility_gap(raw_plan, a, b),
        polish_solves=solves, polish_newton_iterations=newton_its,
    )


def _neg_semi_dual(x: Array, d: _Data):
    f, g = _semi_dual_fg(x, d.a, d.b, d.Ct, d.gamma, d.k, d.xp)
    return -f, -g


def _neg_dual(x: Array, d: _Data):
    m = d.a.shape[1]
    f, ga, gb, _ = _dual_core(x[:, :m], x[:, m:], d.a, d.b, d.Ct, d.gamma, d.k, d.xp)
    return -f, -d.xp.concat((ga, gb), axis=-1)


def solve_semi_dual(a: Array, b: Array, C: Array, gamma: float, k: int, *, tol: float = 1e-9,
                    gtol: float = 1e-10, max_iter: int = 500, polish: bool = True,
                    feas_tol: float = 1e-9) -> SparseOTResult:
    """Maximise the semi-dual S_k by batched (L-)BFGS, then polish the plan (see the module docstring).

    ``a`` (B, m), ``b`` (B, n), ``C`` (B, m, n) (unbatched inputs get B = 1); ``gamma > 0``; ``k`` in [1, m].
    For k = 1 the value is then raised to the exact LP optimum (:func:`_refine_k1`).
    """
    a, b, C, gamma, k, xp = _validate(a, b, C, gamma, k)
    B, m = a.shape
    n = b.shape[1]
    data = _Data(a, b, _transposed_cost(C, xp), gamma, k, xp)
    h0 = gamma * m / (k * n)
    alpha, F, _, iters, reason = _lbfgs(_neg_semi_dual, data, xp.zeros((B, m), dtype=xp.float64), xp, tol=tol,
                                        gtol=gtol, max_iter=max_iter, h0=h0)
    return _finish(alpha, None, -F, iters, reason, data, C, polish=polish, feas_tol=feas_tol, dual=False)


def solve_dual(a: Array, b: Array, C: Array, gamma: float, k: int, *, tol: float = 1e-9, gtol: float = 1e-10,
               max_iter: int = 2000, polish: bool = True, feas_tol: float = 1e-9) -> SparseOTResult:
    """Maximise the dual D_k over (alpha, beta) by batched (L-)BFGS, then polish the plan from alpha."""
    a, b, C, gamma, k, xp = _validate(a, b, C, gamma, k)
    B, m = a.shape
    n = b.shape[1]
    data = _Data(a, b, _transposed_cost(C, xp), gamma, k, xp)
    h0 = gamma / max(k * n / m, 1.0)
    x, F, _, iters, reason = _lbfgs(_neg_dual, data, xp.zeros((B, m + n), dtype=xp.float64), xp, tol=tol,
                                    gtol=gtol, max_iter=max_iter, h0=h0)
    # exact partial maximisation over beta (each beta_j solves a 1-D monotone equation): it can only raise D
    alpha, beta, value = _keep_better(x[:, :m], x[:, m:], -F, x[:, :m], data, dual=True)
    return _finish(alpha, beta, value, iters, reason, data, C, polish=polish, feas_tol=feas_tol, dual=True)


def _best_beta_t(alpha: Array, data: _Data) -> Array:
    xp = data.xp
    u = alpha[:, None, :] - data.Ct
    tau = _simplex_theta(_topk_sorted(u, data.k, xp), (data.gamma * data.b)[..., None], xp)
    return -tau[..., 0]


def best_beta(alpha: Array, b: Array, C: Array, gamma: float, k: int) -> Array:
    """``argmax_beta D(alpha, beta)``: ``beta_j = -tau_j`` with ``sum_{top-k} [alpha_i - C_ij - tau_j]_+ = gamma b_j``.

    The top-k set of ``alpha + beta_j - c_j`` does not depend on the shift beta_j, so the sup over supports and
    the inf over beta_j commute and ``max_beta D(alpha, beta) = S(alpha)``: D_k = S_k exactly.
    """
    xp = _ns(alpha, b, C)
    return _best_beta_t(alpha, _Data(alpha, b, _transpose(C, xp), gamma, k, xp))
