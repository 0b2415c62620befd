r"""Exact and entropic optimal transport between two uniform n-point clouds, batched, for small n (array API).

Two empirical measures with n atoms of mass 1/n each, ``mu = (1/n) sum_i delta_{x_i}`` and
``nu = (1/n) sum_j delta_{y_j}``, and a cost matrix ``C[i, j] = c(x_i, y_j)``.

* :func:`assignment_cost` -- the exact OT cost ``W_c(mu, nu) = min_P <P, C>`` over couplings of the two uniform
  marginals. By Birkhoff's theorem the minimum is attained at a permutation matrix divided by n, so
  ``W_c = min_sigma (1/n) sum_i C[i, sigma(i)]``. It is computed by enumerating all n! permutations as one matrix
  product ``C.reshape(N, n^2) @ P.reshape(n!, n^2)^T`` (P the 0/1 permutation matrices): exact (no tolerance,
  no iteration), batched over a leading axis of N instances, and fast for n <= :data:`MAX_N` (7! = 5040
  permutations). Larger n is rejected; use ``scipy.optimize.linear_sum_assignment`` per instance there.
* :func:`entropic_cost` -- the KL-regularised cost ``W_{c,eps}(mu, nu) = min_P <P, C> + eps KL(P | a b^T)``
  (a = b = 1/n), by batched log-domain Sinkhorn. The returned value is the dual objective
  ``<f, a> + <g, b>`` after a column update (then the dual's exponential term is exactly 1), which is a lower
  bound on the primal value for any potentials (weak duality) and equals it at convergence; iterations stop when
  the row marginals are within ``tol`` (l1) of a. The other common convention, ``<P, C> - eps H(P)`` with
  ``H(P) = -sum P log P`` (OTT-JAX's ``ent_reg_cost``), differs by the constant ``eps (H(a) + H(b)) =
  2 eps log n``: :func:`entropic_cost` minus ``2 eps log n``.
* :func:`cost_matrix` -- ``||x - y||^2`` (``"sqeuclidean"``, OTT-JAX's default ``SqEuclidean``) or ``||x - y||``
  (``"euclidean"``) between the points of two batched clouds.
* :func:`monge_gap` -- the empirical Monge gap of Uscidda and Cuturi (ICML 2023),
  ``(1/n) sum_i c(x_i, y_i) - W_c(mu, nu)`` with ``y_i = T(x_i)``: exact (``eps=None``) or entropic (``eps > 0``,
  KL convention).

Bad input raises ``ValueError`` naming the parameter and the rule it broke.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

Array = Any
Namespace = Any

MAX_N = 7
COSTS = ("sqeuclidean", "euclidean")

__all__ = ["COSTS", "MAX_N", "MongeGap", "assignment_cost", "cost_matrix", "entropic_cost", "monge_gap",
           "permutation_matrices"]


def _namespace(x: Array, xp: Namespace | None) -> Namespace:
    return array_api_compat.array_namespace(x) if xp is None else xp


@functools.lru_cache(maxsize=MAX_N)
def permutation_matrices(n: int) -> np.ndarray:
    """All n! permutation matrices of size n, flattened: an (n!, n*n) array of 0/1 floats (NumPy, cached).

    Row k has ones at ``(i, sigma_k(i))``; the identity is row 0 (itertools order)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise ValueError(f"n must be an integer in [1, {MAX_N}], got {n!r}.")
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.intp)
    P = np.zeros((perms.shape[0], n, n))
    P[np.arange(perms.shape[0])[:, None], np.arange(n)[None, :], perms] = 1.0
    P.flags.writeable = False
    return P.reshape(perms.shape[0], n * n)


def _check_finite(x: Array, xp: Namespace, name: str) -> None:
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name} must be finite (no NaN or inf).")


def _check_costs(C: Array, xp: Namespace) -> int:
    if C.ndim != 3 or C.shape[1] != C.shape[2]:
        raise ValueError(f"C must be an (N, n, n) batch of square cost matrices, got shape {tuple(C.shape)}.")
    n = int(C.shape[1])
    if not 1 <= n <= MAX_N:
        raise ValueError(f"C: the number of points n must be in [1, {MAX_N}] for exact enumeration, got {n}.")
    _check_finite(C, xp, "C")
    return n


def assignment_cost(C: Array, xp: Namespace | None = None) -> Array:
    """Exact OT cost between uniform n-point measures: ``min_sigma (1/n) sum_i C[b, i, sigma(i)]`` per batch b.

    ``C`` is (N, n, n) with n <= MAX_N. Returns an (N,) array."""
    xp = _namespace(C, xp)
    n = _check_costs(C, xp)
    P = xp.asarray(permutation_matrices(n), dtype=C.dtype)
    totals = xp.reshape(C, (C.shape[0], n * n)) @ xp.permute_dims(P, (1, 0))
    return xp.min(totals, axis=1) / n


