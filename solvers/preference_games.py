"""Batched KL-regularised preference games and their exact online-mirror-descent dynamics (array API).

The game (Nash learning from human feedback). K responses, a preference matrix ``P`` with ``P[i, j]`` the
probability that response i beats response j (``P + P^T = 1``), a reference policy ``pi_ref`` with full support
and a regularisation ``tau >= 0``:

    J(pi_1, pi_2) = pi_1^T P pi_2 - tau KL(pi_1 || pi_ref) + tau KL(pi_2 || pi_ref).

Everything carries a leading batch axis of ``n`` independent games: ``P`` is ``(n, K, K)``, policies are
``(n, K)``; ``tau`` and the step parameters are Python numbers or ``(n,)`` arrays. Policies are kept as
log-probabilities (``log_pi``), normalised along the last axis.

* :func:`omd_step` -- one exact OMD step (``eta`` is the *inverse* learning rate):
  ``pi_{t+1} propto exp(P pi_t / eta) pi_ref^(tau / eta) pi_t^(1 - tau / eta)``.
* :func:`duality_gap` -- ``max_{pi_1} J(pi_1, pi) - min_{pi_2} J(pi, pi_2)`` in closed form: for ``tau > 0``
  ``tau LSE(log pi_ref + P pi / tau) + tau LSE(log pi_ref - P^T pi / tau) + 2 tau KL(pi || pi_ref)``, for
  ``tau = 0`` ``max_i (P pi)_i - min_j (P^T pi)_j``.
* :func:`nash` -- the Nash policy of the regularised game (``tau > 0``): the unique fixed point
  ``pi = softmax(log pi_ref + P pi / tau)``, by damped Newton iterations on ``g(pi) = softmax(...) - pi``
  (backtracking on ``||g||^2``). Its Jacobian ``S P / tau - I`` with ``S = diag(s) - s s^T`` is invertible (S P
  equals S (P - 11^T / 2), similar to a skew-symmetric matrix on the range of S, so its eigenvalues are
  imaginary), so the Newton direction always decreases ``||g||^2``; quadratic convergence near the solution.
* :func:`kl` -- ``KL(p || q)`` from log-probabilities.

Bad input raises :class:`boundlab.UsageError` (a ``ValueError``) naming the argument and the rule it broke.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import array_api_compat

from boundlab.errors import UsageError

Array = Any
Namespace = Any

__all__ = ["check_game", "duality_gap", "kl", "log_normalise", "nash", "omd_step"]

STEPS = tuple(0.5**k for k in range(12))  # backtracking step lengths of the damped Newton iterations


def _real(value: Any, name: str, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name} must be a real number or an (n,) array, got {value!r}.")
    v = float(value)
    if not math.isfinite(v) or (v <= 0.0 if positive else v < 0.0):
        raise UsageError(f"{name} must be finite and {'> 0' if positive else '>= 0'}, got {value!r}.")


def _scalar_or_batch(value: Any, name: str, n: int, xp: Namespace, *, positive: bool) -> Array:
    """``value`` as an (n, 1) array after checking it is finite and > 0 (or >= 0)."""
    if isinstance(value, numbers.Real) or isinstance(value, bool):
        _real(value, name, positive=positive)
        return xp.full((n, 1), float(value), dtype=xp.float64)
    arr = xp.asarray(value, dtype=xp.float64)
    if arr.shape != (n,):
        raise UsageError(f"{name} must be a number or an array of shape (n,) = ({n},), got shape {arr.shape}.")
    if not bool(xp.all(xp.isfinite(arr))):
        raise UsageError(f"{name} must be finite (no NaN or inf).")
    if bool(xp.any(arr <= 0.0)) if positive else bool(xp.any(arr < 0.0)):
        raise UsageError(f"{name} must be {'> 0' if positive else '>= 0'} in every game.")
    return xp.reshape(arr, (n, 1))


def check_game(P: Array, log_pi: Array, name: str = "log_pi") -> tuple[int, int]:
    """(n, K) after checking ``P`` is a finite (n, K, K) array with entries in [0, 1] and ``log_pi`` (n, K)."""
    xp = array_api_compat.array_namespace(P, log_pi)
    if len(P.shape) != 3 or P.shape[1] != P.shape[2] or P.shape[1] < 2:
        raise UsageError(f"P must have shape (n, K, K) with K >= 2, got {P.shape}.")
    n, K = P.shape[0], P.shape[1]
    if not bool(xp.all(xp.isfinite(P))) or bool(xp.any(P < 0.0)) or bool(xp.any(P > 1.0)):
        raise UsageError("P must hold probabilities: finite entries in [0, 1].")
    if log_pi.shape != (n, K):
        raise UsageError(f"{name} must have shape (n, K) = ({n}, {K}), got {log_pi.shape}.")
    if bool(xp.any(xp.isnan(log_pi))) or bool(xp.any(log_pi == xp.inf)):
        raise UsageError(f"{name} must be log-probabilities: no NaN and no +inf.")
    return n, K


def log_normalise(logits: Array, xp: Namespace) -> Array:
    """Log-softmax along the last axis."""
    m = xp.max(logits, axis=-1, keepdims=True)
    return logits - m - xp.log(xp.sum(xp.exp(logits - m), axis=-1, keepdims=True))


def _lse(x: Array, xp: Namespace) -> Array:
    m = xp.max(x, axis=-1)
    return m + xp.log(xp.sum(xp.exp(x - m[:, None]), axis=-1))


def _matvec(P: Array, v: Array) -> Array:
    return (P @ v[:, :, None])[:, :, 0]


def kl(log_p: Array, log_q: Array, xp: Namespace) -> Array:
    """KL(p || q) per game, from (n, K) log-probabilities (terms with p = 0 contribute 0)."""
    p = xp.exp(log_p)
    diff = xp.where(p > 0.0, log_p - log_q, xp.zeros_like(log_p))
    return xp.sum(p * diff, axis=-1)


def omd_step(P: Array, log_pi: Array, log_ref: Array, tau: Any, eta: Any, xp: Namespace) -> Array:
    """One exact OMD step (Eq. 5 of INPO): log pi_{t+1} = normalise(P pi_t / eta + (tau / eta) log pi_ref +
    (1 - tau / eta) log pi_t). ``eta > 0`` is the inverse learning rate; ``eta = tau`` is the best response."""
    n, _ = check_game(P, log_pi)
    if log_ref.shape != log_pi.shape:
        raise UsageError(f"log_ref must have the shape of log_pi {log_pi.shape}, got {log_ref.shape}.")
    t = _scalar_or_batch(tau, "tau", n, xp, positive=False)
    e = _scalar_or_batch(eta, "eta", n, xp, positive=True)
    w = _matvec(P, xp.exp(log_pi))
    return log_normalise(w / e + (t / e) * log_ref + (1.0 - t / e) * log_pi, xp)


def duality_gap(P: Array, log_pi: Array, log_ref: Array, tau: Any, xp: Namespace) -> Array:
    """DualGap(pi) = max_{pi_1} J(pi_1, pi) - min_{pi_2} J(pi, pi_2) in closed form (see the module doc)."""
    n, _ = check_game(P, log_pi)
    if log_ref.shape != log_pi.shape:
        raise UsageError(f"log_ref must have the shape of log_pi {log_pi.shape}, got {log_ref.shape}.")
    t = _scalar_or_batch(tau, "tau", n, xp, positive=False)
    pi = xp.exp(log_pi)
    win = _matvec(P, pi)  # (P pi)_i: win rate of response i against pi
    lose = _matvec(xp.permute_dims(P, (0, 2, 1)), pi)  # (P^T pi)_j: win rate of pi against response j
    unregularised = xp.max(win, axis=-1) - xp.min(lose, axis=-1)
    zero = t[:, 0] == 0.0
    ts = xp.where(zero, xp.ones_like(t[:, 0]), t[:, 0])[:, None]
    regularised = ts[:, 0] * (_lse(log_ref + win / ts, xp) + _lse(log_ref - lose / ts, xp)) \
        + 2.0 * ts[:, 0] * kl(log_pi, log_ref, xp)
    return xp.where(zero, unregularised, regularised)


def nash(P: Array, log_ref: Array, tau: Any, xp: Namespace, *, tol: float = 1e-13, max_iter: int = 200) -> Array:
    """log pi* of the tau-regularised game (tau > 0): damped Newton on softmax(log pi_ref + P pi / tau) = pi.

    Stops when ``max |g| <= tol`` in every game; raises :class:`boundlab.MeasurementError` if some game has not
    converged after ``max_iter`` iterations (never silently returns an inaccurate equilibrium)."""
    from boundlab.errors import MeasurementError

    n, K = check_game(P, log_ref, "log_ref")
    t = _scalar_or_batch(tau, "tau", n, xp, positive=True)
    _real(tol, "tol", positive=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise UsageError(f"max_iter must be an integer >= 1, got {max_iter!r}.")
    eye = xp.eye(K, dtype=xp.float64)[None, :, :]

    def residual(pi: Array) -> tuple[Array, Array]:
        s = xp.exp(log_normalise(log_ref + _matvec(P, pi) / t, xp))
        return s - pi, s

    pi = xp.exp(log_ref)
    g, s = residual(pi)
    for _ in range(max_iter):
        merit = xp.sum(g * g, axis=-1)
        if float(xp.max(xp.abs(g))) <= tol:
            return xp.log(s)
        S = s[:, :, None] * eye - s[:, :, None] * s[:, None, :]
        J = (S @ P) / t[:, :, None] - eye
        d = -xp.linalg.solve(J, g[:, :, None])[:, :, 0]
        accepted = xp.zeros((n,), dtype=xp.bool)
        new_pi, new_g, new_s = pi, g, s
        for alpha in STEPS:  # the largest step with sufficient decrease, per game
            trial = pi + alpha * d
            tg, ts = residual(trial)
            ok = (xp.sum(tg * tg, axis=-1) <= (1.0 - 1e-4 * alpha) * merit) & ~accepted
            new_pi = xp.where(ok[:, None], trial, new_pi)
            new_g = xp.where(ok[:, None], tg, new_g)
            new_s = xp.where(ok[:, None], ts, new_s)
            accepted = accepted | ok
        # games without sufficient decrease (only at round-off level) take the smallest step
        trial = pi + STEPS[-1] * d
        tg, ts = residual(trial)
        pi = xp.where(accepted[:, None], new_pi, trial)
        g = xp.where(accepted[:, None], new_g, tg)
        s = xp.where(accepted[:, None], new_s, ts)
    if float(xp.max(xp.abs(g))) <= tol:
        return xp.log(s)
    raise MeasurementError(f"nash: Newton iterations did not reach max|g| <= {tol:g} in {max_iter} iterations "
                           f"(max|g| = {float(xp.max(xp.abs(g))):.3g}).")
