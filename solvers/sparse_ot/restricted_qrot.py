"""Support-restricted quadratically regularised OT (QROT): the restricted problem on a support pattern (a dense,
generic array-API version and a NumPy version that keeps K row indices per column) and a robust semismooth Newton
method on its smooth restricted semi-dual.  Used by the primal polish and by the k = 1 refinement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import Array, _is_numpy, _simplex_theta, _topk_sorted
from ._batch import _all, _Data, _expand, _put, _vdot


# --------------------------------------------------------------------------------------------------------
# support-restricted QROT: patterns and a robust semismooth Newton method on its semi-dual
# --------------------------------------------------------------------------------------------------------
class _DensePattern:
    """Restricted problem on a boolean pattern P (B, n, m), or on every entry (P None); generic array API.

    ``gamma`` has one entry per instance (the k = 1 refinement solves QROT with an instance-dependent
    regularisation)."""

    def __init__(self, P: Array | None, data: _Data, gamma: Array, cap: Array | None = None):
        self.P, self.data, self.gamma = P, data, gamma
        self.K_hint = data.Ct.shape[-1]
        xp = data.xp
        self.cap = (2.0 * (xp.max(data.Ct, axis=(-2, -1)) - xp.min(data.Ct, axis=(-2, -1))) + gamma) if cap is None \
            else cap

    def take(self, mask: Array) -> _DensePattern:
        return _DensePattern(None if self.P is None else self.P[mask], self.data.take(mask), self.gamma[mask],
                             self.cap[mask])

    def eval(self, alpha: Array):
        """Restricted semi-dual value (B,), gradient (B, m) and a state for :meth:`hessian` / :meth:`plan`."""
        d, xp = self.data, self.data.xp
        s = alpha[:, None, :] - d.Ct
        V = s / (self.gamma[:, None] * d.b)[..., None]
        if self.P is None:
            V = V - xp.max(V, axis=-1, keepdims=True)  # shift-invariant projection: exact on huge inputs
            Tt = d.b[..., None] * xp.maximum(V - self._theta_full(V), 0.0)
        else:
            V = V - xp.max(xp.where(self.P, V, -math.inf), axis=-1, keepdims=True)
            sentinel = xp.min(V, axis=-1, keepdims=True) - 2.0  # below (max over P) - 1: never in the support
            theta = _simplex_theta(_topk_sorted(xp.where(self.P, V, sentinel), V.shape[-1], xp), 1.0, xp)
            Tt = d.b[..., None] * xp.where(self.P, xp.maximum(V - theta, 0.0), 0.0)
        f = (xp.sum(d.a * alpha, axis=-1) - xp.sum(Tt * s, axis=(-2, -1))
             + (self.gamma / 2.0) * xp.sum(Tt * Tt, axis=(-2, -1)))
        return f, d.a - xp.sum(Tt, axis=-2), Tt

    def _theta_full(self, V: Array) -> Array:
        """Simplex threshold of every column of V from its top-K entries only (K adapts to the largest support
        seen, and the full sort is used when some column's support reaches K): supports are small for small
        regularisation, and the result equals the full computation."""
        xp = self.data.xp
        m = V.shape[-1]
        while True:
            K = min(self.K_hint, m)
            top = _topk_sorted(V, K, xp)
            theta = _simplex_theta(top, 1.0, xp)
            if K >= m or not bool(xp.any(top[..., K - 1 : K] > theta)):
                n_supp = xp.max(xp.sum(xp.astype(top > theta, xp.int64), axis=-1))
                self.K_hint = max(4, 2 * int(n_supp) + 2)
                return theta
            self.K_hint = 2 * K

    def hessian(self, Tt: Array) -> Array:
        """gamma x generalized Hessian of minus the restricted semi-dual (a weighted graph Laplacian)."""
        return _laplacian(Tt > 0, self.data.xp)

    def plan(self, Tt: Array) -> Array:
        return Tt


def _laplacian(A: Array, xp: Any) -> Array:
    """``sum_j diag(A_j) - A_j A_j^T / |A_j|`` for the column supports A (B, n, m) -> (B, m, m)."""
    A = xp.astype(A, xp.float64)
    cnt = xp.maximum(xp.sum(A, axis=-1), 1.0)
    m = A.shape[-1]
    eye = xp.eye(m, dtype=A.dtype)
    return eye * xp.sum(A, axis=-2)[:, None, :] - xp.matmul(xp.permute_dims(A, (0, 2, 1)), A / cnt[..., None])


class _IndexPattern:
    """Same restricted problem, NumPy fast path: the pattern is kept as K row indices per column."""

    def __init__(self, idx: Array, valid: Array, csel: Array, a: Array, b: Array, gamma: Array, m: int,
                 cap: Array | None = None):
        self.idx, self.valid, self.csel, self.a, self.b, self.gamma, self.m = idx, valid, csel, a, b, gamma, m
        if cap is None:
            hi = np.max(np.where(valid, csel, -np.inf), axis=(-2, -1))
            cap = 2.0 * (hi - np.min(np.where(valid, csel, np.inf), axis=(-2, -1))) + gamma
        self.cap = cap

    @classmethod
    def from_mask(cls, P: Array, K: int, data: _Data, gamma: Array) -> _IndexPattern:
        idx = np.argpartition(-P.astype(np.int8), K - 1, axis=-1)[..., :K]
        return cls(idx, np.take_along_axis(P, idx, axis=-1), np.take_along_axis(data.Ct, idx, axis=-1), data.a,
                   data.b, gamma, data.Ct.shape[-1])

    def take(self, mask: Array) -> _IndexPattern:
        return _IndexPattern(self.idx[mask], self.valid[mask], self.csel[mask], self.a[mask], self.b[mask],
                             self.gamma[mask], self.m, self.cap[mask])

    def _flat(self) -> Array:
        return self.idx + (np.arange(self.idx.shape[0]) * self.m)[:, None, None]

    def eval(self, alpha: Array):
        B, m, b = alpha.shape[0], self.m, self.b
        s = np.take_along_axis(alpha[:, None, :], self.idx, axis=-1) - self.csel
        V = s / (self.gamma[:, None] * b)[..., None]
        V = V - np.max(np.where(self.valid, V, -np.inf), axis=-1, keepdims=True)
        sentinel = np.min(V, axis=-1, keepdims=True) - 2.0
        theta = _simplex_theta(-np.sort(-np.where(self.valid, V, sentinel), axis=-1), 1.0, np)
        Tsel = b[..., None] * np.where(self.valid, np.maximum(V - theta, 0.0), 0.0)
        f = np.sum(self.a * alpha, axis=-1) - np.sum(Tsel * s, axis=(-2, -1)) + 0.5 * self.gamma * np.sum(
            Tsel * Tsel, axis=(-2, -1))
        rows = np.bincount(self._flat().ravel(), weights=Tsel.ravel(), minlength=B * m).reshape(B, m)
        return f, self.a - rows, Tsel

    def hessian(self, Tsel: Array) -> Array:
        B, m = Tsel.shape[0], self.m
        K = self.idx.shape[-1]
        if 5 * K >= m:  # wide patterns: one dense matmul beats K^2 scattered adds per column
            return _laplacian(self.plan(Tsel) > 0, np)
        A = (Tsel > 0).astype(np.float64)
        w = A / np.maximum(A.sum(-1, keepdims=True), 1.0)
        pair = (np.arange(B) * m * m)[:, None, None, None] + self.idx[..., :, None] * m + self.idx[..., None, :]
        off = np.bincount(pair.ravel(), weights=(w[..., :, None] * A[..., None, :]).ravel(), minlength=B * m * m)
        diag = np.bincount(self._flat().ravel(), weights=A.ravel(), minlength=B * m).reshape(B, m)
        H = -off.reshape(B, m, m)
        H[:, np.arange(m), np.arange(m)] += diag
        return H

    def plan(self, Tsel: Array) -> Array:
        Tt = np.zeros(Tsel.shape[:2] + (self.m,))
        np.put_along_axis(Tt, self.idx, Tsel, axis=-1)
        return Tt


def _pattern(P: Array, K: int, data: _Data, gamma: Array) -> _DensePattern | _IndexPattern:
    """Restricted problem on the pattern P (at most K entries per column)."""
    m = data.Ct.shape[-1]
    if _is_numpy(data.xp) and K < m:
        return _IndexPattern.from_mask(P, K, data, gamma)
    return _DensePattern(P, data, gamma)


def _solve_batched(A: Array, rhs: Array, xp: Any) -> Array:
    """Solve ``A x = rhs`` per instance; an instance whose matrix is singular gets NaN (never raises)."""
    try:
        return xp.linalg.solve(A, rhs[..., None])[..., 0]
    except Exception:  # numpy.linalg.LinAlgError or a backend's equivalent: isolate the failing instances
        out = []
        for i in range(A.shape[0]):
            try:
                out.append(xp.linalg.solve(A[i, ...], rhs[i, ...][:, None])[:, 0])
            except Exception:
                out.append(xp.full(rhs.shape[1:], math.nan, dtype=rhs.dtype))
        return xp.stack(out)


def _newton_direction(pat: Any, state: Array, g: Array, mu: Array, xp: Any) -> Array:
    """Levenberg-regularised semismooth Newton direction ``gamma (H + mu I)^{-1} g`` (mu > 0 per instance),
    shortened to ``max |d| <= pat.cap``; rows whose system could not be solved are NaN."""
    H = pat.hessian(state)
    eye = xp.eye(H.shape[-1], dtype=H.dtype)
    d = pat.gamma[:, None] * _solve_batched(H + mu[:, None, None] * eye, g, xp)
    # trust cap: optimal potentials differ by at most range(C) + gamma, so a longer step is never useful (the
    # Hessian vanishes on rows outside the support and along component shifts: there d ~ gamma g / mu)
    size = xp.max(xp.abs(d), axis=-1)
    return d * xp.where(size > pat.cap, pat.cap / xp.where(size > pat.cap, size, 1.0), 1.0)[:, None]


def _eval_pattern_rows(pat: Any, x: Array, rows: Array, state_like: Array, xp: Any):
    """``pat.eval`` on the rows ``rows`` only (others: f = -inf, g = 0, state = 0)."""
    if _all(rows, xp):
        return pat.eval(x)
    fs, gs, sts = pat.take(rows).eval(x[rows])
    f = xp.full((x.shape[0],), -math.inf, dtype=x.dtype)
    g = xp.zeros(x.shape, dtype=x.dtype)
    st = xp.zeros(state_like.shape, dtype=state_like.dtype)
    f[rows], g[rows], st[rows] = fs, gs, sts
    return f, g, st


def _newton_linesearch(pat: Any, x: Array, f: Array, g: Array, st: Array, d: Array, xp: Any):
    """Backtracking: accept the first step with an Armijo increase of the value (while it is well above
    round-off) or, near the solution, a decrease of ||g||_2 at a value that did not drop beyond round-off.
    Returns the new point, the accepted flags and the steps."""
    gd = _vdot(g, d, xp)
    g2 = xp.sqrt(_vdot(g, g, xp))
    step = xp.ones((x.shape[0],), dtype=x.dtype)
    done = ~xp.all(xp.isfinite(d), axis=-1)  # failed directions: no search
    took = xp.zeros((x.shape[0],), dtype=xp.bool)
    d = xp.where(done[:, None], 0.0, d)
    for _ in range(30):
        at = x + step[:, None] * d
        ft, gt, st_t = _eval_pattern_rows(pat, at, ~done, st, xp)
        armijo = (ft >= f + 1e-4 * step * gd) & (ft - f > 1e-11 * xp.abs(f))
        near = (xp.sqrt(_vdot(gt, gt, xp)) <= (1 - 1e-4 * step) * g2) & (ft >= f - 1e-11 * xp.abs(f))
        ok = armijo | near
        take = ok & xp.isfinite(ft) & ~done
        x = xp.where(take[:, None], at, x)
        f, g = xp.where(take, ft, f), xp.where(take[:, None], gt, g)
        st = xp.where(xp.reshape(take, (-1,) + (1,) * (st.ndim - 1)), st_t, st)
        done, took = done | take, took | take
        if _all(done, xp):
            break
        step = xp.where(done, step, step * 0.5)
    return x, f, g, st, took, step


@dataclass
class _NewtonRows:
    """Working set of :func:`_newton` (instances still iterating)."""

    pat: Any
    x: Array
    f: Array
    g: Array
    st: Array
    mu: Array
    its: Array
    hist: list[Array]

    def take(self, keep: Array) -> _NewtonRows:
        return _NewtonRows(self.pat.take(keep), self.x[keep], self.f[keep], self.g[keep], self.st[keep],
                           self.mu[keep], self.its[keep], [h[keep] for h in self.hist])


def _newton(pat: Any, alpha: Array, xp: Any, *, tol: float, max_iter: int = 40, patience: int = 6):
    """Semismooth Newton (Levenberg-Marquardt regularised, with line search) on the restricted semi-dual.

    The Levenberg parameter starts at 1e-3 ||g||_1 and adapts per instance: divided by 4 after a full step,
    multiplied by 1/step after a shortened one (kept in [1e-12, 1e12]).  (The Hessian is a graph
    Laplacian; along the shift of a connected component of the support it vanishes, and a fixed mu makes that
    step either far too long, wasting backtracking trials, or far too short, stalling.)

    Returns alpha, the transposed plan (B, n, m), the l1 residual ||a - T 1||_1 per instance and the Newton
    iterations used.  Converged instances leave the working set.  An instance whose residual has not halved
    over ``patience`` iterations, or whose line search or linear solve fails, is stopped: its pattern is
    (numerically) infeasible (its restricted semi-dual is unbounded) and its residual stays above ``tol``.
    """
    f, g, st = pat.eval(alpha)
    gn = xp.sum(xp.abs(g), axis=-1)
    out_x, out_st, out_res = xp.asarray(alpha, copy=True), xp.asarray(st, copy=True), xp.asarray(gn, copy=True)
    out_its = xp.zeros((alpha.shape[0],), dtype=xp.int64)
    live = (gn > tol) & xp.isfinite(gn)
    w = _NewtonRows(pat, alpha, f, g, st, 1e-3 * gn, out_its, [gn]).take(live)
    for it in range(max_iter):
        if w.x.shape[0] == 0:
            break
        d = _newton_direction(w.pat, w.st, w.g, w.mu, xp)
        w.x, w.f, w.g, w.st, took, step = _newton_linesearch(w.pat, w.x, w.f, w.g, w.st, d, xp)
        w.its = w.its + 1
        gn = xp.sum(xp.abs(w.g), axis=-1)
        w.mu = xp.clip(xp.where(step >= 1.0, 0.25 * w.mu, w.mu / step), 1e-12, 1e12)
        w.hist.append(gn)
        stop = (gn <= tol) | ~took
        if it + 1 >= patience:
            stop = stop | (gn > 0.5 * w.hist[-1 - patience])
        if it + 1 == max_iter:
            stop = xp.ones_like(stop)
        if bool(xp.any(stop)):
            rows = _expand(live, stop)
            _put(out_x, rows, w.x[stop])
            _put(out_st, rows, w.st[stop])
            _put(out_res, rows, gn[stop])
            _put(out_its, rows, w.its[stop])
            _put(live, live, ~stop)
            w = w.take(~stop)
    return out_x, pat.plan(out_st), out_res, out_its