def _logsumexp(z: Array, axis: int, xp: Namespace) -> Array:
    m = xp.max(z, axis=axis, keepdims=True)
    return xp.squeeze(m, axis=axis) + xp.log(xp.sum(xp.exp(z - m), axis=axis))


@dataclass(frozen=True)
class EntropicResult:
    """``value`` (N,): the dual objective (a lower bound on W_{c,eps}, equal at convergence); ``marginal_error``
    (N,): l1 distance of the plan's row sums to a (its column sums are exact); ``iterations``."""

    value: Array
    marginal_error: Array
    iterations: int


def entropic_cost(C: Array, eps: float, xp: Namespace | None = None, *, tol: float = 1e-13,
                  max_iter: int = 20000) -> EntropicResult:
    """KL-regularised OT cost ``min_P <P, C> + eps KL(P | a b^T)`` between uniform marginals, batched log-domain
    Sinkhorn on (N, n, n) costs (any n; no enumeration)."""
    xp = _namespace(C, xp)
    if C.ndim != 3 or C.shape[1] != C.shape[2]:
        raise ValueError(f"C must be an (N, n, n) batch of square cost matrices, got shape {tuple(C.shape)}.")
    _check_finite(C, xp, "C")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}.")
    N, n = int(C.shape[0]), int(C.shape[1])
    log_a = -math.log(n)
    f = xp.zeros((N, n), dtype=C.dtype)
    g = xp.zeros((N, n), dtype=C.dtype)
    err = xp.full((N,), float("inf"), dtype=C.dtype)
    it = 0
    while it < max_iter:
        it += 1
        # f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps), then g likewise: P_ij = a_i b_j exp((f_i+g_j-C_ij)/eps)
        f = -eps * (_logsumexp((g[:, None, :] - C) / eps, 2, xp) + log_a)
        g = -eps * (_logsumexp((f[:, :, None] - C) / eps, 1, xp) + log_a)
        if it % 10 == 0 or it == max_iter:
            log_p = (f[:, :, None] + g[:, None, :] - C) / eps + 2 * log_a
            rows = xp.sum(xp.exp(log_p), axis=2)
            err = xp.sum(xp.abs(rows - 1.0 / n), axis=1)
            if float(xp.max(err)) <= tol:
                break
    value = (xp.sum(f, axis=1) + xp.sum(g, axis=1)) / n
    return EntropicResult(value=value, marginal_error=err, iterations=it)


def cost_matrix(X: Array, Y: Array, cost: str = "sqeuclidean", xp: Namespace | None = None) -> Array:
    """``C[b, i, j] = c(X[b, i], Y[b, j])`` for (N, n, d) and (N, m, d) clouds, c = ``||x - y||^2`` or
    ``||x - y||``."""
    xp = _namespace(X, xp)
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {', '.join(COSTS)}, got {cost!r}.")
    if X.ndim != 3 or Y.ndim != 3 or X.shape[0] != Y.shape[0] or X.shape[2] != Y.shape[2]:
        raise ValueError(f"X and Y must be (N, n, d) and (N, m, d) with the same N and d, got shapes "
                         f"{tuple(X.shape)} and {tuple(Y.shape)}.")
    diff = X[:, :, None, :] - Y[:, None, :, :]
    sq = xp.sum(diff * diff, axis=3)
    return sq if cost == "sqeuclidean" else xp.sqrt(sq)


@dataclass(frozen=True)
class MongeGap:
    """Per instance (N,): ``displacement`` = (1/n) sum_i c(x_i, y_i), ``transport`` = W_c (or W_{c,eps}) between
    the two uniform clouds, ``gap`` = displacement - transport, and the cost matrices ``C`` (N, n, n)."""

    displacement: Array
    transport: Array
    gap: Array
    C: Array


def monge_gap(X: Array, Y: Array, cost: str = "sqeuclidean", eps: float | None = None,
              xp: Namespace | None = None) -> MongeGap:
    """Empirical Monge gap of the map x_i -> y_i on the reference cloud X (N, n, d), Y = T(X) (N, n, d).

    ``eps=None``: exact, ``W_c`` by enumeration (n <= MAX_N). ``eps > 0``: entropic, KL convention
    (:func:`entropic_cost`)."""
    xp = _namespace(X, xp)
    if X.ndim != 3 or tuple(X.shape) != tuple(Y.shape):
        raise ValueError(f"X and Y must both be (N, n, d) with the same shape, got {tuple(X.shape)} and "
                         f"{tuple(Y.shape)}.")
    _check_finite(X, xp, "X")
    _check_finite(Y, xp, "Y")
    C = cost_matrix(X, Y, cost, xp)
    n = int(X.shape[1])
    diff = X - Y
    sq = xp.sum(diff * diff, axis=2)
    displacement = xp.sum(sq if cost == "sqeuclidean" else xp.sqrt(sq), axis=1) / n
    transport = assignment_cost(C, xp) if eps is None else entropic_cost(C, eps, xp).value
    return MongeGap(displacement=displacement, transport=transport, gap=displacement - transport, C=C)
