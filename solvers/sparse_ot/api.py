"""Public solvers: :func:`solve_semi_dual` and :func:`solve_dual` (the main dual method, then the k = 1 refinement
and the primal polish), their result :class:`SparseOTResult`, and :func:`best_beta`.  "The module docstring" below
is the overview in the package docstring of :mod:`solvers.sparse_ot`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

from ._arrays import Array, _ns, _simplex_theta, _topk_sorted
from ._batch import _all, _Data, _put
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
    lp_plan:            (B, m, n) for k = 1 only (else None): the optimal plan of the k = 1 LP
                        ``min_{T in U(a,b)} <T, C> + (gamma/2)||b||^2`` (whose dual is S_1) certified by the k = 1
                        refinement (optimal and feasible to 1e-9); NaN where none was found.  Where it is
                        1-sparse per column it is also the returned ``plan`` (an optimal k = 1 plan: P_1 = S_1)

    Zero-mass rows (a_i = 0) and columns (b_j = 0) are dropped before solving and restored: ``plan`` is zero there,
    ``value`` is the value of the reduced problem (k capped at the number of kept rows), and the restored
    potentials (alpha_i far below every column's support; beta_j = min_i c_ij - alpha_i) give that same value.
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
    lp_plan: Array | None = None

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
    lp_t, lp_ok = None, xp.zeros((B,), dtype=xp.bool)
    if data.k == 1 and a.shape[1] > 1:  # exact LP value (see _refine_k1); never lowers the value
        alpha_1, _, _, lp_t, cert = _refine_k1(alpha, data, xp)
        alpha, beta, value = _keep_better(alpha, beta, value, alpha_1, data, dual)
        lp_t, lp_ok = _k1_lp_plan(lp_t, cert, data, feas_tol)
    if polish:
        todo = ~lp_ok  # a 1-sparse optimal LP plan is an optimal k = 1 plan: nothing to polish
        pol_plan = xp.zeros(data.Ct.shape[:1] + (a.shape[1], b.shape[1]), dtype=xp.float64)
        success = xp.asarray(lp_ok, copy=True)
        solves = xp.zeros((B,), dtype=xp.int64)
        newton_its = xp.zeros((B,), dtype=xp.int64)
        if lp_t is not None:
            pol_plan = xp.where(lp_ok[:, None, None], _transpose(lp_t, xp), pol_plan)
        if bool(xp.any(todo)):
            sub = data if _all(todo, xp) else data.take(todo)
            p_plan, alpha_pol, p_ok, p_solves, p_its = _polish(alpha[todo], sub, xp, feas_tol=feas_tol)
            p_ok = p_ok & (feasibility_gap(p_plan, sub.a, sub.b) <= feas_tol)
            # the restricted potentials of the polish are a dual point too (the exact optimum when k >= k*)
            al_t, be_t, va_t = _keep_better(alpha[todo], None if beta is None else beta[todo], value[todo],
                                            alpha_pol, sub, dual)
            alpha, value = xp.asarray(alpha, copy=True), xp.asarray(value, copy=True)
            for arr, val in ((pol_plan, p_plan), (success, p_ok), (solves, p_solves), (newton_its, p_its),
                             (alpha, al_t), (value, va_t)):
                _put(arr, todo, val)
            if dual:
                beta = xp.asarray(beta, copy=True)
                _put(beta, todo, be_t)
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
        lp_plan=_k1_lp_field(lp_t, plan, data),
    )


def _k1_lp_plan(lp_t: Array, cert: Array, data: _Data, feas_tol: float) -> tuple[Array, Array]:
    """The k = 1 LP plans (transposed, NaN where none was found), with every column whose mass is all in one entry
    up to round-off snapped to exactly b_j there, and the flags of the instances where that plan is 1-sparse per
    column and feasible to ``feas_tol`` (then it is an optimal k = 1 plan)."""
    xp = data.xp
    top = xp.max(lp_t, axis=-1, keepdims=True)
    # a column is 1-sparse when all but its largest entry is round-off (<= 1e-9 b_j in total: QROT leaves ~1e-14)
    one = (data.b - top[..., 0]) <= 1e-9 * data.b  # (B, n)
    first = xp.argmax(lp_t, axis=-1, keepdims=True)
    at_top = xp.arange(lp_t.shape[-1])[None, None, :] == first
    snapped = xp.where(one[..., None], xp.where(at_top, data.b[..., None], 0.0), lp_t)
    ok = cert & xp.all(one, axis=-1)
    ok = ok & (feasibility_gap(_transpose(snapped, xp), data.a, data.b) <= feas_tol)
    return xp.where(cert[:, None, None], snapped, xp.nan), ok


def _k1_lp_field(lp_t: Array | None, plan: Array, data: _Data) -> Array | None:
    if data.k != 1:
        return None
    if lp_t is None:  # m = 1: the only plan is the LP optimum
        return plan
    return _transpose(lp_t, data.xp)


def _neg_semi_dual(x: Array, d: _Data):
    f, g = _semi_dual_fg(x, d.a, d.b, d.Ct, d.gamma, d.k, d.xp)
    return -f, -g


def _neg_dual(x: Array, d: _Data):
    m = d.a.shape[1]
    f, ga, gb, _ = _dual_core(x[:, :m], x[:, m:], d.a, d.b, d.Ct, d.gamma, d.k, d.xp)
    return -f, -d.xp.concat((ga, gb), axis=-1)


class SparseOTPolishWarning(RuntimeWarning):
    """The polish found no exactly feasible k-sparse plan for some instances (one may not exist)."""


def solve_semi_dual(a: Array, b: Array, C: Array, gamma: float, k: int, *, tol: float = 1e-9,
                    gtol: float = 1e-10, max_iter: int = 500, polish: bool = True,
                    feas_tol: float = 1e-9) -> SparseOTResult:
    """Maximise the semi-dual S_k by batched (L-)BFGS, then polish the plan (see the module docstring).

    ``a`` (B, m), ``b`` (B, n), ``C`` (B, m, n) (unbatched inputs get B = 1; any real dtype, computed in float64);
    ``gamma > 0`` (a real scalar or 0-d array); ``k`` in [1, m].  Inputs are checked and the marginals renormalised
    by :func:`~solvers.sparse_ot.validation._validate`; zero-mass rows and columns are dropped and restored (see
    :class:`SparseOTResult`).  For k = 1 the value is then raised to the exact LP optimum (:func:`_refine_k1`).
    Emits :class:`SparseOTPolishWarning` when ``polish`` and some instance has no polished plan.
    """
    args = _validate(a, b, C, gamma, k)
    return _solve_public(_semi_dual_core_solve, *args, polish=polish, feas_tol=feas_tol,
                         opts={"tol": tol, "gtol": gtol, "max_iter": max_iter})


def solve_dual(a: Array, b: Array, C: Array, gamma: float, k: int, *, tol: float = 1e-9, gtol: float = 1e-10,
               max_iter: int = 2000, polish: bool = True, feas_tol: float = 1e-9) -> SparseOTResult:
    """Maximise the dual D_k over (alpha, beta) by batched (L-)BFGS, then polish the plan from alpha (inputs as for
    :func:`solve_semi_dual`)."""
    args = _validate(a, b, C, gamma, k)
    return _solve_public(_dual_core_solve, *args, polish=polish, feas_tol=feas_tol,
                         opts={"tol": tol, "gtol": gtol, "max_iter": max_iter})


def _semi_dual_core_solve(a: Array, b: Array, C: Array, gamma: float, k: int, xp, *, tol: float, gtol: float,
                          max_iter: int, polish: bool, feas_tol: float) -> SparseOTResult:
    B, m = a.shape
    n = b.shape[1]
    data = _Data(a, b, _transposed_cost(C, xp), gamma, k, xp)
    h0 = gamma * m / (k * n)
    alpha, F, _, iters, reason = _lbfgs(_neg_semi_dual, data, xp.zeros((B, m), dtype=xp.float64), xp, tol=tol,
                                        gtol=gtol, max_iter=max_iter, h0=h0)
    return _finish(alpha, None, -F, iters, reason, data, C, polish=polish, feas_tol=feas_tol, dual=False)


def _dual_core_solve(a: Array, b: Array, C: Array, gamma: float, k: int, xp, *, tol: float, gtol: float,
                     max_iter: int, polish: bool, feas_tol: float) -> SparseOTResult:
    B, m = a.shape
    n = b.shape[1]
    data = _Data(a, b, _transposed_cost(C, xp), gamma, k, xp)
    h0 = gamma / max(k * n / m, 1.0)
    x, F, _, iters, reason = _lbfgs(_neg_dual, data, xp.zeros((B, m + n), dtype=xp.float64), xp, tol=tol,
                                    gtol=gtol, max_iter=max_iter, h0=h0)
    # exact partial maximisation over beta (each beta_j solves a 1-D monotone equation): it can only raise D
    alpha, beta, value = _keep_better(x[:, :m], x[:, m:], -F, x[:, :m], data, dual=True)
    return _finish(alpha, beta, value, iters, reason, data, C, polish=polish, feas_tol=feas_tol, dual=True)


def _solve_public(core, a: Array, b: Array, C: Array, gamma: float, k: int, xp, *, polish: bool,
                  feas_tol: float, opts: dict) -> SparseOTResult:
    """``core`` on the instances without zero masses (one batch), and on each instance with zero-mass rows or
    columns separately, reduced to its positive-mass rows and columns and restored (:func:`_restore`)."""
    kw = dict(opts, polish=polish, feas_tol=feas_tol)
    clean = xp.all(a > 0, axis=-1) & xp.all(b > 0, axis=-1)
    if _all(clean, xp):
        res = core(a, b, C, gamma, k, xp, **kw)
    else:
        parts = []
        if bool(xp.any(clean)):
            parts.append((clean, core(a[clean], b[clean], C[clean], gamma, k, xp, **kw)))
        B = a.shape[0]
        for i in range(B):
            if bool(clean[i]):
                continue
            one = xp.arange(B) == i
            parts.append((one, _reduced_solve(core, a[i, ...], b[i, ...], C[i, ...], gamma, k, xp, kw)))
        res = _assemble(parts, a, b, C, gamma, k, xp)
    if polish and not _all(res.polished, xp):
        bad = [i for i in range(res.polished.shape[0]) if not bool(res.polished[i])]
        warnings.warn(SparseOTPolishWarning(
            f"the polish found no exactly feasible {k}-sparse plan for instance(s) {bad[:20]}"
            f"{' ...' if len(bad) > 20 else ''}; such a plan may not exist (for k = 1 it exists only when column "
            "masses add up to the row masses exactly).  There `plan` is the raw dual plan (feasibility_gap > "
            "feas_tol) and `polished` is False"), stacklevel=3)
    return res


def _onehot(mask: Array, xp) -> Array:
    """(len(mask), mask.sum()) matrix E with E[idx[r], r] = 1: E @ x_reduced restores x with zeros elsewhere."""
    idx = xp.nonzero(mask)[0]
    return xp.astype(xp.arange(mask.shape[0])[:, None] == idx[None, :], xp.float64)


def _reduced_solve(core, a: Array, b: Array, C: Array, gamma: float, k: int, xp, kw: dict) -> SparseOTResult:
    """One instance with zero masses: solve on its positive rows / columns (k capped at their number), restore."""
    rows, cols = a > 0, b > 0
    Er, Ec = _onehot(rows, xp), _onehot(cols, xp)
    ri, ci = xp.nonzero(rows)[0], xp.nonzero(cols)[0]
    Cr = xp.take(xp.take(C, ri, axis=0), ci, axis=1)
    ar, br = xp.take(a, ri, axis=0), xp.take(b, ci, axis=0)
    mr = int(ri.shape[0])
    r = core(ar[None, :], br[None, :], Cr[None, ...], gamma, min(k, mr), xp, **kw)
    plan = xp.matmul(xp.matmul(Er, r.plan[0, ...]), xp.permute_dims(Ec, (1, 0)))[None, ...]
    # dropped rows: alpha_i below every kept column's support threshold and minimum (never enters a column)
    alpha_r = r.alpha[0, ...]
    S = alpha_r[:, None] - Cr  # (mr, nr)
    tau = -(r.beta[0, ...] if r.beta is not None else _best_beta_t(r.alpha, _Data(
        r.alpha, br[None, :], _transpose(Cr[None, ...], xp), gamma, min(k, mr), xp))[0, ...])
    floor = xp.minimum(xp.min(S, axis=0), tau)  # (nr,)
    big = gamma + 1.0 + 1e-9 * (xp.max(xp.abs(C)) + xp.max(xp.abs(alpha_r)))
    fill_a = xp.min(xp.take(C, ci, axis=1) + floor[None, :], axis=1) - big  # (m,)
    alpha = xp.matmul(Er, alpha_r) + xp.where(rows, 0.0, fill_a)
    beta = None
    if r.beta is not None:  # dropped columns: alpha_i + beta_j - c_ij <= 0 for every row
        fill_b = xp.min(C - alpha[:, None], axis=0)
        beta = (xp.matmul(Ec, r.beta[0, ...]) + xp.where(cols, 0.0, fill_b))[None, :]
    lp_plan = None
    if r.lp_plan is not None and k == 1:
        lp_plan = xp.matmul(xp.matmul(Er, r.lp_plan[0, ...]), xp.permute_dims(Ec, (1, 0)))[None, ...]
    return replace(r, plan=plan, alpha=alpha[None, :], beta=beta,
                   feasibility_gap=feasibility_gap(plan, a[None, :], b[None, :]),
                   primal_value=primal_value(plan, C[None, ...], gamma), lp_plan=lp_plan)


def _assemble(parts, a: Array, b: Array, C: Array, gamma: float, k: int, xp) -> SparseOTResult:
    """Full-batch result from (mask, result) parts covering every instance once."""
    B = a.shape[0]
    first = parts[0][1]
    fields = {}
    for name in ("plan", "value", "alpha", "beta", "iterations", "converged", "stop_reason", "feasibility_gap",
                 "primal_value", "max_column_nnz", "polished", "raw_feasibility_gap", "polish_solves",
                 "polish_newton_iterations", "lp_plan"):
        if getattr(first, name) is None and name in ("beta",):
            fields[name] = None
            continue
        if name == "lp_plan" and k != 1:
            fields[name] = None
            continue
        v0 = getattr(first, name)
        full = xp.zeros((B,) + tuple(v0.shape[1:]), dtype=v0.dtype)
        for mask, r in parts:
            _put(full, mask, getattr(r, name))
        fields[name] = full
    return SparseOTResult(**fields)


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
