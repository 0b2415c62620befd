r"""Interpolators of an under-determined linear system X beta = y (n < d), batched over instances (leading axis),
written against the array API.

* ``min_l2_interpolator``: beta = X^T (X X^T)^{-1} y, the minimum-Euclidean-norm solution (the limit of gradient
  descent on beta from 0).
* ``basis_pursuit``: the minimum-l1-norm solution, min ||beta||_1 s.t. X beta = y. Solved as the linear program
  min 1^T (p + q) s.t. X (p - q) = y, p, q >= 0 by a batched primal-dual interior-point method (Mehrotra's
  predictor-corrector; each Newton step is one batched n x n solve of X diag(x / z) X^T; an instance stops moving
  once its gap and residual are below the tolerances), then polished: the n entries of largest magnitude are
  taken as the support S, beta_S = X_S^{-1} y, and the dual vector lambda = X_S^{-T} sign(beta_S) is a
  certificate of optimality when ||X^T lambda||_inf <= 1 (the KKT conditions of basis pursuit: X^T lambda is a
  subgradient of ||.||_1 at beta). A Gaussian design has a unique minimiser, a vertex with n nonzeros.
  Instances whose polished vertex is not certified keep the interior-point iterate; ``certified`` says which.

Bad input raises :class:`boundlab.errors.UsageError` (a ValueError) naming the argument and the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from array_api_compat import array_namespace

from boundlab.errors import UsageError

Array = Any


def _check_system(X: Array, y: Array, xp: Any) -> tuple[int, int, int]:
    if getattr(X, "ndim", None) != 3:
        raise UsageError(f"X must have shape (instances, n, d), got {tuple(getattr(X, 'shape', ()))}.")
    R, n, d = X.shape
    if n < 1 or not n < d:
        raise UsageError(f"X must be under-determined with n >= 1 rows and d > n columns, got n = {n}, d = {d}.")
    if getattr(y, "ndim", None) != 2 or tuple(y.shape) != (R, n):
        raise UsageError(f"y must have shape (instances, n) = {(R, n)}, got {tuple(getattr(y, 'shape', ()))}.")
    if not (bool(xp.all(xp.isfinite(X))) and bool(xp.all(xp.isfinite(y)))):
        raise UsageError("X and y must be finite (no NaN or inf).")
    return R, n, d


def _matvec(X: Array, v: Array) -> Array:
    """X (R, n, d) times v (R, d) -> (R, n)."""
    return (X @ v[:, :, None])[:, :, 0]


def _rmatvec(X: Array, v: Array, xp: Any) -> Array:
    """X^T (R, d, n) times v (R, n) -> (R, d)."""
    return (xp.permute_dims(X, (0, 2, 1)) @ v[:, :, None])[:, :, 0]


def min_l2_interpolator(X: Array, y: Array, xp: Any | None = None) -> Array:
    """The minimum-l2-norm solutions X^T (X X^T)^{-1} y, shape (R, d); X (R, n, d) of full row rank."""
    xp = array_namespace(X, y) if xp is None else xp
    _check_system(X, y, xp)
    gram = X @ xp.permute_dims(X, (0, 2, 1))
    return _rmatvec(X, xp.linalg.solve(gram, y[:, :, None])[:, :, 0], xp)


@dataclass(frozen=True)
class BasisPursuit:
    """Result of :func:`basis_pursuit`: ``beta`` (R, d), ``certified`` (R,) booleans (polished vertex with a dual
    certificate), ``dual_max`` (R,) the certificate's ||X^T lambda||_inf, ``iterations`` of the interior point
    method, ``gap`` (R,) the final relative duality gap of the interior-point iterate."""

    beta: Array
    certified: Array
    dual_max: Array
    iterations: int
    gap: Array


def _regularised_solve(M: Array, b: Array, xp: Any) -> Array:
    """Solve M x = b for the normal matrices M (R, n, n), with a ridge of 1e-13 of their mean diagonal: near the
    optimum x / z spans many orders of magnitude and M loses definiteness to rounding."""
    n = M.shape[1]
    eye = xp.eye(n, dtype=M.dtype)[None, :, :]
    scale = xp.sum(M * eye, axis=(1, 2)) / n
    return xp.linalg.solve(M + 1e-13 * scale[:, None, None] * eye, b[:, :, None])[:, :, 0]


def _direction(X: Array, M: Array, point: tuple[Array, ...], resid: tuple[Array, ...], rcp: Array, rcq: Array,
               xp: Any) -> tuple[Array, Array, Array, Array, Array]:
    """The Newton direction of the primal-dual system for A = [X, -X]: dx = Z^-1 (rc - x rd) + D A^T dlam with
    (A D A^T) dlam = rp - A Z^-1 (rc - x rd), D = x / z, dz = rd - A^T dlam."""
    p, q, zp, zq = point
    rp, rdp, rdq = resid
    tp, tq = (rcp - p * rdp) / zp, (rcq - q * rdq) / zq
    dlam = _regularised_solve(M, rp - _matvec(X, tp - tq), xp)
    Xd = _rmatvec(X, dlam, xp)
    return tp + (p / zp) * Xd, tq - (q / zq) * Xd, dlam, rdp - Xd, rdq + Xd


def _max_step(v: Array, dv: Array, xp: Any) -> Array:
    """The largest a with v + a dv >= 0, per instance (inf when dv >= 0)."""
    ratio = xp.where(dv < 0, -v / xp.where(dv < 0, dv, -xp.ones_like(dv)), xp.full_like(v, math.inf))
    return xp.min(ratio, axis=1)


def _step_lengths(point: tuple[Array, ...], direction: tuple[Array, ...], xp: Any) -> tuple[Array, Array]:
    """Primal and dual step lengths (at most 1) that keep (p, q) and (zp, zq) nonnegative."""
    p, q, zp, zq = point
    dp, dq, dzp, dzq = direction
    one = xp.ones((p.shape[0],), dtype=p.dtype)
    a_pri = xp.minimum(xp.minimum(_max_step(p, dp, xp), _max_step(q, dq, xp)), one)
    a_dual = xp.minimum(xp.minimum(_max_step(zp, dzp, xp), _max_step(zq, dzq, xp)), one)
    return a_pri, a_dual


def basis_pursuit(X: Array, y: Array, xp: Any | None = None, tol: float = 1e-10, residual_tol: float = 1e-7,
                  max_iter: int = 60, certificate_tol: float = 1e-8) -> BasisPursuit:
    """min ||beta||_1 s.t. X beta = y for each instance (X (R, n, d), y (R, n), n < d), see the module docstring.

    ``tol``: relative duality gap, and ``residual_tol`` relative primal residual, at which an instance stops (dual
    feasibility is what the polished vertex's certificate checks); ``certificate_tol``: slack allowed in
    ||X^T lambda||_inf <= 1 for the polished vertex to count as certified."""
    xp = array_namespace(X, y) if xp is None else xp
    R, n, d = _check_system(X, y, xp)
    for name, value in (("tol", tol), ("residual_tol", residual_tol), ("certificate_tol", certificate_tol)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a finite number > 0, got {value!r}.")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise UsageError(f"max_iter must be an integer >= 1, got {max_iter!r}.")
    dtype = X.dtype
    # starting point: the min-l2 solution split into positive and negative parts, shifted inside the orthant
    b0 = min_l2_interpolator(X, y, xp)
    shift = xp.max(xp.abs(b0), axis=1, keepdims=True) + 1.0
    p = xp.where(b0 > 0, b0, xp.zeros_like(b0)) + shift
    q = xp.where(b0 < 0, -b0, xp.zeros_like(b0)) + shift
    lam = xp.zeros((R, n), dtype=dtype)
    zp = xp.ones((R, d), dtype=dtype)
    zq = xp.ones((R, d), dtype=dtype)
    ynorm = 1.0 + xp.sqrt(xp.sum(y * y, axis=1))
    iterations = 0
    gap = xp.ones((R,), dtype=dtype)
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        Xl = _rmatvec(X, lam, xp)
        rp = y - _matvec(X, p - q)                     # primal residual
        rdp, rdq = 1.0 - Xl - zp, 1.0 + Xl - zq        # dual residuals (c - A^T lam - z)
        mu = (xp.sum(p * zp, axis=1) + xp.sum(q * zq, axis=1)) / (2 * d)
        primal = xp.sum(p + q, axis=1)
        gap = 2 * d * mu / (1.0 + xp.abs(primal))
        res = xp.sqrt(xp.sum(rp * rp, axis=1)) / ynorm
        moving = (gap >= tol) | (res >= residual_tol)
        if not bool(xp.any(moving)):
            break
        M = (X * (p / zp + q / zq)[:, None, :]) @ xp.permute_dims(X, (0, 2, 1))

        point, resid = (p, q, zp, zq), (rp, rdp, rdq)
        dp, dq, dlam, dzp, dzq = _direction(X, M, point, resid, -p * zp, -q * zq, xp)          # affine scaling
        a_pri, a_dual = _step_lengths(point, (dp, dq, dzp, dzq), xp)
        mu_aff = (xp.sum((p + a_pri[:, None] * dp) * (zp + a_dual[:, None] * dzp), axis=1)
                  + xp.sum((q + a_pri[:, None] * dq) * (zq + a_dual[:, None] * dzq), axis=1)) / (2 * d)
        centring = (mu_aff / mu) ** 3
        sm = (centring * mu)[:, None]
        dp, dq, dlam, dzp, dzq = _direction(X, M, point, resid, sm - p * zp - dp * dzp, sm - q * zq - dq * dzq, xp)
        a_pri, a_dual = _step_lengths(point, (dp, dq, dzp, dzq), xp)  # Mehrotra's corrector
        frozen = xp.zeros((R,), dtype=dtype)
        a_pri = xp.where(moving, 0.995 * a_pri, frozen)[:, None]
        a_dual = xp.where(moving, 0.995 * a_dual, frozen)[:, None]
        p, q = p + a_pri * dp, q + a_pri * dq
        lam = lam + a_dual * dlam
        zp, zq = zp + a_dual * dzp, zq + a_dual * dzq
    beta_ipm = p - q
    # polish: the n largest entries as the support, the vertex on it, and its dual certificate
    full = xp.argsort(-xp.abs(beta_ipm), axis=1)
    order = full[:, :n]
    XS = xp.take_along_axis(X, xp.broadcast_to(order[:, None, :], (R, n, n)), axis=2)
    bS = xp.linalg.solve(XS, y[:, :, None])[:, :, 0]
    lam_S = xp.linalg.solve(xp.permute_dims(XS, (0, 2, 1)), xp.sign(bS)[:, :, None])[:, :, 0]
    dual_max = xp.max(xp.abs(_rmatvec(X, lam_S, xp)), axis=1)
    certified = dual_max <= 1.0 + certificate_tol
    # back to the original coordinates: the values in sorted order, then the inverse permutation
    in_order = xp.concat([bS, xp.zeros((R, d - n), dtype=dtype)], axis=1)
    polished = xp.take_along_axis(in_order, xp.argsort(full, axis=1), axis=1)
    beta = xp.where(certified[:, None], polished, beta_ipm)
    return BasisPursuit(beta=beta, certified=certified, dual_max=dual_max, iterations=iterations, gap=gap)
