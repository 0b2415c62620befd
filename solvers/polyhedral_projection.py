"""Batched Euclidean projection onto a polyhedron {w : A w >= b}, written against the Python array API.

    proj(w0) = argmin_w 1/2 ||w - w0||^2   subject to   A w >= b      (A: (B, n, d), w0: (B, d), b: (B, n))

Method. With the multipliers z >= 0 of the constraints, the KKT conditions are w = w0 + A^T z and the linear
complementarity problem s = M z + q >= 0, z >= 0, z_i s_i = 0, with M = A A^T (positive semidefinite) and
q = A w0 - b. A Mehrotra predictor-corrector interior-point method solves it for every instance of the batch at
once: each iteration solves two (B, n, n) systems with the matrix M + diag(s / z), positive definite for z, s > 0
even when M is singular (more constraints than dimensions). Iterations stop when the mean complementarity z.s/n
and the residual |s - M z - q| are below ``tol`` (relative to 1 + max|q|) for every instance; the projection is
w0 + A^T z. Nothing is ever looped over the batch.

Convergence needs a nonempty feasible set; an infeasible instance does not converge and raises
:class:`ProjectionError` (so does a run over ``max_iter``). The tests compare it with cvxpy (CLARABEL) and with
the closed form of the projection onto one halfspace.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from boundlab.errors import MeasurementError, UsageError

Array = Any

__all__ = ["ProjectionError", "project_onto_polyhedron", "project_onto_halfspace"]


class ProjectionError(MeasurementError):
    """The interior-point iterations did not converge (an infeasible polyhedron, or too few iterations)."""


def _check(A: Array, w0: Array, b: Array | float, xp: Any) -> tuple[Array, Array, Array]:
    if A.ndim != 3:
        raise UsageError(f"A must have shape (batch, constraints, dim), got {tuple(A.shape)}.")
    B, n, d = A.shape
    if w0.ndim != 2 or tuple(w0.shape) != (B, d):
        raise UsageError(f"w0 must have shape (batch, dim) = {(B, d)}, got {tuple(w0.shape)}.")
    b = xp.asarray(b, dtype=A.dtype)
    if b.ndim == 0:
        b = xp.full((B, n), float(b), dtype=A.dtype)
    if tuple(b.shape) != (B, n):
        raise UsageError(f"b must be a number or have shape (batch, constraints) = {(B, n)}, got {tuple(b.shape)}.")
    for name, x in (("A", A), ("w0", w0), ("b", b)):
        if not bool(xp.all(xp.isfinite(x))):
            raise UsageError(f"{name} must be finite (no NaN or inf).")
    return A, w0, b


def _matvec(M: Array, v: Array) -> Array:
    return (M @ v[:, :, None])[:, :, 0]


def _max_step(v: Array, dv: Array, xp: Any) -> Array:
    """Per instance, the largest step a in (0, 1] with v + a dv >= 0 (v > 0)."""
    neg = dv < 0
    ratio = xp.where(neg, -v / xp.where(neg, dv, -1.0), math.inf)
    return xp.minimum(xp.min(ratio, axis=1, keepdims=True), 1.0)


def project_onto_polyhedron(A: Array, w0: Array, b: Array | float = 1.0, *, xp: Any = np, tol: float = 1e-13,
                            max_iter: int = 200) -> Array:
    """argmin_w ||w - w0||^2 s.t. A w >= b, for a batch: A (B, n, d), w0 (B, d), b a number or (B, n)."""
    if not (tol > 0 and math.isfinite(tol)):
        raise UsageError(f"tol must be a positive finite number, got {tol!r}.")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise UsageError(f"max_iter must be a positive integer, got {max_iter!r}.")
    A, w0, b = _check(A, w0, b, xp)
    B, n, _ = A.shape
    At = xp.permute_dims(A, (0, 2, 1))
    M = A @ At
    q = _matvec(A, w0) - b
    scale = 1.0 + xp.max(xp.abs(q), axis=1, keepdims=True)
    eye = xp.eye(n, dtype=A.dtype)
    z = xp.ones((B, n), dtype=A.dtype)
    s = xp.ones((B, n), dtype=A.dtype)
    for _ in range(max_iter):
        r = s - _matvec(M, z) - q
        mu = xp.sum(z * s, axis=1, keepdims=True) / n
        done = (mu <= tol * scale) & (xp.max(xp.abs(r), axis=1, keepdims=True) <= tol * scale)
        if bool(xp.all(done)):
            return w0 + _matvec(At, z)
        K = M + eye * (s / z)[:, :, None]
        if not bool(xp.all(xp.isfinite(K))):
            raise ProjectionError("the interior-point iterates diverged (an empty polyhedron?).")
        try:
            dz = xp.linalg.solve(K, (r - s)[:, :, None])[:, :, 0]      # affine (predictor) direction
        except (ValueError, ArithmeticError) as error:                  # numpy's LinAlgError is a ValueError
            raise ProjectionError(f"the interior-point system became singular ({error}): an empty polyhedron?"
                                  ) from error
        ds = _matvec(M, dz) - r
        a = xp.minimum(_max_step(z, dz, xp), _max_step(s, ds, xp))
        mu_aff = xp.sum((z + a * dz) * (s + a * ds), axis=1, keepdims=True) / n
        sigma = (mu_aff / mu) ** 3
        rhs = (sigma * mu - z * s - dz * ds) / z + r                    # corrector
        dz = xp.linalg.solve(K, rhs[:, :, None])[:, :, 0]
        ds = _matvec(M, dz) - r
        a = 0.995 * xp.minimum(_max_step(z, dz, xp), _max_step(s, ds, xp))
        keep = xp.astype(done, A.dtype)                                # converged instances stay put
        z = z + (1.0 - keep) * a * dz
        s = s + (1.0 - keep) * a * ds
    raise ProjectionError(f"the projection did not converge in {max_iter} interior-point iterations (an empty "
                          "polyhedron?).")


def project_onto_halfspace(a: Array, w0: Array, b: Array | float = 1.0, *, xp: Any = np) -> Array:
    """Closed form of the projection onto {w : a.w >= b}: w0 + max(0, b - a.w0) / ||a||^2 a, batched: a, w0 (B, d)."""
    if a.ndim != 2 or tuple(a.shape) != tuple(w0.shape):
        raise UsageError(f"a and w0 must both have shape (batch, dim), got {tuple(a.shape)} and {tuple(w0.shape)}.")
    gap = xp.maximum(b - xp.sum(a * w0, axis=1), 0.0)
    norm2 = xp.sum(a * a, axis=1)
    if not bool(xp.all(norm2 > 0)):
        raise UsageError("a must be nonzero (a halfspace needs a normal vector).")
    return w0 + (gap / norm2)[:, None] * a
