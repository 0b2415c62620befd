"""Batched maximum-likelihood estimation of linear multinomial-logit choice models (Bradley-Terry-Luce pairs,
Plackett-Luce rankings), written against the Python array API.

Model
-----
Each of ``R`` replicates holds ``m`` choice events. In event ``j`` one alternative is chosen among itself and
``S - 1`` rivals; with features ``phi`` and a linear reward ``theta^T phi`` the chosen one wins with probability

    P(choice_j) = 1 / (1 + sum_k exp(theta^T D_jk)),        D_jk = phi(rival_k) - phi(choice_j).

A Bradley-Terry-Luce comparison is one event with one rival (``P = sigmoid(theta^T (phi_win - phi_lose))``); a
Plackett-Luce ranking of ``K`` items is ``K - 1`` events (the top item out of all, the second out of the rest,
...), built by :func:`ranking_events`; :func:`ranking_pairs` splits a ranking into its ``K (K - 1) / 2`` pairwise
comparisons instead. The estimator minimises the *unnormalised* negative log-likelihood

    F(theta) = sum_j w_j log(1 + sum_k mask_jk exp(theta^T D_jk))

(``w_j`` are counts, so sufficient statistics of repeated comparisons can be passed as weights) over
``theta = U beta`` with an orthonormal ``basis`` U (d x p, e.g. of the hyperplane <1, theta> = 0) and, when
``radius`` B is given, ``||beta|| <= B`` (= ||theta||, since U is orthonormal): the parameter set
Theta_B = {<1, theta> = 0, ||theta|| <= B} of Zhu, Jordan, Jiao (ICML 2023) when U spans 1^perp.

Algorithm
---------
* Phase 1: damped Newton on F from beta = 0, strictly inside the ball (backtracking halves a step until it is
  feasible and satisfies Armijo's condition). A replicate is done when its Newton decrement
  lambda^2 = g^T H^{-1} g falls to ``2 tol``: F is convex, so a stationary point inside the ball is the
  constrained minimiser.
* Phase 2, for the replicates that did not converge inside the ball (the minimiser lies on the sphere, or
  F has no minimiser at all, as with separable data): the log-barrier method on t F(beta) - log(B^2 -
  ||beta||^2), t multiplied by 10 from 1 to 1 / ``gap``; each centring is the same damped Newton. With one
  constraint the centred point is within 1 / t of the constrained optimum in objective, so the final
  optimality gap is ``gap`` (absolute, in units of the unnormalised F).
* Hessian: sum_j w_j (sum_k p_jk D_jk D_jk^T - g_j g_j^T), g_j = sum_k p_jk D_jk (one batched matmul each); for
  pairs the weight p (1 - p) is formed from two sigmoids, without cancellation. A ridge of 1e-12 of the trace
  keeps the Newton system solvable when a direction is unobserved.

Replicates are a leading batch axis; the Python loops run over Newton iterations and halvings only, on the
subset of replicates still active.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from boundlab.backends import to_numpy
from boundlab.errors import UsageError

Array = Any
Namespace = Any

__all__ = [
    "ChoiceFit",
    "choice_nll",
    "fit_btl_mle",
    "fit_choice_mle",
    "ranking_events",
    "ranking_pairs",
    "sum_zero_basis",
]

_ARMIJO = 1e-4
_MAX_HALVINGS = 60
_RIDGE = 1e-12
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class ChoiceFit:
    """The fitted parameters ``theta`` (R, d), the minimal unnormalised negative log-likelihood ``nll`` (R,),
    whether each replicate's minimiser lies on the sphere ||theta|| = B (``on_boundary``, found by the barrier
    phase), whether it converged (``converged``), and the Newton iterations used in total."""

    theta: Array
    nll: Array
    on_boundary: Array
    converged: Array
    iterations: int


def sum_zero_basis(d: int) -> np.ndarray:
    """An orthonormal basis (d, d - 1) of the hyperplane <1, theta> = 0 (Helmert contrasts, normalised)."""
    if not isinstance(d, int | np.integer) or d < 2:
        raise UsageError(f"d must be an integer >= 2 (the hyperplane <1, theta> = 0 of R^1 is {{0}}), got {d!r}.")
    basis = np.zeros((d, d - 1))
    for k in range(1, d):
        basis[:k, k - 1] = 1.0
        basis[k, k - 1] = -float(k)
        basis[:, k - 1] /= math.sqrt(k * (k + 1))
    return basis


def _check_array(name: str, a: Array, ndim: int, xp: Namespace) -> None:
    if getattr(a, "ndim", None) != ndim:
        raise UsageError(f"{name} must be a {ndim}-D array, got shape {getattr(a, 'shape', None)}.")
    if not xp.all(xp.isfinite(a)):
        raise UsageError(f"{name} must be finite (no NaN or inf).")


def _validate(rivals: Array, weights: Array | None, mask: Array | None, radius: float | None,
              basis: Array | None, tol: float, gap: float, max_iter: int, xp: Namespace) -> None:
    _check_array("rivals", rivals, 4, xp)
    R, m, S1, d = rivals.shape
    if R < 1 or m < 1 or S1 < 1 or d < 1:
        raise UsageError(f"rivals must have shape (replicates, events, rivals, d) with every size >= 1, got "
                         f"{rivals.shape}.")
    if weights is not None:
        _check_array("weights", weights, 2, xp)
        if tuple(weights.shape) != (R, m):
            raise UsageError(f"weights must have shape (replicates, events) = {(R, m)}, got {weights.shape}.")
        if xp.any(weights < 0):
            raise UsageError("weights must be >= 0 (counts of each choice event).")
    if mask is not None:
        if tuple(getattr(mask, "shape", ())) != (R, m, S1) or mask.dtype != xp.bool:
            raise UsageError(f"mask must be a boolean array of shape (replicates, events, rivals) = {(R, m, S1)}, "
                             f"got {getattr(mask, 'dtype', None)} {getattr(mask, 'shape', None)}.")
    if radius is not None and not (isinstance(radius, int | float) and math.isfinite(radius) and radius > 0):
        raise UsageError(f"radius must be a finite number > 0 (the bound B on ||theta||) or None, got {radius!r}.")
    if basis is not None:
        _check_array("basis", basis, 2, xp)
        if basis.shape[0] != d or basis.shape[1] < 1 or basis.shape[1] > d:
            raise UsageError(f"basis must have shape (d, p) with d = {d} and 1 <= p <= d, got {basis.shape}.")
        gram = xp.matmul(xp.permute_dims(basis, (1, 0)), basis)
        if float(xp.max(xp.abs(gram - xp.eye(basis.shape[1], dtype=basis.dtype)))) > 1e-10:
            raise UsageError("basis must have orthonormal columns (U^T U = I to 1e-10).")
    for name, value in (("tol", tol), ("gap", gap)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a finite number > 0, got {value!r}.")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise UsageError(f"max_iter must be an integer >= 1, got {max_iter!r}.")


class _Problem:
    """The objective t F(beta) + b (-log(B^2 - ||beta||^2)) on a subset of replicates, with its derivatives."""

    def __init__(self, Z: Array, w: Array, mask: Array | None, radius: float | None, xp: Namespace) -> None:
        self.Z, self.w, self.mask, self.radius, self.xp = Z, w, mask, radius, xp  # Z: (R, m, S1, p)

    def take(self, idx: Array) -> _Problem:
        xp = self.xp
        mask = None if self.mask is None else xp.take(self.mask, idx, axis=0)
        return _Problem(xp.take(self.Z, idx, axis=0), xp.take(self.w, idx, axis=0), mask, self.radius, xp)

    def _scores(self, beta: Array) -> Array:
        return xp_matvec(self.xp, self.Z, beta)  # (R, m, S1)

    def nll(self, beta: Array) -> Array:
        """F(beta) per replicate (unnormalised)."""
        xp = self.xp
        z = self._scores(beta)
        if z.shape[2] == 1 and self.mask is None:
            z1 = z[:, :, 0]
            per_event = xp.maximum(z1, 0.0) + xp.log1p(xp.exp(-xp.abs(z1)))
        else:
            if self.mask is not None:
                z = xp.where(self.mask, z, xp.full_like(z, -math.inf))
            top = xp.maximum(xp.max(z, axis=2), 0.0)
            per_event = top + xp.log(xp.exp(-top) + xp.sum(xp.exp(z - top[:, :, None]), axis=2))
        return xp.sum(self.w * per_event, axis=1)

    def barrier(self, beta: Array) -> Array:
        xp = self.xp
        slack = self.radius**2 - xp.sum(beta * beta, axis=1)
        safe = xp.where(slack > 0, slack, xp.ones_like(slack))
        return xp.where(slack > 0, -xp.log(safe), xp.full_like(slack, math.inf))

    def value(self, beta: Array, t: float, b: float) -> Array:
        v = t * self.nll(beta)
        return v + b * self.barrier(beta) if b else v

    def derivatives(self, beta: Array, t: float, b: float) -> tuple[Array, Array]:
        """Gradient (R, p) and Hessian (R, p, p) of the objective."""
        xp = self.xp
        Z, w = self.Z, self.w
        z = self._scores(beta)
        R, m, S1, p = Z.shape
        if S1 == 1 and self.mask is None:
            z1 = z[:, :, 0]
            prob = 1.0 / (1.0 + xp.exp(-z1))                     # sigmoid(z): the rival's probability
            curv = prob * (1.0 / (1.0 + xp.exp(z1)))              # p (1 - p) from two sigmoids
            D = Z[:, :, 0, :]
            grad = xp.sum((w * prob)[:, :, None] * D, axis=1)
            A = xp.sqrt(w * curv)[:, :, None] * D
            hess = xp.matmul(xp.permute_dims(A, (0, 2, 1)), A)
        else:
            if self.mask is not None:
                z = xp.where(self.mask, z, xp.full_like(z, -math.inf))
            top = xp.maximum(xp.max(z, axis=2), 0.0)
            e = xp.exp(z - top[:, :, None])
            prob = e / (xp.exp(-top) + xp.sum(e, axis=2))[:, :, None]  # (R, m, S1), 0 where masked
            g_event = xp.sum(prob[:, :, :, None] * Z, axis=2)           # (R, m, p)
            grad = xp.sum(w[:, :, None] * g_event, axis=1)
            A = xp.reshape(xp.sqrt(w[:, :, None] * prob)[:, :, :, None] * Z, (R, m * S1, p))
            G = xp.sqrt(w)[:, :, None] * g_event
            hess = (xp.matmul(xp.permute_dims(A, (0, 2, 1)), A)
                    - xp.matmul(xp.permute_dims(G, (0, 2, 1)), G))
        grad, hess = t * grad, t * hess
        if b:
            slack = self.radius**2 - xp.sum(beta * beta, axis=1)
            grad = grad + b * 2.0 * beta / slack[:, None]
            outer = beta[:, :, None] * beta[:, None, :]
            hess = (hess + b * (2.0 / slack)[:, None, None] * xp.eye(p, dtype=beta.dtype)[None, :, :]
                    + b * (4.0 / slack**2)[:, None, None] * outer)
        return grad, hess


def xp_matvec(xp: Namespace, Z: Array, beta: Array) -> Array:
    """Z (R, m, S1, p) times beta (R, p) -> (R, m, S1)."""
    R, m, S1, p = Z.shape
    flat = xp.reshape(Z, (R, m * S1, p))
    return xp.reshape(xp.matmul(flat, beta[:, :, None]), (R, m, S1))


def _newton(problem: _Problem, beta: Array, t: float, b: float, tol: float, max_iter: int,
            leave_when_blocked: bool = False) -> tuple[Array, Array, int]:
    """Damped Newton on the objective (strictly inside the ball when a radius is set) for every replicate of
    ``problem``; returns (beta, converged, iterations). Replicates leave the loop as they converge."""
    xp = problem.xp
    R, p = beta.shape
    converged = xp.zeros((R,), dtype=xp.bool)
    active = xp.arange(R)
    iterations = 0
    sub = problem
    for _ in range(max_iter):
        if active.shape[0] == 0:
            break
        iterations += 1
        b_act = xp.take(beta, active, axis=0)
        grad, hess = sub.derivatives(b_act, t, b)
        scale = xp.sum(xp.abs(xp.linalg.diagonal(hess)), axis=1) / p
        ridge = _RIDGE * scale + 1e-300
        step = -xp.linalg.solve(hess + ridge[:, None, None] * xp.eye(p, dtype=beta.dtype)[None, :, :],
                                grad[:, :, None])[:, :, 0]
        decrement = -xp.sum(grad * step, axis=1)                   # lambda^2 = g^T H^{-1} g
        done = decrement <= 2.0 * tol * t
        f0 = sub.value(b_act, t, b)
        # Below the round-off of the objective's value a decrease cannot be certified: there (lambda^2 / 2 under
        # 1e3 eps |f|, deep inside Newton's quadratic region) the step is taken without Armijo's test.
        certifiable = decrement > 2e3 * _EPS * (xp.abs(f0) + 1.0)
        alpha = xp.ones_like(decrement)
        accepted = done
        new = b_act
        blocked = xp.zeros_like(done)
        for halving in range(_MAX_HALVINGS):
            trial = b_act + alpha[:, None] * step
            feasible = xp.ones_like(done) if problem.radius is None else (
                xp.sum(trial * trial, axis=1) < problem.radius**2)
            if halving == 0:
                blocked = ~feasible
            ft = sub.value(trial, t, b)
            decrease = (ft <= f0 - _ARMIJO * alpha * decrement) | ~certifiable
            ok = feasible & decrease & ~accepted
            new = xp.where(ok[:, None], trial, new)
            accepted = accepted | ok
            if bool(xp.all(accepted)):
                break
            alpha = xp.where(accepted, alpha, alpha * 0.5)
        stalled = ~accepted                                           # no decrease found: at round-off
        finished = done | stalled
        if leave_when_blocked:
            # phase 1: a full Newton step leaving the ball means the minimiser may lie on the sphere; the
            # barrier phase takes over (it is exact for interior minimisers too)
            new = xp.where(blocked[:, None], b_act, new)
            finished = finished | blocked
            done = done & ~blocked
            stalled = stalled & ~blocked
        conv_now = done | stalled
        beta = _scatter(xp, beta, active, new)
        converged = _scatter(xp, converged, active, conv_now)
        keep = xp.nonzero(~finished)[0]
        active = xp.take(active, keep, axis=0)
        sub = sub.take(keep)
    return beta, converged, iterations


def _scatter(xp: Namespace, full: Array, idx: Array, values: Array) -> Array:
    """``full`` with rows ``idx`` replaced by ``values``, by a gather (the array API has no integer-array
    assignment): the index bookkeeping is done on the host, the data stay on the backend."""
    n = full.shape[0]
    where = np.arange(n)
    where[np.asarray(to_host(idx), dtype=np.int64)] = n + np.arange(values.shape[0])
    both = xp.concat([full, xp.astype(values, full.dtype)], axis=0)
    return xp.take(both, xp.asarray(where), axis=0)


def to_host(a: Array) -> np.ndarray:
    """A small index array as NumPy (any backend, CuPy included)."""
    return to_numpy(a)


def fit_choice_mle(rivals: Array, weights: Array | None = None, *, mask: Array | None = None,
                   radius: float | None = None, basis: Array | None = None, xp: Namespace | None = None,
                   tol: float = 1e-12, gap: float = 1e-10, max_iter: int = 100) -> ChoiceFit:
    """The constrained MLE of a linear choice model for every replicate (see the module docstring).

    ``rivals`` (R, m, S - 1, d): phi(rival) - phi(choice) per event; ``weights`` (R, m): event counts (default
    1); ``mask`` (R, m, S - 1): which rivals exist (for events with fewer alternatives); ``radius``: B in
    ||theta|| <= B (None: unconstrained; on separable data F has no minimiser, the iterates then run off to
    infinity and stop, ``converged``, once F is within ``tol`` of its infimum: only a radius makes the MLE exist);
    ``basis`` (d, p): orthonormal, theta = basis @ beta (None: the identity). ``tol`` bounds half the Newton
    decrement (interior solutions), ``gap`` the barrier phase's optimality gap, both in units of the
    unnormalised negative log-likelihood.
    """
    xp = array_api_compat.array_namespace(rivals) if xp is None else xp
    _validate(rivals, weights, mask, radius, basis, tol, gap, max_iter, xp)
    R, m, S1, d = rivals.shape
    dtype = rivals.dtype
    U = xp.eye(d, dtype=dtype) if basis is None else xp.asarray(basis, dtype=dtype)
    p = U.shape[1]
    Z = xp.reshape(xp.matmul(xp.reshape(rivals, (R * m * S1, d)), U), (R, m, S1, p))
    w = xp.ones((R, m), dtype=dtype) if weights is None else xp.asarray(weights, dtype=dtype)
    problem = _Problem(Z, w, mask, radius, xp)
    beta0 = xp.zeros((R, p), dtype=dtype)
    beta, converged, iterations = _newton(problem, beta0, 1.0, 0.0, tol, max_iter,
                                          leave_when_blocked=radius is not None)
    on_boundary = xp.zeros((R,), dtype=xp.bool)
    if radius is not None:
        todo = xp.nonzero(~converged)[0]
        if todo.shape[0] > 0:
            sub = problem.take(todo)
            b_sub = xp.take(beta, todo, axis=0)
            norm = xp.sqrt(xp.sum(b_sub * b_sub, axis=1))
            b_sub = b_sub * xp.minimum(1.0, 0.5 * radius / xp.maximum(norm, 1e-300))[:, None]
            t = 1.0
            ok = xp.ones((todo.shape[0],), dtype=xp.bool)
            while True:
                b_sub, conv, its = _newton(sub, b_sub, t, 1.0, tol, max_iter)
                ok = ok & conv
                iterations += its
                if t >= 1.0 / gap:
                    break
                t = min(t * 10.0, 1.0 / gap)
            beta = _scatter(xp, beta, todo, b_sub)
            converged = _scatter(xp, converged, todo, ok)
            norm = xp.sqrt(xp.sum(b_sub * b_sub, axis=1))
            on_boundary = _scatter(xp, on_boundary, todo, norm >= radius * (1.0 - 1e-6))
    theta = xp.matmul(beta, xp.permute_dims(U, (1, 0)))
    return ChoiceFit(theta=theta, nll=problem.nll(beta), on_boundary=on_boundary, converged=converged,
                     iterations=iterations)


def choice_nll(theta: Array, rivals: Array, weights: Array | None = None, *, mask: Array | None = None,
               xp: Namespace | None = None) -> Array:
    """The unnormalised negative log-likelihood F(theta) (R,) of the choice events at parameters theta (R, d)."""
    xp = array_api_compat.array_namespace(rivals) if xp is None else xp
    _validate(rivals, weights, mask, None, None, 1.0, 1.0, 1, xp)
    _check_array("theta", theta, 2, xp)
    R, m, S1, d = rivals.shape
    if tuple(theta.shape) != (R, d):
        raise UsageError(f"theta must have shape (replicates, d) = {(R, d)}, got {theta.shape}.")
    w = xp.ones((R, m), dtype=rivals.dtype) if weights is None else weights
    return _Problem(rivals, w, mask, None, xp).nll(theta)


def fit_btl_mle(differences: Array, weights: Array | None = None, **kwargs: Any) -> ChoiceFit:
    """Bradley-Terry-Luce MLE from ``differences`` (R, m, d) = phi(winner) - phi(loser) of each comparison:
    maximises sum_j w_j log sigmoid(theta^T x_j). Keyword arguments as :func:`fit_choice_mle`."""
    xp = kwargs.get("xp") or array_api_compat.array_namespace(differences)
    if getattr(differences, "ndim", None) != 3:
        raise UsageError(f"differences must be a 3-D array (replicates, comparisons, d), got shape "
                         f"{getattr(differences, 'shape', None)}.")
    return fit_choice_mle(-differences[:, :, None, :], weights, **{**kwargs, "xp": xp})


def _check_rankings(features: Array, rankings: Array, xp: Namespace) -> tuple[int, int, int, int]:
    _check_array("features", features, 4, xp)
    R, n, K, d = features.shape
    if K < 2:
        raise UsageError(f"features must hold K >= 2 items per query (axis 2), got K = {K}.")
    if tuple(getattr(rankings, "shape", ())) != (R, n, K) or not xp.isdtype(rankings.dtype, "integral"):
        raise UsageError(f"rankings must be an integer array of shape (replicates, queries, K) = {(R, n, K)}, got "
                         f"{getattr(rankings, 'dtype', None)} {getattr(rankings, 'shape', None)}.")
    ordered = xp.sort(rankings, axis=2)
    if not bool(xp.all(ordered == xp.arange(K)[None, None, :])):
        raise UsageError("rankings must be permutations of 0..K-1 (best item first) in every query.")
    return R, n, K, d


def _ordered(features: Array, rankings: Array, xp: Namespace) -> Array:
    """features reordered best first: out[r, i, j] = features[r, i, rankings[r, i, j]]."""
    R, n, K, d = features.shape
    onehot = xp.astype(rankings[:, :, :, None] == xp.arange(K)[None, None, None, :], features.dtype)  # (R,n,K,K)
    return xp.matmul(onehot, features)


def ranking_events(features: Array, rankings: Array, xp: Namespace | None = None) -> tuple[Array, Array]:
    """The Plackett-Luce likelihood of K-item rankings as K - 1 choice events per query.

    ``features`` (R, n, K, d); ``rankings`` (R, n, K): item indices, best first. Returns ``rivals`` (R, n (K - 1),
    K - 1, d) and ``mask`` (R, n (K - 1), K - 1): event j of a query chooses its j-th ranked item over the items
    ranked below it (K - 1 - j rivals, the rest masked) - the factor exp(r_j) / sum_{k >= j} exp(r_k).
    """
    xp = array_api_compat.array_namespace(features) if xp is None else xp
    R, n, K, d = _check_rankings(features, rankings, xp)
    ranked = _ordered(features, rankings, xp)                                   # (R, n, K, d)
    # rivals of event j: items j+1 .. K-1, placed in slots 0 .. K-2-j
    slot = xp.arange(K - 1)
    blocks, masks = [], []
    for j in range(K - 1):
        idx = xp.clip(slot + j + 1, max=K - 1)
        rival = xp.take(ranked, idx, axis=2) - ranked[:, :, j:j + 1, :]
        valid = slot < K - 1 - j
        blocks.append(rival * xp.astype(valid, features.dtype)[None, None, :, None])
        masks.append(xp.broadcast_to(valid[None, None, :], (R, n, K - 1)))
    rivals = xp.reshape(xp.stack(blocks, axis=2), (R, n * (K - 1), K - 1, d))
    mask = xp.reshape(xp.stack(masks, axis=2), (R, n * (K - 1), K - 1))
    return rivals, mask


def ranking_pairs(features: Array, rankings: Array, xp: Namespace | None = None) -> Array:
    """The K (K - 1) / 2 pairwise comparisons implied by each ranking (the split used by the pairwise estimator
    MLE_2): returns ``differences`` (R, n K (K - 1) / 2, d) = phi(higher ranked) - phi(lower ranked)."""
    xp = array_api_compat.array_namespace(features) if xp is None else xp
    R, n, K, d = _check_rankings(features, rankings, xp)
    ranked = _ordered(features, rankings, xp)
    hi = [i for i in range(K) for j in range(i + 1, K)]
    lo = [j for i in range(K) for j in range(i + 1, K)]
    diff = xp.take(ranked, xp.asarray(hi), axis=2) - xp.take(ranked, xp.asarray(lo), axis=2)
    return xp.reshape(diff, (R, n * len(hi), d))
