r"""Mean-square linear stability of SGD at an interpolating minimum of a square loss, batched over instances.

Setting
-------
Square loss L(theta) = (1 / 2n) sum_i (f_i(theta) - y_i)^2 at a global minimum theta* that interpolates
(f_i(theta*) = y_i). With per-sample gradients g_i = grad f_i(theta*) (the rows of ``G``, shape (n, d)), the
Hessian is H = (1/n) sum_i g_i g_i^T and SGD linearised at theta* is

    e_{t+1} = (I - eta H_xi) e_t,        H_xi = (1/B) sum_{i in batch} g_i g_i^T,

with batches of size B drawn uniformly with replacement (i.i.d. indices) or without (a uniform B-subset).
The second moment M_t = E[e_t e_t^T] evolves by the linear map

    T(M) = E[(I - eta H_xi) M (I - eta H_xi)] = M - eta (H M + M H) + eta^2 E[H_xi M H_xi],

and with C = E[H_xi (x) H_xi],  C = (1 - p) H (x) H + p (1/n) sum_i H_i (x) H_i, where

    p = 1 / B                      (with replacement),
    p = (n - B) / (B (n - 1))      (without replacement; p = 1 at B = 1, p = 0 at B = n, i.e. GD).

Restriction to the span. Every H_xi vanishes on span{g_i}^perp, so T is the identity on matrices supported
there (eigenvalue 1, never contracting: those directions do not change the loss) and multiplies the mixed
blocks by (I - eta H), which contract whenever GD does. What decides stability is T on symmetric matrices
of span{g_i}: T is self-adjoint in the Frobenius inner product and maps the PSD cone into itself, so its
spectral radius is its largest eigenvalue (Krein-Rutman), and

    rho(T) < 1  <=>  eta <C M, M> < <(H (+) H) M, M> for all symmetric M on the span  <=>  eta < eta*,
    eta* = 1 / lambda_max((H (+) H)^{-1} C),        H (+) H: M -> H M + M H  (positive definite there).

Computation. Everything depends on the Gram matrix K = (1/n) G G^T only (so the cost does not depend on d).
With K = W diag(h) W^T, the h are the nonzero eigenvalues of H (and zeros), and the coordinates of g_i in
H's eigenbasis are phi_ia = sqrt(n h_a) W_ia. In that basis, on the orthonormal basis of symmetric matrices
(E_aa, (E_ab + E_ba)/sqrt 2), H (+) H is diagonal with h_a + h_b, H (x) H is diagonal with h_a h_b, and
(1/n) sum_i H_i (x) H_i = (1/n) V^T V with V_i = svec(phi_i phi_i^T). Hence

    1 / eta* = lambda_max( D^{-1/2} [(1 - p) diag(h_a h_b) + p (1/n) V^T V] D^{-1/2} ),   D = diag(h_a + h_b),

one batched symmetric eigenvalue problem of size n(n+1)/2. When rank G < n, the pairs with h_a or h_b at the
null level (n eps max h: directions outside the span, or mixed blocks, which contract like GD) are excluded;
their entries in the matrix above are of order sqrt(h_a) anyway, so the threshold does not hinge on it.

Bad input raises :class:`ValueError` naming the argument and the rule it broke.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab.backends import to_numpy

Array = Any


@dataclass(frozen=True)
class HessianSummary:
    """Spectral summaries of H = (1/n) sum g_i g_i^T, each of shape (N,)."""

    trace: Array  #: Tr H = (1/n) sum ||g_i||^2
    frobenius_sq: Array  #: ||H||_F^2
    mean_norm4: Array  #: (1/n) sum ||g_i||^4
    lambda_max: Array  #: the largest eigenvalue of H
    rank: Array  #: numerical rank of G (eigenvalues of the Gram matrix above n * eps * max)


def _check_gradients(G: Array) -> tuple[int, int, int]:
    shape = tuple(G.shape)
    if len(shape) != 3 or shape[1] < 1 or shape[2] < 1:
        raise ValueError(f"G must have shape (N, n, d) (N instances of n per-sample gradients in R^d), got {shape}.")
    if not np.all(np.isfinite(to_numpy(G))):
        raise ValueError("G must be finite (got NaN or inf).")
    return shape[0], shape[1], shape[2]


def _check_batch(batch: Any, n: int, replacement: Any) -> int:
    if not isinstance(replacement, bool):
        raise ValueError(f"replacement must be True or False, got {replacement!r}.")
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}.")
    if not replacement and batch > n:
        raise ValueError(f"batch must be <= n = {n} when sampling without replacement, got {batch}.")
    return int(batch)


def _check_eta(eta: Any) -> float:
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta (the step size) must be a finite number > 0, got {eta!r}.")
    return float(eta)


def mixture_weight(n: int, batch: int, replacement: bool) -> float:
    """p in C = (1 - p) H (x) H + p (1/n) sum H_i (x) H_i: 1/B with replacement, (n-B)/(B(n-1)) without."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n (the number of samples) must be a positive integer, got {n!r}.")
    batch = _check_batch(batch, int(n), replacement)
    if batch == 1:
        return 1.0
    if replacement:
        return 1.0 / batch
    return (n - batch) / (batch * (n - 1))


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs a <= b of the orthonormal basis of symmetric n x n matrices, and the svec weights."""
    a, b = np.triu_indices(n)
    return a, b, np.where(a == b, 1.0, math.sqrt(2.0))


def _null_level(h: Array, xp: Any) -> Array:
    """Eigenvalues of the Gram matrix at or below n * eps * max(h) are numerically zero (directions outside
    span{g_i}); shape (N,)."""
    return (h.shape[1] * float(np.finfo(np.float64).eps)) * xp.max(h, axis=1)


def _eigen_coordinates(G: Array, xp: Any) -> tuple[Array, Array]:
    """(h, phi): eigenvalues of the Gram matrix K = G G^T / n (clipped at 0), shape (N, n), and
    phi[:, i, a] = sqrt(n h_a) W[:, i, a], the coordinates of g_i in H's eigenbasis, shape (N, n, n)."""
    n = G.shape[1]
    K = xp.matmul(G, xp.permute_dims(G, (0, 2, 1))) / n
    K = 0.5 * (K + xp.permute_dims(K, (0, 2, 1)))
    h, W = xp.linalg.eigh(K)
    h = xp.clip(h, 0.0, None)
    phi = W * xp.sqrt(n * h)[:, None, :]
    return h, phi


