"""Batched optimistic online mirror descent (Euclidean) on a ball, written against the Python array API.

Algorithm
---------
Each of ``R`` independent replicates plays on the ball ``X = {x : ||x|| <= radius}`` (diameter
``D = 2 radius``). With the hint ``m_t = g_{t-1}`` (``g_0 = 0``) and the centre ``xhat_1 = 0``, round t is

    x_t       = Pi_X[xhat_t - eta_t m_t]          (play, using the hint)
    g_t       = grad f_t(x_t)                      (observe)
    xhat_{t+1} = Pi_X[xhat_t - eta_t g_t]          (update the auxiliary iterate)

the Euclidean case (psi = ||x||^2 / 2) of optimistic OMD in Chen, Tu, Zhao, Zhang (ICML 2023). Two step-size
schedules are provided:

* :class:`AdaptiveStep`, for convex losses: ``eta_t = D / sqrt(delta + 4 G^2 + sum_{s<t} ||g_s - m_s||^2)``,
  with ``G`` a bound on the gradient norms (``||g_t - m_t||^2 <= 4 G^2``, so the not yet observed term is
  covered);
* :class:`StronglyConvexStep`, for lam-strongly convex losses: ``eta_t = alpha / (lam t)``.

The solver knows nothing about claims: it plays, observes gradients and returns losses and regrets.

Implementation
--------------
* Replicates are the leading axis; the only Python loop is over rounds (each round is a handful of element-wise
  operations on ``(R, d)`` arrays).
* Losses come from a *stream* ``stream(t0, t1)`` that returns the loss parameters of rounds ``t0 .. t1-1`` for
  every replicate (drawn in chunks, so the random numbers of the first rounds do not depend on the horizon).
* The comparator, the best fixed point of the ball in hindsight, has a closed form for both loss families:
  ``min_x <S, x> = -radius ||S||`` for linear losses with ``S = sum_t c_t``, and the projection of the mean
  ``Pi_X[S / T]`` for ``f_t = ||x - c_t||^2 / 2`` (the sum is ``T/2 ||x - S/T||^2`` plus a constant).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

Array = Any
Namespace = Any
LinearStream = Callable[[int, int], Array]
"""``stream(t0, t1) -> c (R, t1-t0, d)``: linear losses ``<c_t, x>``."""
QuadraticStream = Callable[[int, int], Array]
"""``stream(t0, t1) -> c (R, t1-t0, d)``: losses ``||x - c_t||^2 / 2``."""

__all__ = [
    "AdaptiveStep",
    "OptimisticOMD",
    "StronglyConvexStep",
    "linear_hindsight_min",
    "project_ball",
    "quadratic_hindsight_min",
    "reference_linear",
    "reference_quadratic",
    "run_linear",
    "run_quadratic",
]

# ----------------------------------------------------------------------------- validation helpers


def _positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (v < 0.0 if allow_zero else v <= 0.0):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _checkpoints(checkpoints: Sequence[int], T: int) -> tuple[int, ...]:
    out: list[int] = []
    for c in checkpoints:
        if isinstance(c, bool | np.bool_) or not isinstance(c, numbers.Integral):
            raise ValueError(f"checkpoints must be integers, got {c!r}")
        if not 1 <= int(c) <= T:
            raise ValueError(f"checkpoints must lie in [1, T] = [1, {T}], got {c}")
        if out and int(c) <= out[-1]:
            raise ValueError(f"checkpoints must be strictly increasing, got {list(checkpoints)}")
        out.append(int(c))
    if not out:
        raise ValueError("checkpoints must be non-empty")
    return tuple(out)


def _check_block(xp: Namespace, a: Array, shape: tuple[int, ...], name: str) -> None:
    if tuple(a.shape) != shape:
        raise ValueError(f"{name} must have shape (replicates, rounds, dim) = {shape}, got {tuple(a.shape)}")
    if not bool(xp.all(xp.isfinite(a))):
        raise ValueError(f"{name} must not contain NaN or inf")


def _namespace(xp: Namespace | None) -> Namespace:
    return array_api_compat.array_namespace(np.empty(0)) if xp is None else xp


# ----------------------------------------------------------------------------- geometry and comparators


def project_ball(y: Array, radius: float, xp: Namespace | None = None) -> Array:
    """Euclidean projection of each row of ``y`` (last axis = coordinates) onto ``{||x|| <= radius}``."""
    xp = _namespace(xp)
    r = _positive(radius, "radius")
    norm = xp.linalg.vector_norm(y, axis=-1, keepdims=True)
    return y * (r / xp.maximum(norm, xp.full_like(norm, r)))


def linear_hindsight_min(S: Array, radius: float, xp: Namespace | None = None) -> Array:
    """``min_{||x|| <= radius} <S, x> = -radius ||S||`` per row of ``S`` (the sum of the linear losses' vectors)."""
    xp = _namespace(xp)
    return -_positive(radius, "radius") * xp.linalg.vector_norm(S, axis=-1)


def quadratic_hindsight_min(S: Array, Q: Array, T: int, radius: float, xp: Namespace | None = None) -> Array:
    """``min_{||x|| <= radius} sum_t ||x - c_t||^2 / 2`` from ``S = sum_t c_t`` (rows) and ``Q = sum_t ||c_t||^2 / 2``.

    The sum equals ``T/2 ||x - S/T||^2 + Q - ||S||^2 / (2T)``, minimised over the ball by ``Pi[S/T]``.
    """
    xp = _namespace(xp)
    n = _positive_int(T, "T")
    x_star = project_ball(S / n, radius, xp)
    return 0.5 * n * xp.sum(x_star * x_star, axis=-1) - xp.sum(x_star * S, axis=-1) + Q


# ----------------------------------------------------------------------------- step sizes


@dataclass(frozen=True)
class AdaptiveStep:
    """``eta_t = diameter / sqrt(delta + 4 G^2 + V_{t-1})``, ``V_{t-1} = sum_{s<t} ||g_s - m_s||^2`` (convex losses)."""

    diameter: float
    G: float
    delta: float = 1.0

    def __post_init__(self) -> None:
        _positive(self.diameter, "diameter")
        _positive(self.G, "G")
        _positive(self.delta, "delta", allow_zero=True)

    def __call__(self, t: int, V: Array, xp: Namespace) -> Array:
        return self.diameter / xp.sqrt(self.delta + 4.0 * self.G**2 + V)


@dataclass(frozen=True)
class StronglyConvexStep:
    """``eta_t = alpha / (lam t)`` (lam-strongly convex losses)."""

    lam: float
    alpha: float = 1.0

    def __post_init__(self) -> None:
        _positive(self.lam, "lam")
        _positive(self.alpha, "alpha")

    def __call__(self, t: int, V: Array, xp: Namespace) -> Array:
        return xp.zeros_like(V) + self.alpha / (self.lam * t)


Schedule = AdaptiveStep | StronglyConvexStep


# ----------------------------------------------------------------------------- the learner


class OptimisticOMD:
    """Euclidean optimistic OMD for ``replicates`` independent runs on the ball of radius ``radius`` in R^dim.

    Call :meth:`play` (returns ``x_t``, shape ``(replicates, dim)``) and then :meth:`update` with
    ``g_t = grad f_t(x_t)``, once per round. The state is stored batch-last, ``(dim, replicates)``: NumPy reduces
    a short leading axis about 4x faster than a short trailing one (measured at R = 1024, d = 3), and the runners
    below use that layout directly (:meth:`play_t`, :meth:`update_t`).
    """

    def __init__(self, replicates: int, dim: int, radius: float, schedule: Schedule, *,
                 xp: Namespace | None = None, dtype: Any = None, device: Any = None) -> None:
        if not isinstance(schedule, AdaptiveStep | StronglyConvexStep):
            raise ValueError(f"schedule must be an AdaptiveStep or a StronglyConvexStep, got {schedule!r}")
        self.R = _positive_int(replicates, "replicates")
        self.d = _positive_int(dim, "dim")
        self.radius = _positive(radius, "radius")
        if isinstance(schedule, AdaptiveStep) and not math.isclose(schedule.diameter, 2 * self.radius):
            raise ValueError(f"schedule.diameter must equal 2 * radius = {2 * self.radius}, got {schedule.diameter}")
        self.schedule = schedule
        self.xp = _namespace(xp)
        self.dtype = self.xp.float64 if dtype is None else dtype
        self._hat = self.xp.zeros((self.d, self.R), dtype=self.dtype, device=device)    # xhat_t
        self._hint = self.xp.zeros((self.d, self.R), dtype=self.dtype, device=device)   # m_t = g_{t-1}
        self.V = self.xp.zeros((self.R,), dtype=self.dtype, device=device)
        self.t = 0                              # rounds completed
        self.eta: Array | None = None           # eta_t of the round being played, (R,)
        self._played = False

    @property
    def hat(self) -> Array:
        """The auxiliary iterate xhat_{t+1}, ``(replicates, dim)``."""
        return self.xp.permute_dims(self._hat, (1, 0))

    def _project(self, y: Array) -> Array:
        norm = self.xp.sqrt(self.xp.sum(y * y, axis=0))
        return y * (self.radius / self.xp.maximum(norm, self.xp.full_like(norm, self.radius)))

    def play_t(self) -> Array:
        """``x_t = Pi[xhat_t - eta_t m_t]`` for the next round t, batch-last ``(dim, replicates)``."""
        if self._played:
            raise ValueError("play() called twice without update(): each round is play() then update(grad)")
        self.eta = self.schedule(self.t + 1, self.V, self.xp)
        self._played = True
        return self._project(self._hat - self.eta * self._hint)

    def update_t(self, grad: Array) -> None:
        """Observe ``g_t`` (batch-last): ``xhat_{t+1} = Pi[xhat_t - eta_t g_t]``, ``V_t = V_{t-1} + ||g_t - m_t||^2``,
        ``m_{t+1} = g_t``. No input checks: the runners check each chunk once."""
        if not self._played:
            raise ValueError("update() called before play(): each round is play() then update(grad)")
        diff = grad - self._hint
        self.V = self.V + self.xp.sum(diff * diff, axis=0)
        self._hat = self._project(self._hat - self.eta * grad)
        self._hint = grad
        self.t += 1
        self._played = False

    def play(self) -> Array:
        """``x_t = Pi[xhat_t - eta_t m_t]`` for the next round t, ``(replicates, dim)``."""
        return self.xp.permute_dims(self.play_t(), (1, 0))

    def update(self, grad: Array) -> None:
        """Observe ``g_t = grad f_t(x_t)``, ``(replicates, dim)``."""
        if tuple(grad.shape) != (self.R, self.d):
            raise ValueError(f"grad must have shape (replicates, dim) = {(self.R, self.d)}, got {tuple(grad.shape)}")
        if not bool(self.xp.all(self.xp.isfinite(grad))):
            raise ValueError("grad must not contain NaN or inf")
        self.update_t(self.xp.permute_dims(grad, (1, 0)))


# ----------------------------------------------------------------------------- runners


def _batch_last(xp: Namespace, c: Array) -> Array:
    """``(R, n, d) -> (n, d, R)``, contiguous on NumPy (so each round's ``(d, R)`` slice is one block)."""
    out = xp.permute_dims(c, (1, 2, 0))
    return np.ascontiguousarray(out) if array_api_compat.is_numpy_namespace(xp) else out


def _chunks(T: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(t0, min(t0 + chunk_size, T)) for t0 in range(0, T, chunk_size)]


def run_linear(stream: LinearStream, T: int, radius: float, schedule: Schedule, checkpoints: Sequence[int], *,
               replicates: int, dim: int, G: float | None = None, chunk_size: int = 100,
               xp: Namespace | None = None) -> Array:
    """Optimistic OMD on the linear losses ``<c_t, x>`` of ``stream`` for T rounds.

    Returns the regrets ``sum_{t<=n} <c_t, x_t> - min_x sum_{t<=n} <c_t, x>`` at the checkpoints n,
    ``(R, len(checkpoints))``.
    ``G``, when given, is checked: a gradient with ``||c_t|| > G (1 + 1e-12)`` raises (the adaptive step size
    assumes ``G`` bounds the gradients).
    """
    xp = _namespace(xp)
    T = _positive_int(T, "T")
    cps = _checkpoints(checkpoints, T)
    chunk_size = _positive_int(chunk_size, "chunk_size")
    bound = None if G is None else _positive(G, "G")
    learner = OptimisticOMD(replicates, dim, radius, schedule, xp=xp)
    R, d = learner.R, learner.d
    loss = xp.zeros((R,), dtype=learner.dtype)
    S = xp.zeros((d, R), dtype=learner.dtype)
    regrets = []
    for t0, t1 in _chunks(T, chunk_size):
        c = stream(t0, t1)
        _check_block(xp, c, (R, t1 - t0, d), "c")
        if bound is not None and float(xp.max(xp.linalg.vector_norm(c, axis=-1))) > bound * (1 + 1e-12):
            raise ValueError(f"the gradients c_t must satisfy ||c_t|| <= G = {bound}")
        cT = _batch_last(xp, c)
        for k in range(t1 - t0):
            x = learner.play_t()
            ct = cT[k, ...]
            loss = loss + xp.sum(ct * x, axis=0)
            S = S + ct
            learner.update_t(ct)
            if learner.t in cps:
                regrets.append(loss + learner.radius * xp.sqrt(xp.sum(S * S, axis=0)))  # minus min_x <S, x>
    return xp.stack(regrets, axis=1)


def run_quadratic(stream: QuadraticStream, T: int, radius: float, schedule: Schedule, checkpoints: Sequence[int], *,
                  replicates: int, dim: int, chunk_size: int = 100, xp: Namespace | None = None) -> Array:
    """Optimistic OMD on ``f_t(x) = ||x - c_t||^2 / 2`` (gradient ``x - c_t``); regrets ``(R, len(checkpoints))``."""
    xp = _namespace(xp)
    T = _positive_int(T, "T")
    cps = _checkpoints(checkpoints, T)
    chunk_size = _positive_int(chunk_size, "chunk_size")
    learner = OptimisticOMD(replicates, dim, radius, schedule, xp=xp)
    R, d = learner.R, learner.d
    loss = xp.zeros((R,), dtype=learner.dtype)
    Q = xp.zeros((R,), dtype=learner.dtype)
    S = xp.zeros((d, R), dtype=learner.dtype)
    out = []
    for t0, t1 in _chunks(T, chunk_size):
        c = stream(t0, t1)
        _check_block(xp, c, (R, t1 - t0, d), "c")
        cT = _batch_last(xp, c)
        for k in range(t1 - t0):
            x = learner.play_t()
            ct = cT[k, ...]
            g = x - ct
            loss = loss + 0.5 * xp.sum(g * g, axis=0)
            Q = Q + 0.5 * xp.sum(ct * ct, axis=0)
            S = S + ct
            learner.update_t(g)
            if learner.t in cps:
                best = quadratic_hindsight_min(xp.permute_dims(S, (1, 0)), Q, learner.t, learner.radius, xp)
                out.append(loss - best)
    return xp.stack(out, axis=1)


# ----------------------------------------------------------------------------- slow references (one replicate)


def _ref_project(y: list[float], radius: float) -> list[float]:
    n = math.sqrt(sum(v * v for v in y))
    return list(y) if n <= radius else [v * radius / n for v in y]


def _ref_eta(schedule: Schedule, t: int, V: float) -> float:
    if isinstance(schedule, AdaptiveStep):
        return schedule.diameter / math.sqrt(schedule.delta + 4 * schedule.G**2 + V)
    return schedule.alpha / (schedule.lam * t)


def _reference(grad: Callable[[int, list[float]], list[float]], T: int, dim: int, radius: float,
               schedule: Schedule) -> list[list[float]]:
    hat, hint, V, xs = [0.0] * dim, [0.0] * dim, 0.0, []
    for t in range(1, T + 1):
        eta = _ref_eta(schedule, t, V)
        x = _ref_project([h - eta * m for h, m in zip(hat, hint, strict=True)], radius)
        g = grad(t - 1, x)
        V += sum((a - b) ** 2 for a, b in zip(g, hint, strict=True))
        hat = _ref_project([h - eta * gi for h, gi in zip(hat, g, strict=True)], radius)
        hint = g
        xs.append(x)
    return xs


def reference_linear(c: np.ndarray, radius: float, schedule: Schedule) -> tuple[np.ndarray, float]:
    """Plays ``x_t`` (T, d) and the final regret for one replicate's linear losses ``c`` (T, d): a plain loop."""
    T, d = c.shape
    xs = _reference(lambda t, x: [float(v) for v in c[t]], T, d, radius, schedule)
    loss = sum(float(np.dot(c[t], xs[t])) for t in range(T))
    return np.asarray(xs), loss + radius * float(np.linalg.norm(c.sum(axis=0)))


def reference_quadratic(c: np.ndarray, radius: float, schedule: Schedule) -> tuple[np.ndarray, float]:
    """Plays ``x_t`` (T, d) and the final regret for one replicate's losses ``||x - c_t||^2 / 2``: a plain loop.

    Its comparator is the projected mean, like the batched code's; the tests check that one against cvxpy.
    """
    T, d = c.shape
    xs = _reference(lambda t, x: [x[i] - float(c[t, i]) for i in range(d)], T, d, radius, schedule)
    loss = sum(0.5 * float(np.sum((np.asarray(xs[t]) - c[t]) ** 2)) for t in range(T))
    mean = c.mean(axis=0)
    x_star = np.asarray(_ref_project([float(v) for v in mean], radius))
    best = 0.5 * float(np.sum((x_star[None, :] - c) ** 2))
    return np.asarray(xs), loss - best
