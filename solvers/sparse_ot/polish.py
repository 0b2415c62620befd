"""Primal polish (stage 3 of the overview in the package docstring of :mod:`solvers.sparse_ot`, which "the module
docstring" below refers to): an exactly feasible k-sparse plan near the dual solution, by exact restricted QROT on a
candidate support pattern followed by greedy sparsification of the columns with more than k nonzeros."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._arrays import Array, _topk_mask
from ._batch import _all, _Data, _put
from .objectives import _transpose
from .restricted_qrot import _newton, _pattern

_EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------------------------------------
# primal polish: exact QROT on a fixed support pattern, then greedy sparsification
# --------------------------------------------------------------------------------------------------------
def _polish(alpha: Array, data: _Data, xp: Any, *, feas_tol: float, max_rounds: int = 60):
    """Exactly feasible k-sparse plan near the dual solution (see the module docstring).

    1. candidate pattern: top-(k+2) entries of alpha - c_j per column (top-(k+4) if that is infeasible);
       exact restricted QROT there (feasible when alpha is close to optimal: it contains the tied supports);
    2. while a column has more than k nonzeros: remove, from a fraction of the over-full columns, their
       smallest entry and re-solve; on failure halve the fraction; when a single removal fails, try that
       column's next-smallest entry instead, and mark the column stuck when none works (retried after any
       later success).  An instance fails when every over-full column is stuck.

    Every restricted solve runs on the instances that still need it only.  Returns the transposed plan,
    the restricted potentials, success flags, and the numbers of solves and of Newton iterations.
    """
    B, n, m = data.Ct.shape
    k = data.k
    gam = xp.full((B,), data.gamma, dtype=xp.float64)
    Tt = xp.zeros((B, n, m), dtype=xp.float64)
    P = xp.zeros((B, n, m), dtype=xp.bool)
    alpha_out = xp.asarray(alpha, copy=True)
    res = xp.full((B,), math.inf, dtype=xp.float64)
    its = xp.zeros((B,), dtype=xp.int64)
    solves = xp.zeros((B,), dtype=xp.int64)
    todo = xp.ones((B,), dtype=xp.bool)
    for extra in (2, 4):
        K = min(k + extra, m)
        sub, al0 = data.take(todo), alpha[todo]
        P_K = _topk_mask(al0[:, None, :] - sub.Ct, K, xp)
        al, T_K, res_K, its_K = _newton(_pattern(P_K, K, sub, gam[todo]), al0, xp, tol=feas_tol, max_iter=80,
                                        patience=25)
        for arr, val in ((Tt, T_K), (P, P_K), (alpha_out, al), (res, res_K), (its, its[todo] + its_K),
                         (solves, solves[todo] + 1)):
            _put(arr, todo, val)
        todo = ~(res <= feas_tol)
        if not bool(xp.any(todo)) or K >= m:
            break
    state = _GreedyState(Tt, P, alpha_out, res, its, solves, ~(res <= feas_tol), xp)
    for _ in range(max_rounds):
        if not state.round(data, gam, min(k + 4, m), feas_tol):
            break
    nnz_final = xp.sum(xp.astype(state.Tt > 0, xp.int64), axis=-1)
    success = ~state.failed & ~xp.any(nnz_final > k, axis=-1) & (state.res <= feas_tol)
    if k < m and not _all(success, xp):  # the greedy ended in a dead end: the staircase fallback
        S = _staircase_support(data.a, data.b, xp)
        fb = ~success & xp.all(xp.sum(xp.astype(S, xp.int64), axis=-1) <= k, axis=-1)  # staircase within k
        if bool(xp.any(fb)):
            T_f, al_f, ok_f, solves_f, its_f = _staircase_polish(alpha[fb], S[fb], data.take(fb), gam[fb], xp,
                                                                 feas_tol=feas_tol)
            ok2 = ok_f[:, None]
            _put(state.Tt, fb, xp.where(ok2[..., None], T_f, state.Tt[fb]))
            _put(state.alpha, fb, xp.where(ok2, al_f, state.alpha[fb]))
            _put(state.its, fb, state.its[fb] + its_f)
            _put(state.solves, fb, state.solves[fb] + solves_f)
            _put(success, fb, ok_f)
    return _transpose(state.Tt, xp), state.alpha, success, state.solves, state.its


def _staircase_support(a: Array, b: Array, xp: Any) -> Array:
    """Support (B, n, m) of the north-west-corner plan of the marginals sorted in decreasing order.

    Rows and columns are laid out as consecutive intervals of [0, 1] of lengths a_i and b_j, largest first; column
    j meets the rows whose intervals overlap its own.  The plan T_ij = |overlap| is feasible (its marginals are the
    interval lengths), and since large columns meet large rows its columns have few rows (at most 3 on every
    Dirichlet(2) instance with m = n <= 50 tried).  Overlaps within round-off of the cumulative sums are ignored."""
    m, n = a.shape[1], b.shape[1]
    ia, ib = xp.argsort(-a, axis=-1, stable=True), xp.argsort(-b, axis=-1, stable=True)
    ca = xp.cumulative_sum(xp.take_along_axis(a, ia, axis=-1), axis=-1)
    cb = xp.cumulative_sum(xp.take_along_axis(b, ib, axis=-1), axis=-1)
    za, zb = xp.zeros_like(ca[:, :1]), xp.zeros_like(cb[:, :1])
    lo_a, lo_b = xp.concat((za, ca[:, :-1]), axis=-1), xp.concat((zb, cb[:, :-1]), axis=-1)
    overlap = (xp.minimum(ca[:, None, :], cb[:, :, None]) - xp.maximum(lo_a[:, None, :], lo_b[:, :, None]))
    S = overlap > 8.0 * (m + n) * _EPS  # (B, n sorted, m sorted)
    inv_a, inv_b = xp.argsort(ia, axis=-1, stable=True), xp.argsort(ib, axis=-1, stable=True)
    S = xp.take_along_axis(S, xp.broadcast_to(inv_b[:, :, None], S.shape), axis=-2)
    return xp.take_along_axis(S, xp.broadcast_to(inv_a[:, None, :], S.shape), axis=-1)


def _staircase_polish(alpha: Array, S: Array, data: _Data, gam: Array, xp: Any, *, feas_tol: float,
                      max_rounds: int = 120):
    """Fallback of :func:`_polish` for the instances where the greedy failed and whose sorted staircase support
    ``S`` (:func:`_staircase_support`, feasible) has at most k rows per column.

    The greedy is rerun from the top-(k+2) pattern joined with S, with the entries of S protected from removal:
    every pattern it visits contains S, hence is feasible, and a column with more than k positive entries always
    has an unprotected one (S has <= k per column), so it reaches a k-sparse plan while following the costs.
    Where that fails numerically, the plain completion of S (every column filled up to k entries by the rows of
    least reduced cost ``c_ij - alpha_i``) is solved instead.  The patterns can be nearly degenerate (potentials
    far apart): the Newton budget is 300 iterations, patience 100 (80 / 25 stopped 2/3 of the plain solves short
    of the 1e-9 residual; 300 / 100 none).  Returns the transposed plan, the potentials, success flags and the
    numbers of restricted solves and Newton iterations."""
    B, n, m = data.Ct.shape
    k = data.k
    budget = {"max_iter": 300, "patience": 100}
    K = min(k + 2, m)
    P0 = _topk_mask(alpha[:, None, :] - data.Ct, K, xp) | S
    Kp = min(K + k, m)
    al, Tt, res, its = _newton(_pattern(P0, Kp, data, gam), alpha, xp, tol=feas_tol, **budget)
    state = _GreedyState(Tt, P0, al, res, its, xp.ones((B,), dtype=xp.int64), ~(res <= feas_tol), xp,
                         protect=S, budget=(budget["max_iter"], budget["patience"]))
    for _ in range(max_rounds):
        if not state.round(data, gam, Kp, feas_tol):
            break
    nnz = xp.sum(xp.astype(state.Tt > 0, xp.int64), axis=-1)
    ok = ~state.failed & ~xp.any(nnz > k, axis=-1) & (state.res <= feas_tol)
    if not _all(ok, xp):  # the plain completion of the staircase
        bad = ~ok
        Sb, sub, alb = S[bad], data.take(bad), alpha[bad]
        deg = xp.sum(xp.astype(Sb, xp.int64), axis=-1)
        score = xp.where(Sb, math.inf, sub.Ct - alb[:, None, :])
        rank = xp.argsort(xp.argsort(score, axis=-1, stable=True), axis=-1, stable=True)
        P = Sb | ((rank < xp.maximum(k - deg, 0)[..., None]) & (score < math.inf))
        al_c, Tt_c, res_c, its_c = _newton(_pattern(P, k, sub, gam[bad]), alb, xp, tol=feas_tol, **budget)
        for arr, val in ((state.Tt, Tt_c), (state.alpha, al_c), (state.its, state.its[bad] + its_c),
                         (state.solves, state.solves[bad] + 1), (ok, res_c <= feas_tol)):
            _put(arr, bad, val)
    return state.Tt, state.alpha, ok, state.solves, state.its


class _GreedyState:
    """State of the greedy sparsification of :func:`_polish` (full batch; each round works on the instances
    that still have over-full columns)."""

    def __init__(self, Tt: Array, P: Array, alpha: Array, res: Array, its: Array, solves: Array, failed: Array,
                 xp: Any, protect: Array | None = None, budget: tuple[int, int] = (40, 6)):
        B, n, _ = Tt.shape
        self.Tt, self.P, self.alpha, self.res, self.its, self.solves, self.failed = Tt, P, alpha, res, its, solves, \
            failed
        self.frac = xp.full((B,), 0.5, dtype=xp.float64)
        self.offset = xp.zeros((B, n), dtype=xp.int64)  # which-smallest positive entry to remove next, per column
        self.stuck = xp.zeros((B, n), dtype=xp.bool)
        self.xp = xp
        self.protect, self.budget = protect, budget  # entries never removed (the fallback's staircase); Newton budget

    def round(self, data: _Data, gam: Array, K: int, feas_tol: float) -> bool:
        """One removal round; returns False when no instance has work left."""
        xp, k = self.xp, data.k
        nnz = xp.sum(xp.astype(self.Tt > 0, xp.int64), axis=-1)
        over = (nnz > k) & ~self.stuck
        self.failed = self.failed | (xp.any(nnz > k, axis=-1) & ~xp.any(over, axis=-1))
        work = xp.any(over, axis=-1) & ~self.failed
        if not bool(xp.any(work)):
            return False
        Tw, nnzw, overw, ow, fw = self.Tt[work], nnz[work], over[work], self.offset[work], self.frac[work]
        Pw = self.P[work] & (Tw > 0)
        prot = None if self.protect is None else self.protect[work]
        if prot is not None:  # only unprotected entries can be removed: count those
            nnzw = xp.sum(xp.astype((Tw > 0) & ~prot, xp.int64), axis=-1)
            Pw = Pw | (self.P[work] & prot)
        chosen, drop_row, n_drop = _choose_removals(Tw, nnzw, overw, ow, fw, data.b[work], xp, prot)
        rows = xp.arange(Tw.shape[-1])
        P_try = Pw & ~(chosen[..., None] & (rows[None, None, :] == drop_row[..., None]))
        al_t, Tt_t, res_t, its_t = _newton(_pattern(P_try, K, data.take(work), gam[work]), self.alpha[work], xp,
                                           tol=feas_tol, max_iter=self.budget[0], patience=self.budget[1])
        good = res_t <= feas_tol
        g1, g2, g3 = good[:, None], good[:, None, None], ~good[:, None]
        _put(self.alpha, work, xp.where(g1, al_t, self.alpha[work]))
        _put(self.Tt, work, xp.where(g2, Tt_t, Tw))
        _put(self.P, work, xp.where(g2, P_try, Pw))
        _put(self.res, work, xp.where(good, res_t, self.res[work]))
        _put(self.its, work, self.its[work] + its_t)
        _put(self.solves, work, self.solves[work] + 1)
        _put(self.frac, work, xp.where(good, xp.minimum(fw * 2.0, 1.0), fw / 4.0))
        single_fail = (g3 & (n_drop <= 1)[:, None]) & chosen
        ow = xp.where(single_fail, ow + 1, ow)
        _put(self.stuck, work, (self.stuck[work] | (single_fail & (ow >= nnzw))) & g3)
        _put(self.offset, work, xp.where(g1, 0, ow))
        return True


def _choose_removals(Tw: Array, nnz: Array, over: Array, offset: Array, frac: Array, b: Array, xp: Any,
                     protect: Array | None = None):
    """For each over-full column, its ``offset``-th smallest positive entry; the fraction ``frac`` of the
    over-full columns with the smallest such entries (relative to b_j) is chosen (at least one).  Entries in
    ``protect`` are never chosen (``nnz`` then counts the unprotected positive entries)."""
    Tm = xp.where((Tw > 0) if protect is None else (Tw > 0) & ~protect, Tw, math.inf)
    order_m = xp.argsort(Tm, axis=-1, stable=True)
    pick = xp.minimum(offset, nnz - 1)[..., None]
    drop_row = xp.take_along_axis(order_m, pick, axis=-1)[..., 0]  # (B, n)
    drop_val = xp.take_along_axis(Tm, drop_row[..., None], axis=-1)[..., 0] / b
    key = xp.where(over, drop_val, math.inf)
    rank = xp.argsort(xp.argsort(key, axis=-1, stable=True), axis=-1, stable=True)
    n_over = xp.sum(xp.astype(over, xp.int64), axis=-1)
    n_drop = xp.maximum(xp.astype(xp.ceil(frac * xp.astype(n_over, frac.dtype)), xp.int64), 1)
    return over & (rank < n_drop[:, None]), drop_row, n_drop
