"""The k = 1 refinement (stage 2 of the overview in the package docstring of :mod:`solvers.sparse_ot`): raises the
piecewise-linear k = 1 semi-dual to its exact LP maximum by exact quadratic regularisation (semismooth Newton on
QROT(eps) for decreasing eps) and a Bellman-Ford crossover to complementary-slackness potentials, and certifies the
instances whose dual value there matches the primal value of the QROT plan."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._arrays import Array
from ._batch import _Data, _put
from .objectives import _semi_dual_fg
from .restricted_qrot import _DensePattern, _newton

_EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------------------------------------
# k = 1: exact LP value by exact quadratic regularisation and a Bellman-Ford crossover
# --------------------------------------------------------------------------------------------------------
_K1_LEVELS = tuple(3.0 ** -i for i in range(25))  # eps / (n range(C)) of the continuation


def _crossover_k1(alpha: Array, Tt: Array, Ct: Array, xp: Any) -> Array:
    """Largest potentials below ``alpha`` for which every entry of supp(T) is a column maximum of alpha - c_j.

    Difference constraints ``alpha_l - c_lj <= tau_j`` (all l, j) and ``alpha_i - c_ij >= tau_j`` on supp(T),
    solved by Bellman-Ford relaxation from (alpha, max_i alpha_i - c_ij).  When T is an optimal transport plan
    (with exact marginals) such potentials exist and the k = 1 semi-dual at them equals <T, C> + const exactly
    (complementary slackness); otherwise (a negative cycle) the iteration cap stops it.  Instances stop as soon
    as they no longer move (to round-off), independently of each other.
    """
    B, n, m = Ct.shape
    out = xp.asarray(alpha, copy=True)
    live = xp.ones((B,), dtype=xp.bool)
    supp, C = Tt > 0, Ct
    tau = xp.max(alpha[:, None, :] - C, axis=-1)
    for _ in range(m + n + 2):  # Bellman-Ford: at most |V| - 1 rounds without a negative cycle
        tau_new = xp.minimum(tau, xp.min(xp.where(supp, alpha[:, None, :] - C, math.inf), axis=-1))
        alpha_new = xp.minimum(alpha, xp.min(tau_new[:, :, None] + C, axis=-2))
        scale = 1.0 + xp.max(xp.abs(alpha), axis=-1)
        moved = xp.max(alpha - alpha_new, axis=-1) > 8 * _EPS * scale
        _put(out, live, alpha_new)
        if not bool(xp.any(moved)):
            break
        _put(live, live, moved)
        alpha, tau, supp, C = alpha_new[moved], tau_new[moved], supp[moved], C[moved]
    return out


class _K1Best:
    """Best k = 1 semi-dual value seen per instance, its potentials, and the certified flags (full batch)."""

    def __init__(self, alpha: Array, data: _Data):
        xp = data.xp
        self.data, self.xp = data, xp
        self.alpha, self.value = xp.asarray(alpha, copy=True), self.s1(alpha, data)
        rng = xp.max(data.Ct, axis=(-2, -1)) - xp.min(data.Ct, axis=(-2, -1))
        self.rng = xp.where(rng > 0, rng, 1.0)
        self.const = (data.gamma / 2.0) * xp.sum(data.b * data.b, axis=-1)
        self.certified = xp.zeros((alpha.shape[0],), dtype=xp.bool)
        self.plan = xp.zeros(data.Ct.shape, dtype=data.Ct.dtype)  # transposed QROT plan of the certificate
        self.plan_ok = xp.zeros((alpha.shape[0],), dtype=xp.bool)

    @staticmethod
    def s1(al: Array, d: _Data) -> Array:
        return _semi_dual_fg(al, d.a, d.b, d.Ct, d.gamma, 1, d.xp)[0]

    def level(self, live: Array, start: Array, rel: float, *, max_iter: int, patience: int, crossover: bool):
        """QROT(eps = rel range(C)) from ``start`` on the instances ``live``, then (``crossover``) the
        complementary-slackness potentials and the certificate; returns the QROT potentials."""
        xp, n, m = self.xp, self.data.Ct.shape[1], self.data.Ct.shape[2]
        sub = self.data.take(live)
        tol = max(1e-12, 16.0 * (m + n) * _EPS / rel)  # round-off floor of the residual of QROT(eps)
        al, Tt, res, _ = _newton(_DensePattern(None, sub, rel * self.rng[live]), start, xp, tol=tol,
                                 max_iter=max_iter, patience=patience)
        if not crossover:
            return al
        al_c = _crossover_k1(al, Tt, sub.Ct, xp)
        v_c = self.s1(al_c, sub)
        for cand, v in ((al, self.s1(al, sub)), (al_c, v_c)):
            better = v > self.value[live]
            _put(self.alpha, live, xp.where(better[:, None], cand, self.alpha[live]))
            _put(self.value, live, xp.where(better, v, self.value[live]))
        primal = xp.sum(Tt * sub.Ct, axis=(-2, -1)) + self.const[live]
        gap = primal + res * self.rng[live] - v_c
        scale = xp.maximum(xp.abs(primal), 1.0)
        _put(self.certified, live, (res <= tol) & (gap <= 1e-10 * scale))
        # the LP plan: optimal to 1e-9 with marginals met to 1e-9 (the certificate asks 1e-10 of the gap including
        # the residual term, which a residual plateau of ~2e-10 at the last levels can miss)
        near = (res <= 1e-9) & (gap <= 1e-9 * scale)
        _put(self.plan, live, xp.where(near[:, None, None], Tt, self.plan[live]))
        _put(self.plan_ok, live, near | self.plan_ok[live])
        return al


def _refine_k1(alpha: Array, data: _Data, xp: Any, *, max_newton: int = 100):
    """Raise the k = 1 semi-dual (an LP dual: unregularised OT plus a constant) to its exact maximum.

    QROT with regularisation eps is an *exact* regularisation of OT (Mangasarian & Meyer 1979; Friedlander &
    Tseng 2007): for eps below a threshold its plan is an optimal OT plan.  After solving QROT(eps) by
    semismooth Newton, :func:`_crossover_k1` computes complementary-slackness potentials on the support of its
    plan; the semi-dual value there is a dual value, and when it matches the primal value of the QROT plan (to
    1e-10 plus the plan's residual) the instance is certified optimal.

    1. one attempt at eps = 1e-2 range(C), warm-started from the quasi-Newton potentials (enough for most uniform
       marginals);
    2. for the others, continuation from eps = n range(C) (dense supports; from alpha = 0) down by factors of
       3 to 1e-5 range(C), with the crossover from eps <= 1e-2 range(C) on; instances leave when certified.

    Returns the potentials with the largest semi-dual value among the input and all candidates (so the value
    never decreases), that value, the certified flags, the transposed (B, n, m) QROT plan of the last level whose
    plan was within 1e-9 of the crossover dual value with marginals met to 1e-9: an optimal plan of the k = 1 LP
    ``min_{T in U(a,b)} <T, C> + (gamma/2)||b||^2`` to that accuracy, and the flags of the instances that have one.
    """
    B, n, m = data.Ct.shape
    best = _K1Best(alpha, data)
    live = xp.ones((B,), dtype=xp.bool)
    best.level(live, alpha, 1e-2, max_iter=30, patience=10, crossover=True)
    live = ~best.certified
    cur = xp.zeros(alpha.shape, dtype=alpha.dtype)
    for level in _K1_LEVELS:
        rel = level * n  # eps / range(C)
        if rel < 1e-5 or not bool(xp.any(live)):
            break
        al = best.level(live, cur[live], rel, max_iter=max_newton, patience=40, crossover=rel <= 0.011)
        _put(cur, live, al)
        live = ~best.certified & live
    return best.alpha, best.value, best.certified, best.plan, best.plan_ok
