"""Batched gradient flow z' = -grad L(z), integrated with an adaptive Dormand-Prince 5(4) scheme in two clocks.

Both integrators take a batch of N initial points (a leading batch axis) with per-instance end points, and are
written against the array API (``xp``), so they run on NumPy, CuPy and array-api-strict alike. ``grad`` maps an
(N, d) array to the (N, d) gradients; ``gap`` maps it to the (N,) values L(z) - L*. Every row has its own step
size, chosen by the embedded 4th-order error estimate (standard controller, safety 0.9, growth in [0.2, 5]);
finished rows take steps of size 0.

* :func:`flow_log_time` integrates in tau = log(1 + t): dz/dtau = -(1 + t) grad L(z). For losses with a
  Lojasiewicz exponent alpha > 1/2 (polynomial decay) the Hessian along the trajectory falls like 1/t, so the
  system is non-stiff in tau and reaches t ~ 1e4 in a few hundred steps.
* :func:`flow_loss_time` integrates in lambda = log((L_0 - L*) / (L - L*)), the log of the loss decrease, with
  state (z, t, s): dz/dlambda = -grad L gap / ||grad L||^2, dt/dlambda = gap / ||grad L||^2 and ds/dlambda =
  gap / ||grad L|| (s is the path length int ||z'|| dt). The gap at lambda is exactly gap_0 e^{-lambda}, and
  for a loss of homogeneous degree p the integrand of s decays like e^{-lambda / p}: the whole path length is
  an integral over a finite lambda range. The time change is legitimate off the stationary points, which a
  Lojasiewicz inequality ||grad L|| >= c (L - L*)^alpha rules out above the minimum.

Local error control is mixed: for z relative to the row's max-norm ||z||_inf (z decays to 0, so a pure
relative test on each coordinate would chase rounding), for t and s relative to their own size. Accuracy is
tested against scipy's solve_ivp (DOP853, rtol 1e-11) and closed forms in tests/test_lojasiewicz_rates.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.errors import UsageError

Field = Callable[[Any], Any]

# Dormand & Prince (1980), RK5(4)7M: the tableau scipy's RK45 uses.
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
# 5th minus 4th order weights over the 7 stages (the 7th stage is f at the 5th-order solution)
E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
MAX_ITERATIONS = 20000


def _check(z0: Any, ends: Any, rtol: Any, ends_name: str) -> None:
    if not (isinstance(rtol, (float, int)) and not isinstance(rtol, bool) and math.isfinite(rtol)
            and 1e-14 <= rtol <= 1e-2):
        raise UsageError(f"rtol must be a number in [1e-14, 1e-2], got {rtol!r}.")
    shape = tuple(z0.shape)
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise UsageError(f"z0 must have shape (N, d) with N, d >= 1, got {shape}.")
    if tuple(ends.shape) != (shape[0],):
        raise UsageError(f"{ends_name} must have shape (N,) = ({shape[0]},), got {tuple(ends.shape)}.")
    if not np.all(np.isfinite(to_numpy(z0))):
        raise UsageError("z0 must be finite (no NaN or inf).")
    e_np = to_numpy(ends)
    if not (np.all(np.isfinite(e_np)) and np.all(e_np >= 0)):
        raise UsageError(f"{ends_name} must be finite and >= 0 for every row.")


def _dopri5(field: Callable[[Any, Any], Any], y0: Any, end: Any, rtol: float, scale: Callable[[Any, Any], Any],
            xp: Any) -> Any:
    """Integrate y' = field(x, y) for each row from x = 0 to x = end (N,), rows stepping independently."""
    n = y0.shape[0]
    end = end[:, None]
    x = xp.zeros((n, 1), dtype=y0.dtype)
    y = y0
    h = xp.minimum(end, xp.full((n, 1), 1e-2, dtype=y0.dtype))
    for _ in range(MAX_ITERATIONS):
        remaining = end - x
        h = xp.clip(xp.minimum(h, remaining), 0.0, None)
        if not bool(to_numpy(xp.any(h > 0))):
            return y
        k = [field(x, y)]
        for i in range(1, 6):
            inc = k[0] * A[i][0]
            for j in range(1, i):
                inc = inc + k[j] * A[i][j]
            k.append(field(x + C[i] * h, y + h * inc))
        step = k[0] * B[0]
        for j in range(2, 6):
            step = step + k[j] * B[j]
        y_new = y + h * step
        k.append(field(x + h, y_new))
        err = k[0] * E[0]
        for j in range(2, 7):
            err = err + k[j] * E[j]
        err = xp.abs(h * err) / (rtol * scale(y, y_new))
        norm = xp.max(err, axis=1, keepdims=True)
        ok = (norm <= 1.0) | (h <= 0)
        x = xp.where(ok, xp.where(h >= remaining, end, x + h), x)  # land on the end exactly
        y = xp.where(ok, y_new, y)
        factor = 0.9 * xp.where(norm > 0, norm, xp.full_like(norm, 1e-10)) ** (-0.2)
        h = h * xp.clip(factor, 0.2, 5.0)
    raise RuntimeError(f"gradient flow: no convergence in {MAX_ITERATIONS} adaptive steps")


def flow_log_time(grad: Field, z0: Any, t: Any, xp: Any, rtol: float = 1e-10) -> Any:
    """z(t) for each row of z0 (N, d), integrated to its own time t (N,) in the clock tau = log(1 + t)."""
    _check(z0, t, rtol, "t")

    def field(tau: Any, z: Any) -> Any:
        return -xp.exp(tau) * grad(z)

    def scale(y: Any, y_new: Any) -> Any:
        return xp.max(xp.maximum(xp.abs(y), xp.abs(y_new)), axis=1, keepdims=True) + 1e-300

    return _dopri5(field, z0, xp.log(1.0 + t), rtol, scale, xp)


def flow_loss_time(grad: Field, gap: Field, z0: Any, depth: Any, xp: Any, rtol: float = 1e-10
                   ) -> tuple[Any, Any, Any]:
    """(z, t, s) where the loss gap has fallen by the factor e^{-depth} (depth (N,) per row of z0 (N, d)).

    t is the gradient-flow time at which that happens and s the path length travelled until then (both start
    at 0), integrated in the clock lambda = log(gap_0 / gap).
    """
    _check(z0, depth, rtol, "depth")
    if not np.all(to_numpy(xp.sum(grad(z0) ** 2, axis=1)) > 0):
        raise UsageError("z0 must not contain a stationary point (grad L(z0) = 0): the loss clock is undefined.")
    n, d = z0.shape

    def field(lam: Any, y: Any) -> Any:
        g = grad(y[:, :d])
        sq = xp.sum(g * g, axis=1, keepdims=True)
        dt = gap(y[:, :d])[:, None] / sq
        return xp.concat([-g * dt, dt, dt * xp.sqrt(sq)], axis=1)

    def scale(y: Any, y_new: Any) -> Any:
        size = xp.maximum(xp.abs(y), xp.abs(y_new))
        z_size = xp.max(size[:, :d], axis=1, keepdims=True)
        return xp.concat([xp.broadcast_to(z_size, (n, d)), size[:, d:]], axis=1) + 1e-300

    y0 = xp.concat([z0, xp.zeros((n, 2), dtype=z0.dtype)], axis=1)
    y = _dopri5(field, y0, depth, rtol, scale, xp)
    return y[:, :d], y[:, d], y[:, d + 1]
