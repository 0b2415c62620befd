r"""Batched Gaussian maximum likelihood over M-matrices (MTP2 precision matrices), with a weighted l1 penalty,
and the adaptive multi-stage estimator built on it; written against the Python array API.

Problem
-------
For each of ``R`` replicates, with a sample covariance ``S`` (p x p) and symmetric nonnegative weights ``W``
(zero diagonal), the estimator solves

    minimise  f(Theta) = -log det Theta + tr(S Theta) + sum_{i != j} W_ij |Theta_ij|
    over      M = {Theta positive definite, Theta_ij <= 0 for i != j}.

On M, |Theta_ij| = -Theta_ij, so f(Theta) = -log det Theta + <S - W, Theta>: a smooth convex function under
bound constraints on the off-diagonal entries. ``W = 0`` is the plain MLE, which need not exist (with one sample
it never does for p >= 3); the solver then reports ``converged = False``. Whether the MLE exists is *not*
decided here: the simulations decide it with a cvxpy box-bound sweep.

Algorithm
---------
Bertsekas' projected Newton method (SIAM J. Control Optim. 20, 1982) on the p (p + 1) / 2 free entries
x = (Theta_11, ..., Theta_pp, Theta_ij for i < j), with the exact Hessian of -log det,
H_kl = tr(Sigma E_k Sigma E_l), Sigma = Theta^{-1}, E_k the symmetric unit matrix of entry k:

* the epsilon-active set A holds the off-diagonal entries with -eps <= x_k <= 0 whose gradient points out of
  M (g_k < 0), eps = min(1e-3, ||x - P(x - g)||_inf);
* the direction is Newton's on the free entries (H_FF d_F = -g_F) and a diagonally scaled gradient step on A;
* the step follows the projection arc x(alpha) = P(x + alpha d), P clipping the off-diagonal entries at 0,
  halving alpha until Theta(alpha) is positive definite and Bertsekas' Armijo condition
  f(x) - f(x(alpha)) >= sigma (alpha g_F^T(-d_F) + g_A^T (x_A - x_A(alpha))) holds;
* a replicate stops when the projected-gradient residual ||x - P(x - g)||_inf falls to ``tol``: the KKT
  conditions of the convex problem then hold to ``tol``, so x is its minimiser to that accuracy. A replicate
  whose line search finds no acceptable step, whose derivatives overflow, or whose iterate's condition number
  exceeds 1e8 (as on an unbounded problem, whose iterates run off to infinity) is frozen with ``converged``
  False.

Replicates are a leading batch axis; Python loops run over iterations and step halvings only. Once a replicate
has converged its iterate is frozen (the batch keeps computing until every replicate is done).

The adaptive estimator (:func:`adaptive_mtp2`): stage 1 solves the problem with W_ij = lambda (the l1-penalised
MLE over M); stage k >= 2 re-solves it with the weights W_ij = p'_lambda(|Theta^(k-1)_ij|) of the previous
stage, p_lambda the minimax concave penalty (MCP) with p'_lambda(t) = max(lambda - t / a, 0), warm-started from
the previous stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from boundlab.errors import UsageError

Array = Any
Namespace = Any

__all__ = ["MtpFit", "adaptive_mtp2", "fit_mtp2", "mcp_weights", "mtp2_objective", "sample_covariance"]

_ARMIJO = 1e-4
_MAX_HALVINGS = 60
_EPS = float(np.finfo(np.float64).eps)
_MAX_CONDITION = 1e8    # beyond it the Newton system (condition ~ cond(Theta)^2) is numerically singular
_RIDGE = 1e-14          # relative to the mean Hessian diagonal: keeps the batched solve nonsingular


@dataclass
class MtpFit:
    """The estimates ``theta`` (R, p, p), their objective values ``objective`` (R,), the final projected-gradient
    residual ``residual`` (R,), whether each replicate reached ``tol`` (``converged``), and the iterations used
    (the batch's count, i.e. the slowest replicate's)."""

    theta: Array
    objective: Array
    residual: Array
    converged: Array
    iterations: int


def sample_covariance(X: Array, xp: Namespace | None = None) -> Array:
    """S = X^T X / n for zero-mean samples X of shape (R, n, p) (the mean is known to be zero)."""
    xp = xp or array_api_compat.array_namespace(X)
    if getattr(X, "ndim", None) != 3 or X.shape[1] < 1 or X.shape[2] < 1:
        raise UsageError(f"X must have shape (replicates, n, p) with n, p >= 1, got {getattr(X, 'shape', None)}.")
    if not bool(xp.all(xp.isfinite(X))):
        raise UsageError("X must be finite (no NaN or inf).")
    return xp.matmul(xp.permute_dims(X, (0, 2, 1)), X) / X.shape[1]


def _check_symmetric(name: str, a: Array, R: int | None, p: int | None, xp: Namespace) -> None:
    if getattr(a, "ndim", None) != 3 or a.shape[1] != a.shape[2] or a.shape[1] < 1 or a.shape[0] < 1:
        raise UsageError(f"{name} must have shape (replicates, p, p) with p >= 1, got {getattr(a, 'shape', None)}.")
    if R is not None and (a.shape[0] != R or a.shape[1] != p):
        raise UsageError(f"{name} must have shape {(R, p, p)} (that of S), got {a.shape}.")
    if not bool(xp.all(xp.isfinite(a))):
        raise UsageError(f"{name} must be finite (no NaN or inf).")
    asym = xp.max(xp.abs(a - xp.permute_dims(a, (0, 2, 1))))
    scale = xp.max(xp.abs(a)) + 1.0
    if float(asym) > 1e-12 * float(scale):
        raise UsageError(f"{name} must be symmetric (to 1e-12 relative), off by {float(asym):.3g}.")


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise UsageError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


class _Layout:
    """Index bookkeeping for x = (diagonal, upper triangle) of a symmetric p x p matrix."""

    def __init__(self, p: int, xp: Namespace) -> None:
        a = list(range(p)) + [i for i in range(p) for j in range(i + 1, p)]
        b = list(range(p)) + [j for i in range(p) for j in range(i + 1, p)]
        self.K = len(a)
        a_np, b_np = np.asarray(a), np.asarray(b)
        s = np.where(a_np == b_np, 0.5, 1.0)
        self.p = p
        self.flat = xp.asarray(a_np * p + b_np)                          # positions of x in vec(Theta)
        self.off = xp.asarray(a_np != b_np)                                # the constrained coordinates
        self.grad_scale = xp.asarray(2.0 * s)
        # vec(Theta) = x @ embed, embed (K, p^2): entry k sits at (a_k, b_k) and (b_k, a_k)
        embed = np.zeros((self.K, p * p))
        embed[np.arange(self.K), a_np * p + b_np] = 1.0
        embed[np.arange(self.K), b_np * p + a_np] = 1.0
        self.embed = xp.asarray(embed)
        # Hessian gathers: H_kl = 2 s_k s_l (Sig[a_k, a_l] Sig[b_k, b_l] + Sig[a_k, b_l] Sig[b_k, a_l])
        self.i_aa = xp.asarray(np.reshape(a_np[:, None] * p + a_np[None, :], (-1,)))
        self.i_bb = xp.asarray(np.reshape(b_np[:, None] * p + b_np[None, :], (-1,)))
        self.i_ab = xp.asarray(np.reshape(a_np[:, None] * p + b_np[None, :], (-1,)))
        self.i_ba = xp.asarray(np.reshape(b_np[:, None] * p + a_np[None, :], (-1,)))
        self.h_scale = xp.asarray(2.0 * s[:, None] * s[None, :])

    def to_matrix(self, x: Array, xp: Namespace) -> Array:
        return xp.reshape(xp.matmul(x, self.embed), (x.shape[0], self.p, self.p))

    def to_vector(self, theta: Array, xp: Namespace) -> Array:
        return xp.take(xp.reshape(theta, (theta.shape[0], self.p * self.p)), self.flat, axis=1)


def _project(x: Array, off: Array, xp: Namespace) -> Array:
    return xp.where(off, xp.minimum(x, 0.0), x)


def _value_and_inverse(theta: Array, C: Array, xp: Namespace, inverse: bool) -> tuple[Array, Array | None]:
    """f = -log det Theta + <C, Theta> (inf where Theta is not positive definite) and, if asked, Theta^{-1}
    (None where it is not asked for)."""
    w, V = xp.linalg.eigh(theta)
    pd = w[:, 0] > 0
    safe = xp.where(w > 0, w, xp.ones_like(w))
    value = -xp.sum(xp.log(safe), axis=1) + xp.sum(C * theta, axis=(1, 2))
    value = xp.where(pd, value, xp.full_like(value, math.inf))
    if not inverse:
        return value, None
    sigma = xp.matmul(V / safe[:, None, :], xp.permute_dims(V, (0, 2, 1)))
    return value, sigma


def _condition(theta: Array, xp: Namespace) -> Array:
    """The spectral condition number of each (positive definite) Theta."""
    w = xp.linalg.eigvalsh(theta)
    return w[:, -1] / w[:, 0]


def mtp2_objective(S: Array, theta: Array, weights: Array | None = None, xp: Namespace | None = None) -> Array:
    """f(Theta) = -log det Theta + tr(S Theta) + sum_{i != j} W_ij |Theta_ij| per replicate (inf if Theta is not
    positive definite). The penalty uses |Theta_ij|, so the value is meaningful off M as well."""
    xp = xp or array_api_compat.array_namespace(S)
    value, _ = _value_and_inverse(theta, S, xp, inverse=False)
    if weights is None:
        return value
    return value + xp.sum(weights * xp.abs(theta), axis=(1, 2))


def fit_mtp2(S: Array, weights: Array | None = None, *, start: Array | None = None, tol: float = 1e-10,
             max_iter: int = 200, xp: Namespace | None = None) -> MtpFit:
    """The minimiser of -log det Theta + tr(S Theta) + sum_{i != j} W_ij |Theta_ij| over M-matrices, per replicate.

    ``S`` (R, p, p) symmetric with a positive diagonal; ``weights`` (R, p, p) symmetric, >= 0 (the diagonal is
    ignored) or None for the plain MLE; ``start`` an optional strictly feasible warm start (positive definite,
    off-diagonal <= 0), by default diag(1 / S_ii); ``tol`` the projected-gradient residual at which a replicate
    stops; ``max_iter`` the iteration budget (a replicate that does not reach ``tol`` has ``converged`` False).
    """
    xp = xp or array_api_compat.array_namespace(S)
    _check_symmetric("S", S, None, None, xp)
    R, p = S.shape[0], S.shape[1]
    diag_s = xp.linalg.diagonal(S)
    if not bool(xp.all(diag_s > 0)):
        raise UsageError("S must have a positive diagonal (every variable's sample variance > 0).")
    off_mask = 1.0 - xp.eye(p, dtype=S.dtype)
    if weights is not None:
        _check_symmetric("weights", weights, R, p, xp)
        if not bool(xp.all(weights >= 0)):
            raise UsageError("weights must be >= 0 (a weighted l1 penalty).")
        C = S - weights * off_mask[None, :, :]
    else:
        C = S
    tol = _check_positive("tol", tol)
    max_iter = _check_count("max_iter", max_iter)
    lay = _Layout(p, xp)
    if start is None:
        theta0 = xp.eye(p, dtype=S.dtype)[None, :, :] / diag_s[:, :, None]
    else:
        _check_symmetric("start", start, R, p, xp)
        if not bool(xp.all(start * off_mask[None, :, :] <= 0)):
            raise UsageError("start must be an M-matrix: off-diagonal entries <= 0.")
        if not bool(xp.all(xp.linalg.eigvalsh(start)[:, 0] > 0)):
            raise UsageError("start must be positive definite.")
        theta0 = start
    x = lay.to_vector(theta0, xp)
    off = lay.off[None, :]
    f, sigma = _value_and_inverse(theta0, C, xp, inverse=True)
    converged = xp.zeros((R,), dtype=xp.bool)
    stalled = xp.zeros((R,), dtype=xp.bool)       # no acceptable step, or non-finite derivatives: frozen
    residual = xp.full((R,), math.inf, dtype=S.dtype)
    iterations = 0
    eye_k = xp.eye(lay.K, dtype=S.dtype)[None, :, :]
    for _ in range(max_iter + 1):
        g = lay.grad_scale[None, :] * lay.to_vector(C - sigma, xp)
        residual = xp.max(xp.abs(x - _project(x - g, off, xp)), axis=1)
        converged = residual <= tol
        if bool(xp.all(converged | stalled)) or iterations == max_iter:
            break
        iterations += 1
        flat = xp.reshape(sigma, (R, p * p))
        hess = lay.h_scale[None, :, :] * xp.reshape(
            xp.take(flat, lay.i_aa, axis=1) * xp.take(flat, lay.i_bb, axis=1)
            + xp.take(flat, lay.i_ab, axis=1) * xp.take(flat, lay.i_ba, axis=1), (R, lay.K, lay.K))
        finite = xp.all(xp.isfinite(hess), axis=(1, 2)) & xp.all(xp.isfinite(g), axis=1)
        stalled = stalled | ~finite | (_condition(lay.to_matrix(x, xp), xp) > _MAX_CONDITION)
        done = converged | stalled
        g = xp.where(done[:, None], xp.zeros_like(g), g)
        eps = xp.minimum(residual, xp.full_like(residual, 1e-3))
        active = off & (x >= -eps[:, None]) & (g < 0)                 # (R, K)
        free = ~active
        keep = xp.astype(free & ~done[:, None], S.dtype)
        hess = xp.where(done[:, None, None], eye_k, hess)
        h_diag = xp.linalg.diagonal(hess)
        reduced = hess * keep[:, :, None] * keep[:, None, :] + eye_k * (1.0 - keep)[:, :, None]
        ridge = _RIDGE * xp.mean(xp.abs(xp.linalg.diagonal(reduced)), axis=1)
        reduced = reduced + ridge[:, None, None] * eye_k
        rhs = xp.where(active, g / h_diag, g)
        d = -xp.linalg.solve(reduced, rhs[:, :, None])[:, :, 0]
        decrement = -xp.sum(xp.where(free, g * d, xp.zeros_like(g)), axis=1)
        certifiable = decrement > 1e3 * _EPS * (xp.abs(f) + 1.0)
        alpha = xp.ones((R,), dtype=S.dtype)
        accepted = done
        x_new, f_new = x, f
        for _ in range(_MAX_HALVINGS):
            trial = _project(x + alpha[:, None] * d, off, xp)
            f_trial, _ = _value_and_inverse(lay.to_matrix(trial, xp), C, xp, inverse=False)
            model = alpha * decrement + xp.sum(
                xp.where(active, g * (x - trial), xp.zeros_like(g)), axis=1)
            ok = (f_trial < math.inf) & ((f - f_trial >= _ARMIJO * model) | ~certifiable) & ~accepted
            x_new = xp.where(ok[:, None], trial, x_new)
            f_new = xp.where(ok, f_trial, f_new)
            accepted = accepted | ok
            if bool(xp.all(accepted)):
                break
            alpha = xp.where(accepted, alpha, alpha * 0.5)
        stalled = stalled | ~accepted
        x, f = x_new, f_new
        f, sigma = _value_and_inverse(lay.to_matrix(x, xp), C, xp, inverse=True)
    theta = lay.to_matrix(x, xp)
    # on M, <S - W, Theta> = tr(S Theta) + sum W_ij |Theta_ij|: f is the penalised objective itself
    return MtpFit(theta=theta, objective=f, residual=residual, converged=converged, iterations=iterations)


def mcp_weights(theta: Array, lam: float, a: float, xp: Namespace | None = None) -> Array:
    """W_ij = p'_lambda(|Theta_ij|) = max(lambda - |Theta_ij| / a, 0) off the diagonal, 0 on it (MCP)."""
    xp = xp or array_api_compat.array_namespace(theta)
    lam, a = _check_positive("lam", lam), _check_positive("a", a)
    p = theta.shape[-1]
    off_mask = 1.0 - xp.eye(p, dtype=theta.dtype)
    return xp.maximum(lam - xp.abs(theta) / a, 0.0) * off_mask[None, :, :]


def adaptive_mtp2(S: Array, lam: float, *, stages: int = 3, a: float = 2.0, tol: float = 1e-10, max_iter: int = 200,
                  xp: Namespace | None = None) -> list[MtpFit]:
    """The adaptive multi-stage estimator: stage 1 with W_ij = ``lam`` for every i != j, stage k >= 2 with the MCP
    weights of stage k - 1 (warm-started there). Returns the fit of every stage, first to last."""
    xp = xp or array_api_compat.array_namespace(S)
    lam, a = _check_positive("lam", lam), _check_positive("a", a)
    stages = _check_count("stages", stages)
    _check_symmetric("S", S, None, None, xp)
    p = S.shape[1]
    first = lam * (1.0 - xp.eye(p, dtype=S.dtype))[None, :, :] * xp.ones_like(S)
    fits = [fit_mtp2(S, first, tol=tol, max_iter=max_iter, xp=xp)]
    for _ in range(stages - 1):
        prev = fits[-1].theta
        fits.append(fit_mtp2(S, mcp_weights(prev, lam, a, xp), start=prev, tol=tol, max_iter=max_iter, xp=xp))
    return fits
