r"""Batched block coordinate descent (BCD) on quadratics and proximal BCD on l1-regularised quadratics.

Problems, batched over a leading axis of N instances (array API: NumPy, array-api-strict, CuPy):

* the quadratic f(x) = 1/2 x^T Q x - c^T x with Q (N, d, d) symmetric positive semidefinite (least squares:
  Q = A^T A, c = A^T y), gradient g = Q x - c;
* the Lasso F(x) = f(x) + lam ||x||_1.

Blocks are contiguous and of equal size s (d = B s blocks). L_b = lambda_max(Q_bb) is the block Lipschitz
constant of the gradient (for least squares, ||A_b||_2^2). One iteration updates one block b_k:

* smooth:   x_b <- x_b - g_b / L_b;
* proximal: x_b <- soft(x_b - g_b / L_b, lam / L_b), soft(u, t) = sign(u) max(|u| - t, 0).

Selection rules (``RULES``): ``"gs"`` (Gauss-Southwell, the largest ||g_b||), ``"gsl"`` (Gauss-Southwell-
Lipschitz, the largest ||g_b||^2 / L_b), ``"cyclic"`` (b_k = k mod B) and ``"order"`` (a given sequence of
blocks, e.g. drawn uniformly at random by the caller). Ties go to the smallest block index.

Bad input raises :class:`ValueError` naming the parameter and the rule.
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
RULES = ("gs", "gsl", "cyclic", "order")
PROX_RULES = ("cyclic", "order")


def _check_finite(a: Array, name: str) -> None:
    if not np.all(np.isfinite(to_numpy(a))):
        raise ValueError(f"{name} must be finite (got NaN or inf).")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_problem(Q: Array, c: Array, x0: Array, block_size: int) -> int:
    """Validate shapes and values; return the number of blocks."""
    if Q.ndim != 3 or Q.shape[1] != Q.shape[2]:
        raise ValueError(f"Q must have shape (N, d, d), got {tuple(Q.shape)}.")
    n, d = Q.shape[0], Q.shape[1]
    if tuple(c.shape) != (n, d):
        raise ValueError(f"c must have shape (N, d) = {(n, d)}, got {tuple(c.shape)}.")
    if tuple(x0.shape) != (n, d):
        raise ValueError(f"x0 must have shape (N, d) = {(n, d)}, got {tuple(x0.shape)}.")
    s = _positive_int(block_size, "block_size")
    if d % s:
        raise ValueError(f"block_size must divide the dimension d = {d}, got {s}.")
    for a, name in ((Q, "Q"), (c, "c"), (x0, "x0")):
        _check_finite(a, name)
    Qn = to_numpy(Q)
    if not np.allclose(Qn, np.swapaxes(Qn, 1, 2), rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(Qn).max()))):
        raise ValueError("Q must be symmetric.")
    return d // s


def block_lipschitz(Q: Array, block_size: int) -> Array:
    """L_b = lambda_max(Q_bb) for the contiguous blocks of size ``block_size``: shape (N, B)."""
    xp = array_namespace(Q)
    d = Q.shape[1]
    s = _positive_int(block_size, "block_size")
    if d % s:
        raise ValueError(f"block_size must divide the dimension d = {d}, got {s}.")
    B = d // s
    diag_blocks = xp.stack([Q[:, b * s:(b + 1) * s, b * s:(b + 1) * s] for b in range(B)], axis=1)
    return xp.linalg.eigvalsh(diag_blocks)[..., -1]


def _one_hot(b: Array, B: int, xp: Any) -> Array:
    return xp.astype(xp.reshape(b, (-1, 1)) == xp.reshape(xp.arange(B), (1, -1)), xp.float64)


def select(rule: str, g: Array, L: Array, k: int, order: Array | None) -> Array:
    """The block chosen by ``rule`` at iteration k from the blocked gradient g (N, B, s) and L (N, B)."""
    xp = array_namespace(g)
    B = g.shape[1]
    if rule == "gs":
        return xp.argmax(xp.sum(g * g, axis=2), axis=1)
    if rule == "gsl":
        return xp.argmax(xp.sum(g * g, axis=2) / L, axis=1)
    if rule == "cyclic":
        return xp.full((g.shape[0],), k % B, dtype=xp.int64)
    if rule == "order":
        return order[:, k]
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}.")


def _check_rule(rule: str, order: Array | None, n: int, B: int, iterations: int, allowed: tuple[str, ...]) -> None:
    if rule not in allowed:
        raise ValueError(f"rule must be one of {allowed}, got {rule!r}.")
    if rule == "order":
        if order is None or tuple(order.shape) != (n, iterations):
            raise ValueError(f"order must have shape (N, iterations) = {(n, iterations)} for rule 'order'.")
        o = to_numpy(order)
        if not np.issubdtype(o.dtype, np.integer) or o.min() < 0 or o.max() >= B:
            raise ValueError(f"order must hold integer block indices in [0, {B}).")


@dataclass(frozen=True)
class Trajectory:
    """Iterates x (N, K+1, d), the block chosen at each step (N, K) and the block constants L (N, B)."""

    x: Array
    blocks: Array
    L: Array


def bcd(Q: Array, c: Array, x0: Array, block_size: int, rule: str, iterations: int,
        order: Array | None = None) -> Trajectory:
    """K = ``iterations`` steps x_b <- x_b - g_b / L_b of block coordinate descent on 1/2 x^T Q x - c^T x."""
    xp = array_namespace(Q, c, x0)
    B = _check_problem(Q, c, x0, block_size)
    K = _positive_int(iterations, "iterations")
    n, d, s = Q.shape[0], Q.shape[1], block_size
    _check_rule(rule, order, n, B, K, RULES)
    L = block_lipschitz(Q, s)
    if not np.all(to_numpy(L) > 0):
        raise ValueError("Q must have a positive diagonal block maximum eigenvalue L_b > 0 for every block.")
    x = x0
    xs, chosen = [x], []
    for k in range(K):
        g = xp.reshape(xp.squeeze(Q @ x[:, :, None], axis=2) - c, (n, B, s))
        b = select(rule, g, L, k, order)
        mask = _one_hot(b, B, xp)
        x = x - xp.reshape(mask[:, :, None] * g / L[:, :, None], (n, d))
        xs.append(x)
        chosen.append(b)
    return Trajectory(xp.stack(xs, axis=1), xp.stack(chosen, axis=1), L)


def soft_threshold(u: Array, t: Array) -> Array:
    """sign(u) max(|u| - t, 0), elementwise (t broadcast)."""
    xp = array_namespace(u)
    return xp.sign(u) * xp.clip(xp.abs(u) - t, min=0.0)


def proximal_bcd(Q: Array, c: Array, x0: Array, lam: float, block_size: int, rule: str, iterations: int,
                 order: Array | None = None) -> Trajectory:
    """K steps x_b <- soft(x_b - g_b / L_b, lam / L_b) of proximal BCD on 1/2 x^T Q x - c^T x + lam ||x||_1."""
    xp = array_namespace(Q, c, x0)
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam) or lam <= 0:
        raise ValueError(f"lam must be a finite real number > 0, got {lam!r}.")
    B = _check_problem(Q, c, x0, block_size)
    K = _positive_int(iterations, "iterations")
    n, d, s = Q.shape[0], Q.shape[1], block_size
    _check_rule(rule, order, n, B, K, PROX_RULES)
    L = block_lipschitz(Q, s)
    if not np.all(to_numpy(L) > 0):
        raise ValueError("Q must have a positive diagonal block maximum eigenvalue L_b > 0 for every block.")
    x = x0
    xs, chosen = [x], []
    for k in range(K):
        g = xp.reshape(xp.squeeze(Q @ x[:, :, None], axis=2) - c, (n, B, s))
        b = select(rule, g, L, k, order)
        mask = xp.reshape(xp.broadcast_to(_one_hot(b, B, xp)[:, :, None], (n, B, s)), (n, d))
        Lx = xp.reshape(xp.broadcast_to(L[:, :, None], (n, B, s)), (n, d))
        step = soft_threshold(x - xp.reshape(g, (n, d)) / Lx, lam / Lx)
        x = mask * step + (1.0 - mask) * x
        xs.append(x)
        chosen.append(b)
    return Trajectory(xp.stack(xs, axis=1), xp.stack(chosen, axis=1), L)


def quadratic_gap(Q: Array, x: Array, x_star: Array) -> Array:
    """f(x) - f* = 1/2 (x - x*)^T Q (x - x*) for iterates x (N, K, d) and minimisers x* (N, d)."""
    xp = array_namespace(Q, x, x_star)
    e = x - x_star[:, None, :]
    return 0.5 * xp.sum(e * xp.matmul(e, Q), axis=2)


def l1_strong_convexity(Q: Array, weights: Array) -> Array:
    r"""The strong-convexity constant of 1/2 x^T Q x in the weighted l1 norm ||x||_w = sum_i w_i |x_i|, w > 0.

    For a positive definite quadratic, mu in a norm is 1 / max{g^T Q^{-1} g : ||g||_* <= 1} (f - f* =
    1/2 g^T Q^{-1} g at the gradient g). The dual norm is max_i |g_i| / w_i, whose unit ball is the box
    |g_i| <= w_i, and a convex function attains its maximum over a box at a vertex g = w * s, s in {-1, +1}^d
    (s and -s alike). Exact; 2^(d-1) vertices, so d <= 12. ``weights`` is (N, d).
    """
    xp = array_namespace(Q, weights)
    d = Q.shape[1]
    if d > 12:
        raise ValueError(f"Q must have d <= 12 for vertex enumeration, got d = {d}.")
    if tuple(weights.shape) != (Q.shape[0], d) or not np.all(to_numpy(weights) > 0):
        raise ValueError(f"weights must have shape (N, d) = {(Q.shape[0], d)} with positive entries.")
    signs = np.array([[1.0] + [1.0 - 2.0 * ((v >> j) & 1) for j in range(d - 1)] for v in range(2 ** (d - 1))])
    S = xp.asarray(signs)  # (V, d)
    G = S[None, :, :] * weights[:, None, :]  # (N, V, d)
    W = xp.linalg.solve(Q, xp.permute_dims(G, (0, 2, 1)))  # Q^{-1} G^T: (N, d, V)
    values = xp.sum(G * xp.permute_dims(W, (0, 2, 1)), axis=2)  # g^T Q^{-1} g per vertex
    return 1.0 / xp.max(values, axis=1)


def diagonal(Q: Array) -> Array:
    """The diagonal of each matrix: (N, d)."""
    xp = array_namespace(Q)
    return xp.stack([Q[:, i, i] for i in range(Q.shape[1])], axis=1)


def gsl_strong_convexity(Q: Array) -> Array:
    """mu_GSL for single-coordinate blocks: strong convexity in ||x||_L = sum_i sqrt(L_i) |x_i|, L_i = Q_ii."""
    xp = array_namespace(Q)
    return l1_strong_convexity(Q, xp.sqrt(diagonal(Q)))
