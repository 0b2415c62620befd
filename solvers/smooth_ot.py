"""Batched smooth optimal transport (Blondel, Seguy, Rolet, AISTATS 2018): the dual and semi-dual of OT regularised
by a strongly convex term, for the squared l2 norm (sparse plans) and the negative entropy.

Conventions (POT's ``ot.smooth``, from the authors' code): marginals ``a`` (B, m), ``b`` (B, n), costs ``C``
(B, m, n); the regulariser acts on columns, ``Omega(t) = (gamma/2) ||t||^2`` (``reg="l2"``) or
``Omega(t) = gamma sum_i t_i log t_i`` (``reg="kl"``).

* primal    ``OT_Omega = min_{T in U(a, b)} <T, C> + sum_j Omega(T[:, j])``;
* dual      ``D(alpha, beta) = a.alpha + b.beta - sum_j delta(alpha + beta_j - c_j)``, with
  ``delta(s) = ||[s]_+||^2 / (2 gamma)`` (l2) or ``gamma sum_i exp(s_i / gamma - 1)`` (kl); plan
  ``T = [alpha_i + beta_j - c_ij]_+ / gamma`` (l2) or ``exp((alpha_i + beta_j - c_ij) / gamma - 1)`` (kl);
* semi-dual ``S(alpha) = a.alpha - sum_j b_j max_j(alpha - c_j)``, with
  ``max_j(s) = max_{t in simplex} s.t - Omega(b_j t) / b_j``; plan ``T[:, j] = b_j t*_j``, where
  ``t*_j = P_simplex((alpha - c_j) / (gamma b_j))`` (l2) or ``softmax((alpha - c_j) / gamma)`` (kl).

The solver (:func:`solve`) is a batched globalised Newton method.

* Squared l2: a semismooth Newton ascent on the full dual (alpha, beta) (Lorenz, Manns, Meyer, "Quadratically
  regularized optimal transport", Appl. Math. Optim. 2021). With S the 0/1 support of the current plan, a
  generalized Hessian of ``-D`` is ``K / gamma``, ``K = [[diag(S 1), S], [S^T, diag(S^T 1)]]``; the step solves
  ``(K + rho I) d = gamma grad`` exactly, ``rho = 0.2 (gamma / s) ||grad||_1`` with s the spread max C - min C of
  the costs (floor 1e-12: ``(1, -1)`` spans the null space
  of K, along which D is constant), through the Schur complement onto the smaller of the two sides (one batched
  dense solve of size min(m, n)). Armijo backtracking on the concave dual (halving, at most 50 trials; the dual
  along the direction is evaluated without any sorting, for the instances still waiting only). Start: alpha = 0
  and the best beta for it (exact column marginals, so every column has support).
* Entropy: a damped Newton ascent on the semi-dual, Hessian of ``-S`` ``(1/gamma) (diag(T 1) - T diag(1 / b) T^T)``,
  damping ``mu = 1e-3 ||grad||_1 / gamma``, the same line search; beta is then recovered in closed form,
  ``gamma (log b_j + 1 - logsumexp((alpha - c_j) / gamma))``, so the dual and semi-dual plans coincide.
  Or (``method="sinkhorn"``) batched Sinkhorn on the same dual (:func:`solvers.sinkhorn.sinkhorn`, eta = 1 / gamma,
  kernel scalings where float64 allows): two matrix-vector products per iteration against a dense solve and
  line search per Newton iteration, so it is the faster of the two while ``(max C - min C) / gamma`` is moderate
  (a batch of 64 at 50 x 50, cost spread 1, to a gap of 1e-6: at gamma = 0.05, 49 Sinkhorn iterations against
  7 Newton ones and 8x less time; at 0.01, 571 against 17 and 1.8x less; at 0.002, 11789 against 29 and 3.5x
  more), and the slower as gamma shrinks.

Both line searches accept, besides the Armijo ascent, a trial whose value equals the current one to round-off
(relative 1e-13) and whose marginal gap is smaller: near the optimum the dual's increase falls below the
round-off of its value before the gap reaches 1e-9.  An instance stops when the marginal gap of its dual plan,
``||T 1 - a||_1 + ||T^T 1 - b||_1``, is at most ``tol`` (or when no trial step is accepted, or at ``max_iter``).
Converged instances are dropped from the working batch (boolean masks), so an instance's iterates do not depend
on the rest of its batch.

Every function takes arrays of any namespace that follows the Python array API standard (NumPy,
array-api-strict, CuPy) and computes in float64; unbatched inputs (a (m,), b (n,), C (m, n)) get B = 1.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import array_api_compat

from solvers.sinkhorn import sinkhorn
from solvers.sparse_ot import projection_simplex

Array = Any
REGULARISERS = ("l2", "kl")
METHODS = ("newton", "sinkhorn")
_ARMIJO = 1e-4
_MAX_HALVINGS = 50
# ridge rho = _RIDGE * (gamma / s) * gap of the l2 Newton system (K + rho I) d = gamma g (s the costs' spread; K
# with integer entries): a ridge mu = _RIDGE gap / s on the Hessian K / gamma, so that the steps along the null
# directions of a disconnected support (gamma g / rho) do not shrink with gamma (with rho = 1e-2 gap, 5 of 16
# instances at gamma = 1e-4, n = 60 missed 1000 iterations; with this one all took <= 330); a floor for
# the null direction (1, -1) of K, along which the dual is constant
_RIDGE = 0.2
_RIDGE_FLOOR = 1e-12
# damping mu = _KL_DAMPING ||grad||_1 / gamma of the entropic semi-dual Newton system (1e-3 took 7-13 iterations)
_KL_DAMPING = 1e-3
# two values within _FLAT (relative) are equal to round-off: the line search then asks for a smaller gap instead
_FLAT = 1e-13


# ----------------------------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------------------------
def _check_reg(reg: str) -> str:
    if reg not in REGULARISERS:
        raise ValueError(f"reg must be one of {REGULARISERS}; got {reg!r}")
    return reg


def _check_gamma(gamma: Any) -> float:
    rule = "gamma must be a finite real number > 0"
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real | int | float):
        try:
            if getattr(gamma, "shape", None) != ():
                raise TypeError
            gamma = float(gamma)
        except (TypeError, ValueError):
            raise ValueError(f"{rule}; got {gamma!r}") from None
    g = float(gamma)
    if not math.isfinite(g) or g <= 0:
        raise ValueError(f"{rule}; got {gamma!r}")
    return g


def _validate(a: Array, b: Array, C: Array, gamma: Any, reg: str) -> tuple[Array, Array, Array, float, Any]:
    """Batched float64 ``a, b, C``, gamma as a float, and the namespace; ValueError naming the rule otherwise."""
    _check_reg(reg)
    g = _check_gamma(gamma)
    xp = array_api_compat.array_namespace(a, b, C)
    if a.ndim == 1 and b.ndim == 1 and C.ndim == 2:
        a, b, C = a[None, :], b[None, :], C[None, ...]
    if a.ndim != 2 or b.ndim != 2 or C.ndim != 3:
        raise ValueError(f"a, b, C must have shapes (B, m), (B, n), (B, m, n); got {a.shape}, {b.shape}, {C.shape}")
    B, m = a.shape
    n = b.shape[1]
    if b.shape[0] != B or tuple(C.shape) != (B, m, n):
        raise ValueError(f"C must have shape (B, m, n) = {(B, m, n)} matching a and b; got {tuple(C.shape)}")
    a, b, C = (xp.astype(v, xp.float64, copy=False) for v in (a, b, C))
    for name, v in (("a", a), ("b", b)):
        if not bool(xp.all(xp.isfinite(v))):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        if not bool(xp.all(v > 0)):
            raise ValueError(f"{name} must be strictly positive (drop zero-mass points first)")
        if float(xp.max(xp.abs(xp.sum(v, axis=-1) - 1.0))) > 1e-8:
            raise ValueError(f"{name} must sum to one along its last axis (tolerance 1e-8)")
    if not bool(xp.all(xp.isfinite(C))):
        raise ValueError("C must be finite (no NaN or inf)")
    return a, b, C, g, xp


def _ns(*arrays: Array) -> Any:
    return array_api_compat.array_namespace(*arrays)


# ----------------------------------------------------------------------------------------------------------------
# conjugates, objectives and plans (the internal versions take the transposed cost Ct, shape (B, n, m))
# ----------------------------------------------------------------------------------------------------------------
def _logsumexp(x: Array, xp: Any) -> Array:
    top = xp.max(x, axis=-1, keepdims=True)
    return xp.log(xp.sum(xp.exp(x - top), axis=-1)) + top[..., 0]


def _columns(alpha: Array, b: Array, Ct: Array, gamma: float, reg: str, xp: Any) -> tuple[Array, Array]:
    """Per column j: ``max_j(alpha - c_j)`` (B, n) and ``t*_j`` (B, n, m)."""
    s = alpha[:, None, :] - Ct
    if reg == "l2":
        scale = gamma * b
        t = projection_simplex(s / scale[..., None])
        val = xp.sum(s * t, axis=-1) - scale / 2.0 * xp.sum(t * t, axis=-1)
        return val, t
    z = s / gamma
    top = xp.max(z, axis=-1, keepdims=True)
    e = xp.exp(z - top)  # one exponential serves the log-sum-exp and the softmax
    total = xp.sum(e, axis=-1, keepdims=True)
    lse = (xp.log(total) + top)[..., 0]
    return gamma * lse - gamma * xp.log(b), e / total


def _semi_dual(alpha: Array, a: Array, b: Array, Ct: Array, gamma: float, reg: str, xp: Any):
    """Semi-dual value (B,), gradient ``a - T 1`` (B, m) and transposed plan (B, n, m)."""
    val, t = _columns(alpha, b, Ct, gamma, reg, xp)
    Tt = b[..., None] * t
    return xp.sum(a * alpha, axis=-1) - xp.sum(b * val, axis=-1), a - xp.sum(Tt, axis=-2), Tt


def _dual_plan_t(alpha: Array, beta: Array, Ct: Array, gamma: float, reg: str, xp: Any) -> Array:
    X = alpha[:, None, :] + beta[:, :, None] - Ct
    if reg == "l2":
        return xp.maximum(X, xp.zeros_like(X)) / gamma
    return xp.exp(X / gamma - 1.0)


def _dual(alpha: Array, beta: Array, a: Array, b: Array, Ct: Array, gamma: float, reg: str, xp: Any):
    """Dual value (B,), gradients (B, m), (B, n), and transposed plan (B, n, m)."""
    Gt = _dual_plan_t(alpha, beta, Ct, gamma, reg, xp)
    conj = gamma / 2.0 * xp.sum(Gt * Gt, axis=(-2, -1)) if reg == "l2" else gamma * xp.sum(Gt, axis=(-2, -1))
    f = xp.sum(a * alpha, axis=-1) + xp.sum(b * beta, axis=-1) - conj
    return f, a - xp.sum(Gt, axis=-2), b - xp.sum(Gt, axis=-1), Gt


def _transpose(C: Array, xp: Any) -> Array:
    return xp.permute_dims(C, (0, 2, 1))


def semi_dual_value_grad(alpha: Array, a: Array, b: Array, C: Array, gamma: float, reg: str = "l2"):
    """Semi-dual ``S(alpha)`` (B,) and its gradient ``a - T 1`` (B, m) at potentials ``alpha`` (B, m)."""
    a, b, C, g, xp = _validate(a, b, C, gamma, reg)
    f, grad, _ = _semi_dual(_batched(alpha, xp), a, b, _transpose(C, xp), g, reg, xp)
    return f, grad


def dual_value_grad(alpha: Array, beta: Array, a: Array, b: Array, C: Array, gamma: float, reg: str = "l2"):
    """Dual ``D(alpha, beta)`` (B,) and its gradients ``a - T 1`` (B, m), ``b - T^T 1`` (B, n)."""
    a, b, C, g, xp = _validate(a, b, C, gamma, reg)
    f, ga, gb, _ = _dual(_batched(alpha, xp), _batched(beta, xp), a, b, _transpose(C, xp), g, reg, xp)
    return f, ga, gb


def dual_plan(alpha: Array, beta: Array, C: Array, gamma: float, reg: str = "l2") -> Array:
    """The plan of dual potentials: ``[alpha_i + beta_j - c_ij]_+ / gamma`` (l2) or
    ``exp((alpha_i + beta_j - c_ij) / gamma - 1)`` (kl), shape (B, m, n)."""
    _check_reg(reg)
    g = _check_gamma(gamma)
    xp = _ns(alpha, beta, C)
    C = xp.astype(C if C.ndim == 3 else C[None, ...], xp.float64)
    return _transpose(_dual_plan_t(_batched(alpha, xp), _batched(beta, xp), _transpose(C, xp), g, reg, xp), xp)


def primal_value(T: Array, C: Array, gamma: float, reg: str = "l2") -> Array:
    """``<T, C> + sum_j Omega(T[:, j])`` per instance (0 log 0 = 0 for kl), shape (B,)."""
    _check_reg(reg)
    g = _check_gamma(gamma)
    xp = _ns(T, C)
    lin = xp.sum(T * C, axis=(-2, -1))
    if reg == "l2":
        return lin + g / 2.0 * xp.sum(T * T, axis=(-2, -1))
    pos = T > 0
    safe = xp.where(pos, T, xp.ones_like(T))
    return lin + g * xp.sum(xp.where(pos, T * xp.log(safe), xp.zeros_like(T)), axis=(-2, -1))


def _batched(x: Array, xp: Any) -> Array:
    x = xp.astype(x, xp.float64)
    return x[None, :] if x.ndim == 1 else x


# ----------------------------------------------------------------------------------------------------------------
# the batched Newton methods: full dual (squared l2), semi-dual (entropy)
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmoothOTResult:
    """Result of :func:`solve`; every field has a leading batch axis B.

    plan:            (B, m, n) the dual plan of the returned potentials, ``T(alpha, beta)``
    alpha, beta:     (B, m), (B, n) dual potentials
    semi_dual_value: (B,) S(alpha) (at least D(alpha, beta); equal at the optimum)
    dual_value:      (B,) D(alpha, beta)
    primal_value:    (B,) <T, C> + sum_j Omega(T[:, j]) of ``plan``
    marginal_gap:    (B,) ||T 1 - a||_1 + ||T^T 1 - b||_1 of ``plan``
    iterations:      (B,) Newton (or Sinkhorn) iterations
    converged:       (B,) marginal gap <= tol reached
    """

    plan: Array
    alpha: Array
    beta: Array
    semi_dual_value: Array
    dual_value: Array
    primal_value: Array
    marginal_gap: Array
    iterations: Array
    converged: Array


def solve(a: Array, b: Array, C: Array, gamma: float, reg: str = "l2", *, tol: float = 1e-9,
          max_iter: int | None = None, method: str = "newton") -> SmoothOTResult:
    """Smooth OT, batched (see the module docstring): a globalised Newton method on the full dual for the squared
    l2 norm and on the semi-dual for the entropy, or, for the entropy, Sinkhorn (``method="sinkhorn"``).

    ``a`` (B, m) and ``b`` (B, n) strictly positive and summing to one, ``C`` (B, m, n) finite, ``gamma > 0``,
    ``reg`` in ``("l2", "kl")``; ``tol > 0`` is the target marginal gap ``||T 1 - a||_1 + ||T^T 1 - b||_1``;
    ``max_iter >= 1`` (default 500 Newton or 100000 Sinkhorn iterations). ``method="sinkhorn"`` (``reg="kl"``
    only) runs :func:`solvers.sinkhorn.sinkhorn` with ``eta = 1 / gamma`` in its ``"auto"`` domain (kernel
    scalings where float64 allows): the same plan, far cheaper per iteration, but its iterations grow like
    ``(max C - min C) / gamma``, so the Newton method is the one for small gamma.
    """
    a, b, C, g, xp = _validate(a, b, C, gamma, reg)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a finite real number > 0; got {tol!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if method == "sinkhorn" and reg != "kl":
        raise ValueError(f"method='sinkhorn' solves the entropic problem only (reg='kl'); got reg={reg!r}")
    if max_iter is None:
        max_iter = 100_000 if method == "sinkhorn" else 500
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1; got {max_iter!r}")
    if method == "sinkhorn":
        run = sinkhorn(a, b, C, 1.0 / g, tol=float(tol), max_iter=int(max_iter), domain="auto")
        return _entropic_result(run.x, run.y, run.plan, a, b, g, run.iterations, float(tol), xp)
    Ct = _transpose(C, xp)
    if reg == "l2":
        alpha, beta, iters = _newton_dual_l2(a, b, Ct, g, float(tol), int(max_iter), xp)
    else:
        alpha, iters = _newton_semi_dual_kl(a, b, Ct, g, float(tol), int(max_iter), xp)
        beta = _best_beta(alpha, b, Ct, g, reg, xp)
    f, _, _ = _semi_dual(alpha, a, b, Ct, g, reg, xp)
    D, ga, gb, Gt = _dual(alpha, beta, a, b, Ct, g, reg, xp)
    plan = _transpose(Gt, xp)
    gap = xp.sum(xp.abs(ga), axis=-1) + xp.sum(xp.abs(gb), axis=-1)
    return SmoothOTResult(plan=plan, alpha=alpha, beta=beta, semi_dual_value=f, dual_value=D,
                          primal_value=primal_value(plan, C, g, reg), marginal_gap=gap, iterations=iters,
                          converged=gap <= tol)


def _entropic_result(alpha: Array, beta: Array, plan: Array, a: Array, b: Array, gamma: float, iters: Array,
                     tol: float, xp: Any) -> SmoothOTResult:
    """The result fields of the entropic problem from a plan ``T = exp((alpha_i + beta_j - c_ij) / gamma - 1)``
    already computed, without another exponential: ``log T`` is known, so ``Omega(T) = sum_ij T_ij (alpha_i +
    beta_j - c_ij - gamma)``, and the column sums give the semi-dual's log-sum-exps,
    ``gamma logsumexp((alpha - c_j) / gamma) = gamma (log (T^T 1)_j + 1) - beta_j``."""
    rows, cols = xp.sum(plan, axis=-1), xp.sum(plan, axis=-2)
    mass = xp.sum(cols, axis=-1)
    dual = xp.sum(a * alpha, axis=-1) + xp.sum(b * beta, axis=-1) - gamma * mass
    col_max = gamma * (xp.log(cols) + 1.0 - xp.log(b)) - beta  # max_j(alpha - c_j), per column j
    semi = xp.sum(a * alpha, axis=-1) - xp.sum(b * col_max, axis=-1)
    primal = xp.sum(rows * alpha, axis=-1) + xp.sum(cols * beta, axis=-1) - gamma * mass  # <T, C> + Omega(T)
    gap = xp.sum(xp.abs(rows - a), axis=-1) + xp.sum(xp.abs(cols - b), axis=-1)
    return SmoothOTResult(plan=plan, alpha=alpha, beta=beta, semi_dual_value=semi, dual_value=dual,
                          primal_value=primal, marginal_gap=gap, iterations=iters, converged=gap <= tol)


def _newton_dual_l2(a: Array, b: Array, Ct: Array, gamma: float, tol: float, max_iter: int,
                    xp: Any) -> tuple[Array, Array, Array]:
    """Globalised semismooth Newton ascent on the squared-l2 dual; returns alpha, beta, iterations.

    The dual, its gradients and plan at an accepted step are those the line search computed for it, so each
    iteration evaluates the objective only at its trial points."""
    B, m = a.shape
    alpha = xp.zeros((B, m), dtype=xp.float64)
    beta = _best_beta(alpha, b, Ct, gamma, "l2", xp)  # exact column marginals: every column has support
    f, ga, gb, Gt = _dual(alpha, beta, a, b, Ct, gamma, "l2", xp)
    spread = xp.max(Ct, axis=(-2, -1)) - xp.min(Ct, axis=(-2, -1))
    ridge = _RIDGE * gamma / xp.where(spread > 0, spread, xp.ones_like(spread))  # rho / gap, per instance
    iters = xp.zeros((B,), dtype=xp.int64)
    active = xp.ones((B,), dtype=xp.bool)
    for _ in range(max_iter + 1):
        if not bool(xp.any(active)):
            break
        al, be, aa, bb, cc, fa, gaa, gba, Gta, ra = _take(active, xp, alpha, beta, a, b, Ct, f, ga, gb, Gt, ridge)
        gap = xp.sum(xp.abs(gaa), axis=-1) + xp.sum(xp.abs(gba), axis=-1)
        still = ~((gap <= tol) | (iters[active] >= max_iter))
        if not bool(xp.any(still)):
            _put(active, active, xp.zeros(gap.shape, dtype=xp.bool))
            break
        da, db = _newton_step_l2(gaa, gba, Gta > 0, ra * gap, gamma, xp)
        slope = xp.sum(gaa * da, axis=-1) + xp.sum(gba * db, axis=-1)  # > 0: an ascent direction
        step = _dual_line_search(al, be, da, db, fa, gap, slope, still, aa, bb, cc, gamma, xp,
                                 (fa, gaa, gba, Gta))
        moved = still & (step > 0)
        _put(alpha, active, al + step[:, None] * da)
        _put(beta, active, be + step[:, None] * db)
        for out, new in zip((f, ga, gb, Gt), (fa, gaa, gba, Gta), strict=True):
            _put(out, active, new)  # updated in place by the line search at the accepted steps
        _put(iters, active, iters[active] + xp.astype(moved, xp.int64))
        _put(active, active, moved)
    return alpha, beta, iters


def _newton_step_l2(ga: Array, gb: Array, support_t: Array, ridge: Array, gamma: float,
                    xp: Any) -> tuple[Array, Array]:
    """Solve ``(K + rho I) (d_alpha, d_beta) = gamma (g_alpha, g_beta)`` exactly, with
    ``K = [[diag(S 1), S], [S^T, diag(S^T 1)]]`` (S the 0/1 support, ``support_t`` its transpose (B, n, m)) and
    ``rho = max(ridge, _RIDGE_FLOOR)`` (B,): a Schur complement onto the smaller side, one batched dense solve."""
    S = xp.astype(support_t, xp.float64)  # (B, n, m)
    rho = xp.maximum(ridge, xp.full(ridge.shape, _RIDGE_FLOOR, dtype=ridge.dtype))
    dr = xp.sum(S, axis=-2) + rho[:, None]  # (B, m)
    dc = xp.sum(S, axis=-1) + rho[:, None]  # (B, n)
    m, n = ga.shape[-1], gb.shape[-1]
    if m <= n:
        A = _diag(dr, xp) - xp.matmul(xp.permute_dims(S / dc[..., None], (0, 2, 1)), S)  # (B, m, m)
        rhs = gamma * (ga - xp.sum(S * (gb / dc)[..., None], axis=-2))
        da = xp.linalg.solve(A, rhs[..., None])[..., 0]
        db = (gamma * gb - xp.sum(S * da[:, None, :], axis=-1)) / dc
    else:
        A = _diag(dc, xp) - xp.matmul(S / dr[:, None, :], xp.permute_dims(S, (0, 2, 1)))  # (B, n, n)
        rhs = gamma * (gb - xp.sum(S * (ga / dr)[:, None, :], axis=-1))
        db = xp.linalg.solve(A, rhs[..., None])[..., 0]
        da = (gamma * ga - xp.sum(S * db[..., None], axis=-2)) / dr
    return da, db


def _accept(trial: Array, trial_gap: Array, f: Array, gap: Array, step: Array, slope: Array, xp: Any) -> Array:
    """Armijo ascent, or (once the values agree to round-off) a smaller marginal gap."""
    flat = xp.abs(trial - f) <= _FLAT * xp.maximum(xp.abs(f), xp.ones_like(f))
    return (trial >= f + _ARMIJO * step * slope) | (flat & (trial_gap < gap))


def _backtrack(evaluate: Any, f: Array, gap: Array, slope: Array, still: Array,
               accepted: tuple[Array, ...], xp: Any) -> Array:
    """Per instance of ``still`` the largest step 2^-k (k < 50) accepted by :func:`_accept`; 0 elsewhere.

    ``evaluate(wait, t)`` returns, for the instances of the mask ``wait`` only, the objective at step t, its
    marginal gap and the values to keep at an accepted step (matching ``accepted``, which holds them at the current
    point and is overwritten in place, per instance, with those at the accepted step)."""
    step = xp.zeros(f.shape, dtype=xp.float64)
    wait = xp.asarray(still, copy=True)  # updated in place below
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        if not bool(xp.any(wait)):
            break
        fw, gw, sw = _take(wait, xp, f, gap, slope)
        trial, trial_gap, values = evaluate(wait, t)
        ok = _accept(trial, trial_gap, fw, gw, t, sw, xp)
        _put_accepted(accepted, wait, ok, values, xp)
        _put(step, wait, xp.where(ok, xp.full(ok.shape, t, dtype=xp.float64), xp.zeros(ok.shape, dtype=xp.float64)))
        _put(wait, wait, ~ok)
        t /= 2.0
    return step


def _dual_line_search(al: Array, be: Array, da: Array, db: Array, f: Array, gap: Array, slope: Array,
                      still: Array, a: Array, b: Array, Ct: Array, gamma: float, xp: Any,
                      accepted: tuple[Array, Array, Array, Array]) -> Array:
    """:func:`_backtrack` on the l2 dual along (da, db), ``accepted`` = (value, grad alpha, grad beta, transposed
    plan). The dual along the direction is ``lin + t dlin - ||[X + t dX]_+||^2 / (2 gamma)``, without sorting."""
    X = al[:, None, :] + be[:, :, None] - Ct  # (B, n, m)
    dX = da[:, None, :] + db[:, :, None]
    lin = xp.sum(a * al, axis=-1) + xp.sum(b * be, axis=-1)
    dlin = xp.sum(a * da, axis=-1) + xp.sum(b * db, axis=-1)

    def evaluate(wait: Array, t: float) -> tuple[Array, Array, tuple[Array, ...]]:
        Xw, dXw, aw, bw, lw, dlw = _take(wait, xp, X, dX, a, b, lin, dlin)
        P = xp.maximum(Xw + t * dXw, xp.zeros_like(Xw)) / gamma
        trial = lw + t * dlw - gamma / 2.0 * xp.sum(P * P, axis=(-2, -1))
        ra, rb = aw - xp.sum(P, axis=-2), bw - xp.sum(P, axis=-1)
        return trial, xp.sum(xp.abs(ra), axis=-1) + xp.sum(xp.abs(rb), axis=-1), (trial, ra, rb, P)

    return _backtrack(evaluate, f, gap, slope, still, accepted, xp)


def _put_accepted(outs: tuple[Array, ...], wait: Array, ok: Array, values: tuple[Array, ...], xp: Any) -> None:
    """``out[wait][ok] = value`` for each pair: the evaluations at the steps just accepted."""
    if not bool(xp.any(ok)):
        return
    where = xp.zeros(wait.shape, dtype=xp.bool)
    _put(where, wait, ok)
    every = bool(xp.all(ok))
    for out, value in zip(outs, values, strict=True):
        _put(out, where, value if every else value[ok])


def _newton_semi_dual_kl(a: Array, b: Array, Ct: Array, gamma: float, tol: float, max_iter: int,
                         xp: Any) -> tuple[Array, Array]:
    """Damped Newton ascent on the entropic semi-dual; returns alpha and the iterations.

    As for the l2 dual, the value, gradient and plan at an accepted step are those of its trial."""
    B, m = a.shape
    alpha = xp.zeros((B, m), dtype=xp.float64)
    f, grad, Tt = _semi_dual(alpha, a, b, Ct, gamma, "kl", xp)
    iters = xp.zeros((B,), dtype=xp.int64)
    active = xp.ones((B,), dtype=xp.bool)
    for _ in range(max_iter + 1):
        if not bool(xp.any(active)):
            break
        al, aa, bb, cc, fa, ga, Ta = _take(active, xp, alpha, a, b, Ct, f, grad, Tt)
        gap = xp.sum(xp.abs(ga), axis=-1)
        still = ~((gap <= tol) | (iters[active] >= max_iter))
        if not bool(xp.any(still)):
            _put(active, active, xp.zeros(gap.shape, dtype=xp.bool))
            break
        # Hessian of -S: (1/gamma) (diag(T 1) - T diag(1/b) T^T); damping mu = _KL_DAMPING ||grad||_1 / gamma
        H = (_diag(xp.sum(Ta, axis=-2), xp) - xp.matmul(xp.permute_dims(Ta / bb[..., None], (0, 2, 1)), Ta)) / gamma
        mu = xp.maximum(_KL_DAMPING * gap, xp.full(gap.shape, _RIDGE_FLOOR, dtype=gap.dtype)) / gamma
        d = xp.linalg.solve(H + _diag(xp.broadcast_to(mu[:, None], ga.shape), xp), ga[..., None])[..., 0]
        slope = xp.sum(ga * d, axis=-1)

        def evaluate(wait: Array, t: float, al=al, d=d, aa=aa, bb=bb, cc=cc) -> tuple[Array, Array, tuple]:
            alw, dw, aw, bw, cw = _take(wait, xp, al, d, aa, bb, cc)
            trial, tg, Ttr = _semi_dual(alw + t * dw, aw, bw, cw, gamma, "kl", xp)
            return trial, xp.sum(xp.abs(tg), axis=-1), (trial, tg, Ttr)

        step = _backtrack(evaluate, fa, gap, slope, still, (fa, ga, Ta), xp)
        moved = still & (step > 0)
        _put(alpha, active, al + step[:, None] * d)
        for out, new in zip((f, grad, Tt), (fa, ga, Ta), strict=True):
            _put(out, active, new)
        _put(iters, active, iters[active] + xp.astype(moved, xp.int64))
        _put(active, active, moved)
    return alpha, iters


def _diag(v: Array, xp: Any) -> Array:
    m = v.shape[-1]
    return v[..., None] * xp.eye(m, dtype=v.dtype)[None, ...]


def _best_beta(alpha: Array, b: Array, Ct: Array, gamma: float, reg: str, xp: Any) -> Array:
    """``argmax_beta D(alpha, beta)``, in closed form per column."""
    s = alpha[:, None, :] - Ct
    if reg == "l2":
        u = s / (gamma * b)[..., None]
        t = projection_simplex(u)
        # theta_j from any support entry: t_ij = u_ij - theta_j; average over the support for round-off
        pos = t > 0
        theta = xp.sum(xp.where(pos, u - t, xp.zeros_like(u)), axis=-1) / xp.sum(xp.astype(pos, xp.float64), axis=-1)
        return -gamma * b * theta
    return gamma * (xp.log(b) + 1.0 - _logsumexp(s / gamma, xp))


def _take(mask: Array, xp: Any, *arrays: Array) -> tuple[Array, ...]:
    if bool(xp.all(mask)):
        return arrays
    return tuple(v[mask] for v in arrays)


def _put(out: Array, mask: Array, values: Array) -> None:
    """``out[mask] = values`` over the leading axis."""
    if values is out:  # _take returned ``out`` itself (every instance active): nothing to write
        return
    xp = _ns(out)
    if bool(xp.all(mask)):
        out[...] = values
    elif bool(xp.any(mask)):
        out[mask] = values
