"""Input validation of the public solvers: shapes, finiteness and marginals of ``a``, ``b``, ``C`` and the ranges
of ``gamma`` and ``k``; unbatched inputs get a batch axis of length 1 and every array is cast to float64."""

from __future__ import annotations

import math

import numpy as np

from ._arrays import Array, _ns


# --------------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------------
def _validate(a: Array, b: Array, C: Array, gamma: float, k: int, marginal_tol: float = 1e-8):
    xp = _ns(a, b, C)
    if a.ndim == 1 and b.ndim == 1 and C.ndim == 2:
        a, b, C = a[None, :], b[None, :], C[None, ...]
    if a.ndim != 2 or b.ndim != 2 or C.ndim != 3:
        raise ValueError(f"a, b, C must have shapes (B,m), (B,n), (B,m,n); got {a.shape}, {b.shape}, {C.shape}")
    B, m = a.shape
    if b.shape[0] != B or tuple(C.shape) != (B, m, b.shape[1]):
        raise ValueError(f"C must have shape (B, m, n) = {(B, m, b.shape[1])} matching a and b; got {C.shape}")
    a, b, C = (xp.astype(v, xp.float64) for v in (a, b, C))
    for name, v in (("a", a), ("b", b)):
        if not bool(xp.all(xp.isfinite(v))):
            raise ValueError(f"{name} must be finite")
        if bool(xp.any(v < 0)):
            raise ValueError(f"{name} must be nonnegative (a marginal)")
        if float(xp.max(xp.abs(xp.sum(v, axis=-1) - 1.0))) > marginal_tol:
            raise ValueError(f"{name} must sum to one along its last axis (tolerance {marginal_tol:g})")
    if not bool(xp.all(xp.isfinite(C))):
        raise ValueError("C must be finite (no NaN or inf)")
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not math.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be a finite number > 0; got {gamma!r}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= int(k) <= m:
        raise ValueError(f"k must be an integer in [1, m] = [1, {m}]; got {k!r}")
    return a, b, C, float(gamma), int(k), xp
