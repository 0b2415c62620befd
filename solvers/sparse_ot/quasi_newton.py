"""The main dual method: batched quasi-Newton minimisation (full BFGS up to ``_FULL_BFGS_MAX_DIM`` variables,
L-BFGS above) with a weak Wolfe line search, per-instance stopping and active-set compaction.  It also defines the
stop-reason codes ``STOP_*`` and their description ``STOPPING_METRIC``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._arrays import Array
from ._batch import _all, _Data, _expand, _ifull, _put, _vdot

STOPPING_METRIC = (
    "per instance: ||grad||_1 <= gtol, or relative one-step objective improvement <= tol, "
    "or line-search failure, or max_iter (quasi-Newton iterations counted)"
)

STOP_GRADIENT, STOP_STALL, STOP_LINESEARCH, STOP_MAX_ITER = 0, 1, 2, 3


# --------------------------------------------------------------------------------------------------------
# batched quasi-Newton (BFGS / L-BFGS) minimisation with per-instance stopping and active-set compaction
# --------------------------------------------------------------------------------------------------------
@dataclass
class _LbfgsState:
    """Per-instance state of the unconverged instances (every array has the same leading length)."""

    x: Array
    F: Array
    G: Array
    h: Array
    iters: Array
    n_small: Array  # consecutive iterations with a relative improvement <= tol
    restarted: Array  # memory was just dropped after a failed line search
    n_restart: Array
    S: list[Array]  # limited memory: curvature pairs (R = 1/s.y, 0 for a skipped or dropped pair)
    Y: list[Array]
    R: list[Array]
    H: Array | None = None  # full BFGS: inverse Hessian approximation (B, d, d)
    fresh: Array | None = None  # full BFGS: no pair since the last (re)start

    def take(self, keep: Array) -> _LbfgsState:
        return _LbfgsState(self.x[keep], self.F[keep], self.G[keep], self.h[keep], self.iters[keep],
                           self.n_small[keep], self.restarted[keep], self.n_restart[keep],
                           [v[keep] for v in self.S], [v[keep] for v in self.Y], [v[keep] for v in self.R],
                           None if self.H is None else self.H[keep], None if self.fresh is None else self.fresh[keep])

    def reset(self, rows: Array, h0: float, xp: Any) -> None:
        """Drop the curvature information of the instances ``rows``."""
        if not bool(xp.any(rows)):
            return
        self.R = [xp.where(rows, 0.0, r) for r in self.R]
        self.h = xp.where(rows, h0, self.h)
        if self.H is not None:
            self.H = xp.where(rows[:, None, None], h0 * xp.eye(self.x.shape[-1], dtype=self.x.dtype), self.H)
            self.fresh = self.fresh | rows


class _LbfgsOutput:
    """Full-batch outputs; rows are written when their instance stops."""

    def __init__(self, x0: Array, F: Array, G: Array, xp: Any):
        B = x0.shape[0]
        self.x, self.F, self.G = xp.asarray(x0, copy=True), xp.asarray(F, copy=True), xp.asarray(G, copy=True)
        self.iters = xp.zeros((B,), dtype=xp.int64)
        self.reason = xp.full((B,), STOP_MAX_ITER, dtype=xp.int64)
        self.active = xp.ones((B,), dtype=xp.bool)

    def retire(self, st: _LbfgsState, stop: Array, reason: Array) -> None:
        """Write the rows ``stop`` (a mask over the active instances) and mark them inactive."""
        full = _expand(self.active, stop)
        for name in ("x", "F", "G", "iters"):
            _put(getattr(self, name), full, getattr(st, name)[stop])
        _put(self.reason, full, reason[stop])
        _put(self.active, self.active, ~stop)


def _two_loop(G: Array, st: _LbfgsState, xp: Any) -> Array:
    """Search direction ``-H G`` (full BFGS: one batched mat-vec; L-BFGS: the two-loop recursion, where pairs
    with ``R = 0`` are ignored, which implements per-instance memory resets)."""
    if st.H is not None:
        return -xp.matmul(st.H, G[..., None])[..., 0]
    q = G
    coefs = []
    for s, y, r in zip(reversed(st.S), reversed(st.Y), reversed(st.R), strict=True):
        al = r * _vdot(s, q, xp)
        q = q - al[:, None] * y
        coefs.append(al)
    d = st.h[:, None] * q
    for s, y, r, al in zip(st.S, st.Y, st.R, reversed(coefs), strict=True):
        be = r * _vdot(y, d, xp)
        d = d + (al - be)[:, None] * s
    return -d


def _eval_rows(fun: Callable, x: Array, data: _Data, rows: Array, xp: Any) -> tuple[Array, Array]:
    """``fun`` on the rows ``rows`` only; the other rows get F = +inf, G = 0 (they are ignored by the caller)."""
    if _all(rows, xp):
        return fun(x, data)
    Fs, Gs = fun(x[rows], data.take(rows))
    F = xp.full((x.shape[0],), math.inf, dtype=x.dtype)
    G = xp.zeros(x.shape, dtype=x.dtype)
    F[rows] = Fs
    G[rows] = Gs
    return F, G


def _wolfe_search(fun: Callable, data: _Data, st: _LbfgsState, d: Array, slope: Array, xp: Any, max_ls: int):
    """Weak Wolfe line search by bisection / doubling (Lewis & Overton 2013: robust on nonsmooth kinks).

    Only the instances whose search is still open are evaluated.  Returns the best Armijo point of each
    instance (the start point when there is none) and whether an Armijo point was found."""
    x, F = st.x, st.F
    s = x.shape[0]
    step = xp.ones((s,), dtype=x.dtype)
    lo = xp.zeros((s,), dtype=x.dtype)
    hi = xp.full((s,), math.inf, dtype=x.dtype)
    done = xp.zeros((s,), dtype=xp.bool)
    seen = xp.zeros((s,), dtype=xp.bool)
    x_new, F_new, G_new = x, F, st.G
    # a trial that moves x by less than round-off cannot help: give up on it (counts as a failed search when
    # no Armijo point was found; the caller then restarts from the gradient)
    tiny = 1e-14 * (1.0 + xp.max(xp.abs(x), axis=-1)) / xp.maximum(xp.max(xp.abs(d), axis=-1), 1e-300)
    for _ in range(max_ls):
        done = done | (step < tiny)
        if _all(done, xp):
            break
        xt = x + step[:, None] * d
        Ft, Gt = _eval_rows(fun, xt, data, ~done, xp)
        armijo = xp.isfinite(Ft) & (Ft <= F + 1e-4 * step * slope) & ~done
        wolfe = _vdot(Gt, d, xp) >= 0.9 * slope
        better = armijo & (~seen | (Ft < F_new))  # keep the best Armijo point seen
        x_new = xp.where(better[:, None], xt, x_new)
        F_new = xp.where(better, Ft, F_new)
        G_new = xp.where(better[:, None], Gt, G_new)
        seen = seen | armijo
        done = done | (armijo & wolfe)
        if _all(done, xp):
            break
        hi = xp.where(~done & ~armijo, step, hi)
        lo = xp.where(~done & armijo, step, lo)
        # no Armijo point yet: minimiser of the quadratic through F(0), F'(0), F(step), kept in
        # [0.1, 0.5] x step (a quasi-Newton step across kinks can be 1e4 too long: bisection wastes trials)
        excess = xp.where(xp.isfinite(Ft), Ft - F - step * slope, math.inf)
        quad = xp.where(excess > 0, -slope * step * step / (2.0 * xp.where(excess > 0, excess, 1.0)), 0.5 * step)
        back = xp.minimum(xp.maximum(quad, 0.1 * step), 0.5 * step)
        bracket = xp.where(lo > 0, (lo + hi) / 2.0, back)
        step = xp.where(done, step, xp.where(xp.isfinite(hi), bracket, 2.0 * lo))
    return x_new, F_new, G_new, seen


def _lbfgs_update(st: _LbfgsState, x_new: Array, F_new: Array, G_new: Array, moved: Array, memory: int,
                  tol: float, patience: int, xp: Any) -> Array:
    """Curvature pair, scaling and stall counter after one iteration; returns the 'small improvement' flags."""
    s_vec, y_vec = x_new - st.x, G_new - st.G
    sy, yy, ss = _vdot(s_vec, y_vec, xp), _vdot(y_vec, y_vec, xp), _vdot(s_vec, s_vec, xp)
    valid = moved & (sy > 1e-12 * xp.sqrt(ss * yy))
    if st.H is not None:
        _bfgs_update(st, s_vec, y_vec, sy, yy, valid, xp)
    else:
        st.S.append(s_vec)
        st.Y.append(y_vec)
        st.R.append(xp.where(valid, 1.0 / xp.where(valid, sy, 1.0), 0.0))
        if len(st.S) > memory:
            st.S.pop(0), st.Y.pop(0), st.R.pop(0)
        st.h = xp.where(valid, sy / xp.where(valid, yy, 1.0), st.h)
    denom = xp.maximum(xp.maximum(xp.abs(st.F), xp.abs(F_new)), 1e-300)
    small = moved & ((st.F - F_new) / denom <= tol)
    st.n_small = xp.where(small, st.n_small + 1, 0)
    st.iters = st.iters + xp.astype(moved, xp.int64)
    st.x, st.F, st.G = x_new, F_new, G_new
    return small & (st.n_small >= patience)


def _bfgs_update(st: _LbfgsState, s: Array, y: Array, sy: Array, yy: Array, valid: Array, xp: Any) -> None:
    """Inverse BFGS update ``H+ = (I - r s y^T) H (I - r y s^T) + r s s^T`` (r = 1/s.y) of the rows ``valid``,
    written as one rank-2 update; the first pair after a (re)start first sets H = (s.y / y.y) I."""
    rho = xp.where(valid, 1.0 / xp.where(valid, sy, 1.0), 0.0)
    first = st.fresh & valid
    if bool(xp.any(first)):
        scale0 = xp.where(first, sy / xp.where(first, yy, 1.0), 1.0)
        st.H = xp.where(first[:, None, None], scale0[:, None, None] * xp.eye(s.shape[-1], dtype=s.dtype), st.H)
    Hy = xp.matmul(st.H, y[..., None])[..., 0]
    c = rho * rho * _vdot(y, Hy, xp) + rho
    U = xp.stack((s, Hy), axis=-1)
    V = xp.stack((c[:, None] * s - rho[:, None] * Hy, -rho[:, None] * s), axis=-1)
    st.H = st.H + xp.matmul(U, xp.permute_dims(V, (0, 2, 1)))
    st.fresh = st.fresh & ~valid


_FULL_BFGS_MAX_DIM = 256


def _lbfgs(fun: Callable, data: _Data, x0: Array, xp: Any, *, tol: float, gtol: float, max_iter: int, h0: float,
           memory: int = 10, max_ls: int = 40, patience: int = 2, restarts: int = 3):
    """Batched quasi-Newton method minimising ``fun(x, data) -> (F, G)`` independently for every instance.

    Full BFGS when the dimension d <= ``_FULL_BFGS_MAX_DIM`` (an O(d^2) update, cheaper than a function evaluation
    there), else L-BFGS with ``memory`` pairs.  On these nonsmooth objectives BFGS copes with kinks far better
    (cf. Lewis & Overton 2013): on 54 semi-duals with m = n in {10, 20, 40}, k in {2, 3, 5}, it stopped at most
    1.1e-6 (median 3e-11) below the best value found, L-BFGS up to 1.4e-4 (median 2e-7), in less time.
    Instances that stop are written to the output and dropped from the working set, so that every function
    evaluation (line-search trials included) costs only the unconverged instances; an instance's iterates do not
    depend on the other instances of the batch.  Returns x, F, G, iterations and stop reasons (B,).
    """
    B, d = x0.shape
    F, G = fun(x0, data)
    out = _LbfgsOutput(x0, F, G, xp)
    zeros_i = xp.zeros((B,), dtype=xp.int64)
    st = _LbfgsState(x0, F, G, xp.full((B,), h0, dtype=x0.dtype), zeros_i, zeros_i,
                     xp.zeros((B,), dtype=xp.bool), zeros_i, [], [], [])
    if d <= _FULL_BFGS_MAX_DIM:
        st.H = h0 * xp.eye(d, dtype=x0.dtype) + xp.zeros((B, d, d), dtype=x0.dtype)
        st.fresh = xp.ones((B,), dtype=xp.bool)
        # BFGS on a nonsmooth objective alternates runs of tiny steps along a kink with large gains: a stall is
        # declared after 5 small improvements (2 for L-BFGS).  On 64 semi-duals with m, n <= 6 (k = 2, 3) this
        # cut the stops more than 1e-6 below S_k from 8 to 2 (4 with the round-off stop of the line search).
        patience = max(patience, 5)
    for _ in range(max_iter + 1):
        small_g = xp.sum(xp.abs(st.G), axis=-1) <= gtol
        if bool(xp.any(small_g)):
            out.retire(st, small_g, _ifull(small_g, STOP_GRADIENT))
            st, data = st.take(~small_g), data.take(~small_g)
        if st.x.shape[0] == 0 or _ == max_iter:
            break
        d = _two_loop(st.G, st, xp)
        slope = _vdot(st.G, d, xp)
        bad = ~(slope < 0)
        d = xp.where(bad[:, None], -h0 * st.G, d)
        slope = xp.where(bad, -h0 * _vdot(st.G, st.G, xp), slope)
        x_new, F_new, G_new, moved = _wolfe_search(fun, data, st, d, slope, xp, max_ls)
        stall = _lbfgs_update(st, x_new, F_new, G_new, moved, memory, tol, patience, xp)
        # a failed line search (no Armijo point): drop this instance's memory and retry once from -gradient;
        # a stall on a kink: drop the memory too, at most `restarts` times (curvature pairs collected across
        # a kink mislead the quasi-Newton model; a fresh start often resumes progress)
        ls_fail = ~moved
        final_fail = ls_fail & st.restarted
        soft = stall & (st.n_restart < restarts)
        st.n_restart = st.n_restart + xp.astype(soft, xp.int64)
        st.n_small = xp.where(soft, 0, st.n_small)
        stall = stall & ~soft
        st.reset(ls_fail | soft, h0, xp)
        st.restarted = ls_fail
        stop = stall | final_fail
        if bool(xp.any(stop)):
            why = xp.where(final_fail, _ifull(stop, STOP_LINESEARCH), _ifull(stop, STOP_STALL))
            out.retire(st, stop, why)
            st, data = st.take(~stop), data.take(~stop)
    if st.x.shape[0] > 0:
        every = xp.ones((st.x.shape[0],), dtype=xp.bool)
        out.retire(st, every, _ifull(every, STOP_MAX_ITER))
    return out.x, out.F, out.G, out.iters, out.reason
