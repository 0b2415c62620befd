"""Input validation of the public solvers: shapes, finiteness and marginals of ``a``, ``b``, ``C``, the ranges
of ``gamma`` and ``k``, and the conditioning of ``gamma`` against the costs.  Unbatched inputs get a batch axis of
length 1, every array is cast to float64 and the marginals are renormalised (see :func:`_validate`)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._arrays import Array, _ns

_EPS64 = float(np.finfo(np.float64).eps)
# gamma / (n k max(1, max|C|)) must exceed this: the first quasi-Newton step, ~ gamma mean(b) / k, is then well
# above the 1e-14 relative round-off floor of the line search on potentials of size max|C| (measured: runs made
# 0 iterations at ratios <= 18 eps on m = n in {5, 20, 50}, k in {2, 5}; 256 eps leaves a margin of 14)
GAMMA_RESOLUTION = 256.0 * _EPS64


def _dtype_eps(v: Array, xp: Any) -> float:
    try:
        return float(xp.finfo(v.dtype).eps)
    except (TypeError, ValueError):  # integer or boolean input: exact, judged at float64 resolution
        return _EPS64


def _scalar_gamma(gamma: Any) -> float:
    """gamma as a Python float: a real Python / NumPy scalar or a 0-d real array of any namespace."""
    rule = "gamma must be a finite real number > 0 (a Python or NumPy scalar, or a 0-d array)"
    if isinstance(gamma, bool | np.bool_) or isinstance(gamma, str | bytes) or gamma is None:
        raise ValueError(f"{rule}; got {gamma!r}")
    if not isinstance(gamma, numbers.Real):
        shape = getattr(gamma, "shape", None)
        dtype = getattr(gamma, "dtype", None)
        if shape is None or tuple(shape) != () or "complex" in str(dtype) or "bool" in str(dtype):
            raise ValueError(f"{rule}; got {gamma!r}")
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"{rule}; got {gamma!r}") from None
    if not math.isfinite(g) or g <= 0:
        raise ValueError(f"{rule}; got {gamma!r}")
    return g


def _validate(a: Array, b: Array, C: Array, gamma: Any, k: int, marginal_tol: float = 1e-8):
    """Checked, float64, batched ``a, b, C``, ``gamma`` (float), ``k`` (int) and the namespace.

    * marginals: nonnegative, finite, summing to one within ``max(marginal_tol, 16 n eps)``, eps that of the
      input's dtype (float32 marginals normalised in float32 pass; float64 keeps the tolerance 1e-8);
    * renormalisation: each marginal whose float64 sum differs from 1 by more than its summation round-off
      (``n eps_64``) is divided by that sum, so that ``|sum a - sum b|`` is at round-off (a mismatch of 1e-9
      made the semi-dual unbounded along alpha + t 1: slope sum a - sum b); marginals normalised to round-off are
      left bitwise unchanged;
    * ``gamma``: a finite real > 0, and ``gamma / (n k max(1, max|C|)) > GAMMA_RESOLUTION`` (256 eps): below,
      the first quasi-Newton step (~ gamma mean(b) / k) is under the line search's round-off floor
      1e-14 (1 + |alpha|) for potentials of size max|C|, and the solver cannot move (it made 0 iterations).
    """
    xp = _ns(a, b, C)
    if a.ndim == 1 and b.ndim == 1 and C.ndim == 2:
        a, b, C = a[None, :], b[None, :], C[None, ...]
    if a.ndim != 2 or b.ndim != 2 or C.ndim != 3:
        raise ValueError(f"a, b, C must have shapes (B,m), (B,n), (B,m,n); got {a.shape}, {b.shape}, {C.shape}")
    B, m = a.shape
    n = b.shape[1]
    if b.shape[0] != B or tuple(C.shape) != (B, m, n):
        raise ValueError(f"C must have shape (B, m, n) = {(B, m, n)} matching a and b; got {C.shape}")
    eps_in = {"a": _dtype_eps(a, xp), "b": _dtype_eps(b, xp)}
    dtypes = {"a": a.dtype, "b": b.dtype}
    a, b, C = (xp.astype(v, xp.float64) for v in (a, b, C))
    out = {}
    for name, v in (("a", a), ("b", b)):
        if not bool(xp.all(xp.isfinite(v))):
            raise ValueError(f"{name} must be finite")
        if bool(xp.any(v < 0)):
            raise ValueError(f"{name} must be nonnegative (a marginal)")
        size = v.shape[1]
        tol = max(marginal_tol, 16.0 * size * eps_in[name])
        s = xp.sum(v, axis=-1, keepdims=True)
        if float(xp.max(xp.abs(s - 1.0))) > tol:
            raise ValueError(f"{name} must sum to one along its last axis (tolerance {tol:.3g} for dtype "
                             f"{dtypes[name]}: max(1e-8, 16 x size x eps))")
        off = xp.abs(s - 1.0) > size * _EPS64
        out[name] = xp.where(off, v / s, v) if bool(xp.any(off)) else v
    a, b = out["a"], out["b"]
    if not bool(xp.all(xp.isfinite(C))):
        raise ValueError("C must be finite (no NaN or inf)")
    g = _scalar_gamma(gamma)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= int(k) <= m:
        raise ValueError(f"k must be an integer in [1, m] = [1, {m}]; got {k!r}")
    cmax = max(float(xp.max(xp.abs(C))), 1.0)  # the round-off floor 1e-14 (1 + |alpha|) is absolute below 1
    if g / (n * int(k) * cmax) <= GAMMA_RESOLUTION:
        raise ValueError(f"gamma = {g:g} is below the float64 resolution of the costs: the rule is "
                         f"gamma / (n k max(1, max|C|)) > 256 eps = {GAMMA_RESOLUTION:.3g}, here "
                         f"{g / (n * int(k) * cmax):.3g} (n = {n}, k = {int(k)}, max(1, max|C|) = {cmax:.3g}); "
                         "raise gamma")
    return a, b, C, g, int(k), xp
