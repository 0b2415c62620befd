r"""l1-regularised inverse entropic optimal transport (l1-iOT), batched over instances (array API).

Finite supports x_1..x_N and y_1..y_M, marginals a (N,), b (M,), a linear cost ``c_A = sum_k A_k C_k`` with K
feature matrices ``C_k`` (N, M), and an entropic temperature eps > 0. The entropic plan of a cost is

    Sink(c_A, eps) = argmin_{pi in U(a, b)} <c_A, pi> + eps KL(pi || a b^T),
    pi_ij = a_i b_j exp((f_i + g_j - c_A,ij) / eps),

with (f, g) the Schroedinger potentials; the entropic value is ``W(A) = <f, a> + <g, b>``. Given an observed
coupling pi_hat (for instance the empirical measure of n samples of Sink(c_{A*}, eps)), l1-iOT solves

    min_A  L(A) + lam ||A||_1,   L(A) = <c_A, pi_hat> - W(A),

a convex problem (W is concave: a minimum of functions linear in A) whose gradient is
``grad_k L(A) = <C_k, pi_hat> - <C_k, Sink(c_A, eps)>``. Eliminating f and g shows it equals the jointly convex
program

    min_{A, f, g} <c_A, pi_hat> - <f, a> - <g, b> + eps <exp((f + g - c_A) / eps), a b^T> - eps + lam ||A||_1,

which :func:`iot_cvxpy` solves with cvxpy (exponential cones, CLARABEL) as the reference. By default the
marginals a, b are those of pi_hat (row and column sums: the empirical marginals of the samples).

* :func:`sinkhorn_log` -- batched log-domain Sinkhorn, warm-startable;
* :func:`solve_l1_iot` -- batched proximal gradient (FISTA with adaptive restart, step 1/Lip with the global
  bound ``Lip = max_ij sum_k C_k,ij^2 / eps`` on the Hessian of L), one warm-started inner Sinkhorn per step;
* :func:`reduced_hessian`, :func:`precertificate` -- the Hessian H of L at A (the Schur complement of the joint
  Hessian in (A, f, g)) and the precertificate ``z = H_{:, S} H_{SS}^{-1} sign(A_S)``, whose sup-norm off S below 1
  is the irrepresentability (non-degeneracy) condition of l1-iOT;
* :func:`bilinear_features` -- ``C_(p, q)(x, y) = -x_p y_q``, so that ``c_A(x, y) = -x^T A y``.

Bad input raises :class:`boundlab.errors.UsageError` (a ``ValueError``) naming the parameter and the rule.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import array_api_compat

from boundlab.errors import UsageError

Array = Any
Namespace = Any

__all__ = ["IOTResult", "bilinear_features", "entropic_plan", "iot_cvxpy", "precertificate", "reduced_hessian",
           "sinkhorn_log", "solve_l1_iot"]

MASS_TOL = 1e-9


# ----------------------------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------------------------
def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a finite real number > 0, got {value!r}.")
    return float(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise UsageError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def _finite(x: Array, xp: Namespace, name: str) -> None:
    if not bool(xp.all(xp.isfinite(x))):
        raise UsageError(f"{name} must be finite (no NaN or inf).")


def _distribution(p: Array, xp: Namespace, name: str, shape: tuple[int, ...]) -> Array:
    p = xp.astype(p, xp.float64)
    if tuple(p.shape) != shape:
        raise UsageError(f"{name} must have shape {shape}, got {tuple(p.shape)}.")
    _finite(p, xp, name)
    if bool(xp.any(p < 0)):
        raise UsageError(f"{name} must be non-negative.")
    if float(xp.max(xp.abs(xp.sum(p, axis=-1) - 1.0))) > MASS_TOL:
        raise UsageError(f"{name}: every row must sum to 1 (a probability vector).")
    return p


def _features(C: Array, xp: Namespace) -> Array:
    C = xp.astype(C, xp.float64)
    if C.ndim != 3:
        raise UsageError(f"C must hold K feature matrices, shape (K, N, M), got {tuple(C.shape)}.")
    _finite(C, xp, "C")
    return C


def _ns(*arrays: Array) -> Namespace:
    return array_api_compat.array_namespace(*arrays)


def _logsumexp(x: Array, axis: int, xp: Namespace) -> Array:
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    return xp.squeeze(m, axis=axis) + xp.log(xp.sum(xp.exp(x - m), axis=axis))


def _log_weights(p: Array, xp: Namespace) -> Array:
    """log p with -inf where p = 0 (those points carry no mass and drop out of the sums)."""
    pos = p > 0
    return xp.where(pos, xp.log(xp.where(pos, p, xp.ones_like(p))), xp.full_like(p, -math.inf))


# ----------------------------------------------------------------------------------------------------------------
# costs and entropic plans
# ----------------------------------------------------------------------------------------------------------------
def bilinear_features(x: Array, y: Array) -> Array:
    """Features ``C_(p, q)[i, j] = -x_ip y_jq`` of the bilinear cost ``c_A(x, y) = -x^T A y``: shape (d1 d2, N, M),
    k = p d2 + q (row-major order of A)."""
    xp = _ns(x, y)
    x, y = xp.astype(x, xp.float64), xp.astype(y, xp.float64)
    if x.ndim != 2 or y.ndim != 2:
        raise UsageError(f"x and y must be point clouds of shape (N, d1) and (M, d2), got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}.")
    _finite(x, xp, "x")
    _finite(y, xp, "y")
    F = -(x[:, None, :, None] * y[None, :, None, :])       # (N, M, d1, d2)
    F = xp.reshape(F, (x.shape[0], y.shape[0], x.shape[1] * y.shape[1]))
    return xp.permute_dims(F, (2, 0, 1))


def _cost(A: Array, C: Array, xp: Namespace) -> Array:
    """c_A = sum_k A_k C_k, batched: A (B, K), C (K, N, M) -> (B, N, M)."""
    K, N, M = C.shape
    return xp.reshape(A @ xp.reshape(C, (K, N * M)), (A.shape[0], N, M))


def _moments(pi: Array, C: Array, xp: Namespace) -> Array:
    """<C_k, pi> for a batch of plans (B, N, M) -> (B, K)."""
    K, N, M = C.shape
    return xp.reshape(pi, (pi.shape[0], N * M)) @ xp.permute_dims(xp.reshape(C, (K, N * M)), (1, 0))


def _sinkhorn(cost: Array, la: Array, lb: Array, eps: float, f: Array, g: Array, tol: float, max_iter: int,
              xp: Namespace) -> tuple[Array, Array, Array, int]:
    """Log-domain Sinkhorn from (f, g); returns f, g, the row-marginal l1 error of their plan (its column
    marginal is exact) and the iterations used. The error comes for free from the next f update: the plan of
    (f, g) has row sums a_i exp((f_i - f'_i) / eps)."""
    a = xp.exp(la)
    err = xp.full((cost.shape[0],), math.inf, dtype=xp.float64)
    if f is None:
        f = -eps * _logsumexp(lb[:, None, :] + (g[:, None, :] - cost) / eps, 2, xp)
    g = -eps * _logsumexp(la[:, :, None] + (f[:, :, None] - cost) / eps, 1, xp)
    used = 0
    for it in range(1, max_iter + 1):
        used = it
        f_new = -eps * _logsumexp(lb[:, None, :] + (g[:, None, :] - cost) / eps, 2, xp)
        err = xp.sum(a * xp.abs(xp.exp((f - f_new) / eps) - 1.0), axis=1)
        if float(xp.max(err)) <= tol:
            break
        f = f_new
        g = -eps * _logsumexp(la[:, :, None] + (f[:, :, None] - cost) / eps, 1, xp)
    return f, g, err, used


def _plan(cost: Array, la: Array, lb: Array, f: Array, g: Array, eps: float, xp: Namespace) -> Array:
    return xp.exp(la[:, :, None] + lb[:, None, :] + (f[:, :, None] + g[:, None, :] - cost) / eps)


def _batch_marginals(a: Array, b: Array, B: int, N: int, M: int, xp: Namespace) -> tuple[Array, Array]:
    a = xp.astype(a, xp.float64)
    b = xp.astype(b, xp.float64)
    if a.ndim == 1:
        a = xp.broadcast_to(a[None, :], (B, N))
    if b.ndim == 1:
        b = xp.broadcast_to(b[None, :], (B, M))
    return _distribution(a, xp, "a", (B, N)), _distribution(b, xp, "b", (B, M))


def sinkhorn_log(cost: Array, a: Array, b: Array, eps: float, *, f0: Array | None = None, g0: Array | None = None,
                 tol: float = 1e-12, max_iter: int = 100_000) -> tuple[Array, Array, Array]:
    """Batched log-domain Sinkhorn for ``Sink(cost, eps)`` with reference measure a b^T.

    ``cost`` (B, N, M) finite, ``a`` (B, N) or (N,), ``b`` (B, M) or (M,) probability vectors (zeros allowed),
    warm start (f0, g0) optional. Iterates until the l1 error of the row marginal (the column marginal is exact
    after each g update) is at most ``tol`` on every instance; returns (f, g, plan). Raises RuntimeError if
    ``max_iter`` is reached first."""
    xp = _ns(cost, a, b)
    eps, tol, max_iter = _positive(eps, "eps"), _positive(tol, "tol"), _count(max_iter, "max_iter")
    cost = xp.astype(cost, xp.float64)
    if cost.ndim != 3:
        raise UsageError(f"cost must have shape (B, N, M), got {tuple(cost.shape)}.")
    _finite(cost, xp, "cost")
    B, N, M = cost.shape
    a, b = _batch_marginals(a, b, B, N, M, xp)
    f = xp.zeros((B, N), dtype=xp.float64) if f0 is None else xp.astype(f0, xp.float64)
    g = xp.zeros((B, M), dtype=xp.float64) if g0 is None else xp.astype(g0, xp.float64)
    la, lb = _log_weights(a, xp), _log_weights(b, xp)
    f, g, err, _ = _sinkhorn(cost, la, lb, eps, f, g, tol, max_iter, xp)
    if not float(xp.max(err)) <= tol:
        raise RuntimeError(f"sinkhorn_log: marginal error {float(xp.max(err)):.1e} > tol = {tol:g} after "
                           f"{max_iter} iterations")
    return f, g, _plan(cost, la, lb, f, g, eps, xp)


def entropic_plan(A: Array, C: Array, a: Array, b: Array, eps: float, *, tol: float = 1e-12) -> Array:
    """``Sink(c_A, eps)`` for a batch of parameters A (B, K) (or one, (K,)) on marginals a, b: (B, N, M)."""
    xp = _ns(A, C)
    C = _features(C, xp)
    A = xp.astype(A, xp.float64)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[1] != C.shape[0]:
        raise UsageError(f"A must have shape (B, K) with K = {C.shape[0]} features, got {tuple(A.shape)}.")
    _finite(A, xp, "A")
    return sinkhorn_log(_cost(A, C, xp), a, b, eps, tol=tol)[2]


# ----------------------------------------------------------------------------------------------------------------
# the proximal-gradient solver
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IOTResult:
    """Result of :func:`solve_l1_iot`; every field has a leading batch axis B.

    A:            (B, K) the l1-iOT estimate (exact zeros from the soft-thresholding)
    f, g:         (B, N), (B, M) Schroedinger potentials of Sink(c_A, eps) on the marginals (a, b)
    plan:         (B, N, M) Sink(c_A, eps)
    grad:         (B, K) the gradient of L at A
    kkt:          (B,) optimality residual: max_k |grad_k + lam sign(A_k)| on A_k != 0, max(|grad_k| - lam, 0) else
    objective:    (B,) L(A) + lam ||A||_1 (with L(A) = <c_A, pi_hat> - <f, a> - <g, b>)
    iterations:   (B,) proximal-gradient steps until this instance met the tolerance
    converged:    (B,) kkt <= tol reached
    """

    A: Array
    f: Array
    g: Array
    plan: Array
    grad: Array
    kkt: Array
    objective: Array
    iterations: Array
    converged: Array


def _kkt(A: Array, grad: Array, lam: Array, xp: Namespace) -> Array:
    on = xp.abs(grad + lam[:, None] * xp.sign(A))
    off = xp.maximum(xp.abs(grad) - lam[:, None], xp.zeros_like(grad))
    return xp.max(xp.where(A != 0, on, off), axis=1)


def _lambda(lam: Any, B: int, xp: Namespace, like: Array) -> Array:
    if isinstance(lam, numbers.Real) and not isinstance(lam, bool):
        lam = _positive(lam, "lam")
        return xp.full((B,), lam, dtype=xp.float64)
    lam = xp.asarray(lam, dtype=xp.float64)
    if lam.ndim == 0:
        lam = xp.broadcast_to(lam[None], (B,))
    if tuple(lam.shape) != (B,):
        raise UsageError(f"lam must be a number or have shape (B,) = ({B},), got {tuple(lam.shape)}.")
    _finite(lam, xp, "lam")
    if bool(xp.any(lam <= 0)):
        raise UsageError("lam must be > 0 (the l1 penalty weight).")
    return lam


def solve_l1_iot(pi_hat: Array, C: Array, eps: float, lam: Any, *, a: Array | None = None, b: Array | None = None,
                 A0: Array | None = None, tol: float = 1e-10, max_iter: int = 20_000,
                 sinkhorn_tol: float = 1e-13) -> IOTResult:
    """l1-iOT ``min_A <c_A, pi_hat> - W(A) + lam ||A||_1`` by batched FISTA (see the module docstring).

    ``pi_hat`` (B, N, M) (or (N, M)): observed couplings, non-negative, summing to one; ``C`` (K, N, M) features
    common to the batch; ``eps > 0``; ``lam > 0`` a number or one per instance (B,); ``a``, ``b`` the marginals of
    the reference measure (default: those of pi_hat); ``A0`` (B, K) a start (default 0). Each step runs the inner
    log-domain Sinkhorn from the previous potentials until its row-marginal error is below ``sinkhorn_tol``; an
    instance is done when its ``kkt`` residual is at most ``tol`` (its iterate is then frozen, so its result does
    not depend on the rest of the batch). Instances still above ``tol`` at ``max_iter`` have ``converged`` False."""
    xp = _ns(pi_hat, C)
    C = _features(C, xp)
    eps, tol = _positive(eps, "eps"), _positive(tol, "tol")
    sinkhorn_tol, max_iter = _positive(sinkhorn_tol, "sinkhorn_tol"), _count(max_iter, "max_iter")
    pi_hat = xp.astype(pi_hat, xp.float64)
    if pi_hat.ndim == 2:
        pi_hat = pi_hat[None, ...]
    K, N, M = C.shape
    if pi_hat.ndim != 3 or tuple(pi_hat.shape[1:]) != (N, M):
        raise UsageError(f"pi_hat must have shape (B, N, M) = (B, {N}, {M}) matching C, got {tuple(pi_hat.shape)}.")
    B = pi_hat.shape[0]
    _finite(pi_hat, xp, "pi_hat")
    if bool(xp.any(pi_hat < 0)):
        raise UsageError("pi_hat must be non-negative (a coupling).")
    if float(xp.max(xp.abs(xp.sum(pi_hat, axis=(1, 2)) - 1.0))) > MASS_TOL:
        raise UsageError("pi_hat: every coupling must sum to 1.")
    a = xp.sum(pi_hat, axis=2) if a is None else a
    b = xp.sum(pi_hat, axis=1) if b is None else b
    a, b = _batch_marginals(a, b, B, N, M, xp)
    lam = _lambda(lam, B, xp, pi_hat)
    if A0 is None:
        A = xp.zeros((B, K), dtype=xp.float64)
    else:
        A = xp.astype(A0, xp.float64)
        if tuple(A.shape) != (B, K):
            raise UsageError(f"A0 must have shape (B, K) = ({B}, {K}), got {tuple(A.shape)}.")
        _finite(A, xp, "A0")

    la, lb = _log_weights(a, xp), _log_weights(b, xp)
    target = _moments(pi_hat, C, xp)                                     # <C_k, pi_hat>
    inner = [1e-6]   # the inner tolerance: tightened with the outer residual, down to sinkhorn_tol

    def gradient(Ay: Array, f: Array, g: Array) -> tuple[Array, Array, Array, Array, Array]:
        """grad L, the potentials, the plan and the smooth part L at Ay (inner Sinkhorn warm-started at f, g)."""
        cost = _cost(Ay, C, xp)
        f, g, err, _ = _sinkhorn(cost, la, lb, eps, f, g, inner[0], 100_000, xp)
        if not float(xp.max(err)) <= inner[0]:
            raise RuntimeError(f"solve_l1_iot: inner Sinkhorn error {float(xp.max(err)):.1e} > {inner[0]:g}")
        pi = _plan(cost, la, lb, f, g, eps, xp)
        smooth = xp.sum(Ay * target, axis=1) - xp.sum(f * a, axis=1) - xp.sum(g * b, axis=1)
        return target - _moments(pi, C, xp), f, g, pi, smooth

    def _final(Ax: Array, f0: Array, g0: Array) -> tuple[Array, Array, Array, Array, Array]:
        inner[0] = sinkhorn_tol
        return gradient(Ax, f0, g0)

    def penalty(Ax: Array) -> Array:
        return lam * xp.sum(xp.abs(Ax), axis=1)

    f = xp.zeros((B, N), dtype=xp.float64)
    g = xp.zeros((B, M), dtype=xp.float64)
    grad, f, g, pi, smooth = gradient(A, f, g)
    # first step: 1 / lambda_max of (1/eps) Cov_pi(features) at the start (an upper bound of the Hessian there),
    # then halved whenever the sufficient-decrease test fails (backtracking, per instance)
    Phi = xp.permute_dims(xp.reshape(C, (K, N * M)), (1, 0))
    w = xp.reshape(pi, (B, N * M))
    mean = w @ Phi
    second = xp.permute_dims(Phi[None, :, :] * w[:, :, None], (0, 2, 1)) @ Phi[None, :, :]
    cov = second - mean[:, :, None] * mean[:, None, :]
    top = xp.max(xp.linalg.eigvalsh(cov), axis=1)
    step = eps / xp.maximum(top, xp.full_like(top, 1e-12))
    kkt = _kkt(A, grad, lam, xp)
    done = kkt <= tol
    iters = xp.zeros((B,), dtype=xp.int64)
    Y, t, fy, gy = A, xp.ones((B,), dtype=xp.float64), f, g
    obj = smooth + penalty(A)
    for it in range(1, max_iter + 1):
        if bool(xp.all(done)):
            break
        grad_y, fy, gy, _, smooth_y = gradient(Y, fy, gy)
        Z = Y - step[:, None] * grad_y
        thr = step[:, None] * lam[:, None]
        A_new = xp.sign(Z) * xp.maximum(xp.abs(Z) - thr, xp.zeros_like(Z))
        grad_new, f_new, g_new, pi_new, smooth_new = gradient(A_new, fy, gy)
        D = A_new - Y
        bound = smooth_y + xp.sum(grad_y * D, axis=1) + xp.sum(D * D, axis=1) / (2.0 * step)
        ok = smooth_new <= bound + 1e-12 * (1.0 + xp.abs(smooth_y))
        obj_new = smooth_new + penalty(A_new)
        # adaptive restart (O'Donoghue and Candes 2015): drop the momentum when the objective goes up
        restart = obj_new > obj
        t_new = (1.0 + xp.sqrt(1.0 + 4.0 * t * t)) / 2.0
        mom = xp.where(restart, xp.zeros_like(t), (t - 1.0) / t_new)
        Y_new = xp.where(restart[:, None], A_new, A_new + mom[:, None] * (A_new - A))
        t_new = xp.where(restart, xp.ones_like(t), t_new)
        move = ok & ~done
        mv = move[:, None]
        A = xp.where(mv, A_new, A)
        grad = xp.where(mv, grad_new, grad)
        f = xp.where(mv, f_new, f)
        g = xp.where(mv, g_new, g)
        pi = xp.where(move[:, None, None], pi_new, pi)
        obj = xp.where(move, obj_new, obj)
        Y = xp.where(mv, Y_new, Y)
        fy = xp.where(mv, f_new, fy)
        gy = xp.where(mv, g_new, gy)
        t = xp.where(move, t_new, t)
        step = xp.where(ok | done, step, step / 2.0)
        iters = xp.where(done, iters, xp.full_like(iters, it))
        kkt = _kkt(A, grad, lam, xp)
        done = done | (kkt <= tol)
        live = xp.where(done, xp.zeros_like(kkt), kkt)
        inner[0] = max(sinkhorn_tol, min(inner[0], 1e-3 * float(xp.max(live))))
    # the returned plan, gradient and residual at the final tolerance
    grad, f, g, pi, smooth = _final(A, f, g)
    kkt = _kkt(A, grad, lam, xp)
    return IOTResult(A=A, f=f, g=g, plan=pi, grad=grad, kkt=kkt, objective=smooth + penalty(A),
                     iterations=iters, converged=kkt <= tol)


# ----------------------------------------------------------------------------------------------------------------
# the Hessian of the reduced loss and the precertificate
# ----------------------------------------------------------------------------------------------------------------
def reduced_hessian(A: Array, C: Array, a: Array, b: Array, eps: float) -> Array:
    """The Hessian of ``L(A) = <c_A, pi_hat> - W(A)`` at one A (K,): ``H = (1/eps) (Phi^T D Phi - Phi^T D P
    (P^T D P)^+ P^T D Phi)``, with Phi (NM, K) the features, D = diag(Sink(c_A, eps)) and P (NM, N + M) the
    indicators of the rows and columns (the Schur complement of the joint Hessian in (A, f, g)): (1/eps) times the
    covariance of the features under the plan, residualised on the functions f(x) + g(y). (K, K)."""
    xp = _ns(A, C)
    C = _features(C, xp)
    K, N, M = C.shape
    A = xp.astype(A, xp.float64)
    if tuple(A.shape) != (K,):
        raise UsageError(f"A must have shape (K,) = ({K},), got {tuple(A.shape)}.")
    pi = xp.reshape(entropic_plan(A, C, a, b, eps), (N * M,))
    Phi = xp.permute_dims(xp.reshape(C, (K, N * M)), (1, 0))
    rows = xp.reshape(xp.broadcast_to(xp.eye(N, dtype=xp.float64)[:, None, :], (N, M, N)), (N * M, N))
    cols = xp.reshape(xp.broadcast_to(xp.eye(M, dtype=xp.float64)[None, :, :], (N, M, M)), (N * M, M))
    P = xp.concat([rows, cols], axis=1)
    DPhi, DP = pi[:, None] * Phi, pi[:, None] * P
    G = xp.permute_dims(P, (1, 0)) @ DP
    cross = xp.permute_dims(DP, (1, 0)) @ Phi
    H = xp.permute_dims(Phi, (1, 0)) @ DPhi - xp.permute_dims(cross, (1, 0)) @ (xp.linalg.pinv(G) @ cross)
    return (H + xp.permute_dims(H, (1, 0))) / (2.0 * eps)


def precertificate(A_star: Array, C: Array, a: Array, b: Array, eps: float) -> Array:
    """The precertificate ``z = H_{:, S} H_{SS}^{-1} sign(A*_S)`` (K,), H = :func:`reduced_hessian` at A*, S the
    support of A*; z_S = sign(A*_S). Non-degenerate (the irrepresentability condition) when max_{k not in S} |z_k|
    < 1."""
    xp = _ns(A_star, C)
    A_star = xp.astype(A_star, xp.float64)
    H = reduced_hessian(A_star, C, a, b, eps)
    on = A_star != 0
    if not bool(xp.any(on)):
        raise UsageError("A_star must have a non-empty support.")
    idx = xp.nonzero(on)[0]
    H_S = xp.take(H, idx, axis=1)
    H_SS = xp.take(H_S, idx, axis=0)
    s = xp.sign(xp.take(A_star, idx))
    return H_S @ xp.linalg.solve(H_SS, s)


# ----------------------------------------------------------------------------------------------------------------
# the reference
# ----------------------------------------------------------------------------------------------------------------
def iot_cvxpy(pi_hat: Any, C: Any, eps: float, lam: float, *, tol: float = 1e-10) -> tuple[Any, float]:
    """Reference: the jointly convex program in (A, f, g) of the module docstring by cvxpy (N M exponential cones,
    CLARABEL at tolerance ``tol``), one instance (pi_hat (N, M) with positive marginals, C (K, N, M)): the estimate
    A (K,) and the optimal value; RuntimeError unless the status is 'optimal'."""
    import cvxpy as cp
    import numpy as np

    pi_hat, C = np.asarray(pi_hat, dtype=float), np.asarray(C, dtype=float)
    eps, lam = _positive(eps, "eps"), _positive(lam, "lam")
    K, N, M = C.shape
    a, b = pi_hat.sum(axis=1), pi_hat.sum(axis=0)
    if np.any(a <= 0) or np.any(b <= 0):
        raise UsageError("pi_hat must have positive row and column sums for the cvxpy reference.")
    Phi = C.reshape(K, N * M).T
    A, f, g = cp.Variable(K), cp.Variable(N), cp.Variable(M)
    cost = Phi @ A
    rows = np.kron(np.eye(N), np.ones((M, 1)))
    cols = np.kron(np.ones((N, 1)), np.eye(M))
    w = np.outer(a, b).ravel()
    expo = (rows @ f + cols @ g - cost) / eps
    obj = (pi_hat.ravel() @ cost - a @ f - b @ g + eps * cp.sum(cp.multiply(w, cp.exp(expo))) - eps
           + lam * cp.norm1(A))
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, max_iter=500)
    if prob.status != "optimal":
        raise RuntimeError(f"cvxpy CLARABEL returned status {prob.status!r}")
    return np.asarray(A.value), float(prob.value)