@dataclass(frozen=True)
class StabilityOperators:
    """The operators of the second-moment map on symmetric matrices of span{g_i}, in the svec basis of H's
    eigenbasis (size s = n(n+1)/2): T(eta) = I - eta diag(D) + eta^2 C on the pairs with D > 0."""

    D: Array  #: (N, s), the diagonal of H (+) H (h_a + h_b)
    C: Array  #: (N, s, s), E[H_xi (x) H_xi] restricted to symmetric matrices
    inside: Array  #: (N, s) bool, the pairs (a, b) with both h_a and h_b above the null level (inside the span)


def stability_operators(G: Array, batch: int, replacement: bool) -> StabilityOperators:
    """D = H (+) H and C = E[H_xi (x) H_xi] on symmetric matrices of the span, for each instance of ``G``."""
    xp = array_namespace(G)
    _, n, _ = _check_gradients(G)
    p = mixture_weight(n, batch, replacement)
    h, phi = _eigen_coordinates(G, xp)
    a, b, w = _pairs(n)
    ia, ib = xp.asarray(a), xp.asarray(b)
    ha, hb = xp.take(h, ia, axis=1), xp.take(h, ib, axis=1)
    V = xp.take(phi, ia, axis=2) * xp.take(phi, ib, axis=2) * xp.asarray(w, dtype=G.dtype)  # (N, n, s)
    S = xp.matmul(xp.permute_dims(V, (0, 2, 1)), V) / n
    s = a.size
    eye = xp.eye(s, dtype=G.dtype)
    C = p * S + (1.0 - p) * (ha * hb)[:, :, None] * eye
    D = ha + hb
    null = _null_level(h, xp)[:, None]
    return StabilityOperators(D=D, C=C, inside=(ha > null) & (hb > null))


def threshold(G: Array, batch: int = 1, replacement: bool = True) -> Array:
    """eta* (shape (N,)): SGD linearised at the minimum is mean-square stable exactly for eta < eta*.

    eta* = 1 / lambda_max((H (+) H)^{-1} C) on symmetric matrices of span{g_i} (module docstring); +inf when
    G = 0. For full batch without replacement (B = n) this is GD's threshold 2 / lambda_max(H).
    """
    xp = array_namespace(G)
    ops = stability_operators(G, batch, replacement)
    inv_sqrt = xp.where(ops.inside, 1.0 / xp.sqrt(xp.where(ops.inside, ops.D, 1.0)), 0.0)
    K = inv_sqrt[:, :, None] * ops.C * inv_sqrt[:, None, :]
    K = 0.5 * (K + xp.permute_dims(K, (0, 2, 1)))
    top = xp.max(xp.linalg.eigvalsh(K), axis=1)
    return xp.where(top > 0, 1.0 / xp.where(top > 0, top, 1.0), xp.inf)


def second_moment_operator(G: Array, eta: float, batch: int = 1, replacement: bool = True) -> Array:
    """T(eta) on symmetric matrices of the span (N, s, s) in the svec basis; rows and columns of pairs outside
    the span (eigenvalue 1 of T, never contracting) are set to zero so they do not count in the spectrum."""
    xp = array_namespace(G)
    eta = _check_eta(eta)
    ops = stability_operators(G, batch, replacement)
    s = ops.D.shape[1]
    eye = xp.eye(s, dtype=G.dtype)
    T = eye - eta * ops.D[:, :, None] * eye + eta**2 * ops.C
    keep = xp.astype(ops.inside, G.dtype)
    return keep[:, :, None] * T * keep[:, None, :]


def spectral_radius(G: Array, eta: float, batch: int = 1, replacement: bool = True) -> Array:
    """rho(T(eta)) on symmetric matrices of the span (shape (N,)): < 1 exactly when eta < eta*."""
    xp = array_namespace(G)
    T = second_moment_operator(G, eta, batch, replacement)
    return xp.max(xp.abs(xp.linalg.eigvalsh(0.5 * (T + xp.permute_dims(T, (0, 2, 1))))), axis=1)


def hessian_summary(G: Array) -> HessianSummary:
    """Tr H, ||H||_F^2, (1/n) sum ||g_i||^4, lambda_max(H) and the numerical rank, for each instance."""
    xp = array_namespace(G)
    _, n, _ = _check_gradients(G)
    h, _ = _eigen_coordinates(G, xp)
    norms_sq = xp.sum(G * G, axis=2)
    top = xp.max(h, axis=1)
    rank = xp.sum(xp.astype(h > _null_level(h, xp)[:, None], xp.int64), axis=1)
    return HessianSummary(
        trace=xp.sum(norms_sq, axis=1) / n,
        frobenius_sq=xp.sum(h * h, axis=1),
        mean_norm4=xp.sum(norms_sq * norms_sq, axis=1) / n,
        lambda_max=top,
        rank=rank,
    )
