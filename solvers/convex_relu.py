"""The convex program of a two-layer ReLU network with weight decay (Pilanci & Ergen, ICML 2020) and the network
side of it, batched over instances.

Data X (n x p, a bias column included by the caller), labels y (n), weight decay beta > 0.

* Network (width m):  f(U, alpha) = 1/2 ||sum_j (X u_j)_+ alpha_j - y||^2 + beta/2 sum_j (||u_j||^2 + alpha_j^2).
* Convex program over the arrangement patterns D_i = diag(1[X h >= 0]), i = 1 .. P:

      p_cvx = min_{v_i, w_i} 1/2 ||sum_i D_i X (v_i - w_i) - y||^2 + beta sum_i (||v_i||_2 + ||w_i||_2)
              s.t. (2 D_i - I) X v_i >= 0,  (2 D_i - I) X w_i >= 0.

* Network from a convex solution: u = v_i / sqrt(||v_i||), alpha = sqrt(||v_i||), and u = w_i / sqrt(||w_i||),
  alpha = -sqrt(||w_i||) (zero columns give zero neurons).

Arrangement patterns (:func:`arrangement_patterns`). The realisable patterns {1[X h >= 0] : h in R^p} of data in
general position (every p rows linearly independent) are those of the open cells of the central arrangement
{h : x_k . h = 0}. When rank X = p every cell is a pointed cone, so its closure has an extreme ray, which is the
null line r of some p - 1 rows S; near +-r the pattern is sign(x_k . (+-r)) on the rows outside S and any of the
2^(p-1) sign choices on S (S has full row rank, so a small move sets them freely). Enumerating all (p - 1)-subsets,
both signs of r and all choices on S therefore gives every cell, and only cells: n^2 - n + 2 patterns for p = 3.
Where the data are degenerate (a row outside S orthogonal to r, up to ``tol``), both of its values are kept, and
the all-ones pattern (h = 0) is always included. Extra patterns are harmless: for ANY 0/1 pattern D, every v in
its cone {(2D - I) X v >= 0} has D X v = (X v)_+, so the program's value is still attained by a network; only a
missing realisable pattern could change the value.

Batching. :func:`solve_convex_programs` solves the programs of a batch of instances as ONE block-separable cvxpy
problem (named solver CLARABEL): its value is the sum of the instances' values and its solution is each
instance's solution, so the per-instance values are read off the solution. Patterns are padded to a common P
with copies of the all-zero pattern (which adds nothing: its cone forces X v <= 0, i.e. D X v = 0).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from boundlab.errors import UsageError

Array = Any

SOLVER = "CLARABEL"


def _check_data(X: np.ndarray, y: np.ndarray | None = None, *, batched: bool) -> None:
    want = 3 if batched else 2
    if X.ndim != want:
        raise UsageError(f"X must have {want} axes ({'batch, ' if batched else ''}n, p), got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise UsageError("X must be finite (no NaN or inf).")
    if y is not None:
        if y.shape != X.shape[:-1]:
            raise UsageError(f"y must have shape {X.shape[:-1]} (one label per row of X), got {y.shape}.")
        if not np.all(np.isfinite(y)):
            raise UsageError("y must be finite (no NaN or inf).")


def _check_beta(beta: float) -> None:
    if not (isinstance(beta, (int, float, np.floating)) and np.isfinite(beta) and beta > 0):
        raise UsageError(f"beta must be a finite number > 0 (the weight decay), got {beta!r}.")


def arrangement_patterns(X: np.ndarray, *, tol: float = 1e-12) -> np.ndarray:
    """Every pattern 1[X h >= 0], h in R^p, of one data matrix X (n, p) with rank p >= 2: a 0/1 array (n, P).

    Exact for data in general position (see the module docstring); degenerate data get a superset.
    """
    X = np.asarray(X, dtype=float)
    _check_data(X, batched=False)
    n, p = X.shape
    if p < 2:
        raise UsageError(f"X must have p >= 2 columns, got {p}.")
    if np.linalg.matrix_rank(X) < p:
        raise UsageError(f"X must have full column rank p = {p} (its cells are then pointed cones).")
    if not (tol >= 0):
        raise UsageError(f"tol must be >= 0, got {tol!r}.")
    subsets = np.array(list(itertools.combinations(range(n), p - 1)), dtype=int)
    rows = X[subsets]                                    # (S, p-1, p)
    _, sing, vt = np.linalg.svd(rows)                   # null line of each subset: last right singular vector
    r = vt[:, -1, :]                                     # (S, p)
    full = sing[:, -1] > tol * max(1.0, float(np.max(np.abs(X))))
    subsets, r = subsets[full], r[full]
    dots = r @ X.T                                       # (S, n)
    scale = np.linalg.norm(X, axis=1)[None, :]
    zero = np.abs(dots) <= 1e-9 * scale
    in_s = np.zeros_like(zero)
    in_s[np.arange(len(subsets))[:, None], subsets] = True
    choices = np.array(list(itertools.product((0, 1), repeat=p - 1)), dtype=np.int8)  # (2^(p-1), p-1)
    idx = np.arange(len(subsets))[:, None]
    free = zero & ~in_s                                  # degenerate rows: orthogonal to r outside S
    rows_out = [np.ones((1, n), dtype=np.int8)]          # h = 0
    for sign in (1.0, -1.0):
        base = (sign * dots > 0).astype(np.int8)         # (S, n)
        for choice in choices:
            cand = base.copy()
            cand[idx, subsets] = choice[None, :]
            rows_out.append(cand[~np.any(free, axis=1)])
            for s in np.flatnonzero(np.any(free, axis=1)):
                cols = np.flatnonzero(free[s])
                extra = np.array(list(itertools.product((0, 1), repeat=len(cols))), dtype=np.int8)
                block = np.repeat(cand[s][None, :], len(extra), axis=0)
                block[:, cols] = extra
                rows_out.append(block)
    patterns = np.unique(np.concatenate(rows_out, axis=0), axis=0)
    return patterns.T.astype(float)                      # (n, P)


def sampled_patterns(X: np.ndarray, directions: int, rng: np.random.Generator) -> np.ndarray:
    """Patterns 1[X h >= 0] of ``directions`` Gaussian h (a completeness check of the enumeration): (n, P')."""
    X = np.asarray(X, dtype=float)
    _check_data(X, batched=False)
    if not (isinstance(directions, (int, np.integer)) and directions >= 1):
        raise UsageError(f"directions must be a positive integer, got {directions!r}.")
    h = rng.standard_normal((X.shape[1], int(directions)))
    return np.unique((X @ h >= 0).astype(float), axis=1)


def pad_patterns(patterns: list[np.ndarray]) -> np.ndarray:
    """Stack per-instance pattern arrays (n, P_b) into (B, n, max P_b), padding with all-zero patterns."""
    if not patterns:
        raise UsageError("patterns must be a non-empty list of (n, P) arrays.")
    n = patterns[0].shape[0]
    if any(p.ndim != 2 or p.shape[0] != n for p in patterns):
        raise UsageError("every pattern array must have shape (n, P) with the same n.")
    width = max(p.shape[1] for p in patterns)
    out = np.zeros((len(patterns), n, width))
    for b, p in enumerate(patterns):
        out[b, :, : p.shape[1]] = p
    return out


@dataclass(frozen=True)
class ConvexSolution:
    """Per instance: the program's value at the returned solution and the solution (v_i, w_i) as columns."""

    value: np.ndarray   # (B,)
    V: np.ndarray       # (B, p, P)
    W: np.ndarray       # (B, p, P)


def convex_objective(X: np.ndarray, y: np.ndarray, D: np.ndarray, V: np.ndarray, W: np.ndarray, beta: float
                     ) -> np.ndarray:
    """1/2 ||sum_i D_i X (v_i - w_i) - y||^2 + beta sum_i (||v_i|| + ||w_i||) per instance (B,)."""
    pred = np.sum(D * (X @ (V - W)), axis=2)
    norms = np.sum(np.linalg.norm(V, axis=1) + np.linalg.norm(W, axis=1), axis=1)
    return 0.5 * np.sum((pred - y) ** 2, axis=1) + beta * norms


def solve_convex_programs(X: np.ndarray, y: np.ndarray, D: np.ndarray, beta: float, *, cone: bool = True
                          ) -> ConvexSolution:
    """The convex program of every instance (X (B, n, p), y (B, n), patterns D (B, n, P)), as one cvxpy problem.

    ``cone=False`` drops the cone constraints (the relaxation, a group lasso on the masked features D_i X).
    """
    import cvxpy as cp
    import scipy.sparse as sps

    X, y, D = (np.asarray(a, dtype=float) for a in (X, y, D))
    _check_data(X, y, batched=True)
    _check_beta(beta)
    B, n, p = X.shape
    if D.ndim != 3 or D.shape[:2] != (B, n) or not np.all((D == 0) | (D == 1)):
        raise UsageError(f"D must be a 0/1 array of shape ({B}, {n}, P), got shape {D.shape}.")
    P = D.shape[2]
    Xblock = sps.block_diag(list(X), format="csr")              # (B n, B p)
    Dst = D.reshape(B * n, P)
    V = cp.Variable((B * p, P))
    W = cp.Variable((B * p, P))
    XV, XW = Xblock @ V, Xblock @ W
    pred = cp.sum(cp.multiply(Dst, XV - XW), axis=1)
    groups = cp.sum(cp.norm(cp.reshape(V, (p, B * P), order="F"), 2, axis=0)) + \
        cp.sum(cp.norm(cp.reshape(W, (p, B * P), order="F"), 2, axis=0))
    objective = 0.5 * cp.sum_squares(pred - y.reshape(-1)) + beta * groups
    constraints = []
    if cone:
        S = 2.0 * Dst - 1.0
        constraints = [cp.multiply(S, XV) >= 0, cp.multiply(S, XW) >= 0]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver=SOLVER)
    if problem.status not in ("optimal", "optimal_inaccurate") or V.value is None:
        from boundlab.errors import MeasurementError
        raise MeasurementError(f"{SOLVER} returned status {problem.status!r} for the convex program.")
    Vb = np.asarray(V.value).reshape(B, p, P)
    Wb = np.asarray(W.value).reshape(B, p, P)
    return ConvexSolution(convex_objective(X, y, D, Vb, Wb, beta), Vb, Wb)


def network_from_convex(V: Array, W: Array, xp: Any = np) -> tuple[Array, Array]:
    """First-layer weights U (B, p, 2P) and second layer alpha (B, 2P) of the network built from (V, W)."""
    nv = xp.sqrt(xp.sum(V * V, axis=1))                           # (B, P)
    nw = xp.sqrt(xp.sum(W * W, axis=1))
    safe_v = xp.where(nv > 0, xp.sqrt(nv), xp.ones_like(nv))
    safe_w = xp.where(nw > 0, xp.sqrt(nw), xp.ones_like(nw))
    U = xp.concat([V / safe_v[:, None, :], W / safe_w[:, None, :]], axis=2)
    alpha = xp.concat([xp.sqrt(nv), -xp.sqrt(nw)], axis=1)
    return U, alpha


def _check_network(X: Array, y: Array, U: Array, alpha: Array) -> None:
    if X.ndim != 3 or y.ndim != 2 or y.shape != X.shape[:2]:
        raise UsageError(f"X must be (B, n, p) and y (B, n); got {tuple(X.shape)} and {tuple(y.shape)}.")
    if U.ndim != 4 or U.shape[0] != X.shape[0] or U.shape[2] != X.shape[2]:
        raise UsageError(f"U must have shape (B, R, p, m) = ({X.shape[0]}, R, {X.shape[2]}, m), got "
                         f"{tuple(U.shape)}.")
    if alpha.ndim != 3 or tuple(alpha.shape) != (U.shape[0], U.shape[1], U.shape[3]):
        raise UsageError(f"alpha must have shape (B, R, m) = {(U.shape[0], U.shape[1], U.shape[3])}, got "
                         f"{tuple(alpha.shape)}.")


def network_objective(X: Array, y: Array, U: Array, alpha: Array, beta: float, xp: Any = np) -> Array:
    """f(U, alpha) for X (B, n, p), y (B, n), U (B, R, p, m), alpha (B, R, m): shape (B, R)."""
    _check_beta(beta)
    _check_network(X, y, U, alpha)
    residual = _residual(X, y, U, alpha, xp)[2]
    decay = xp.sum(U * U, axis=(2, 3)) + xp.sum(alpha * alpha, axis=2)
    return 0.5 * xp.sum(residual * residual, axis=2) + 0.5 * beta * decay


def _residual(X: Array, y: Array, U: Array, alpha: Array, xp: Any) -> tuple[Array, Array, Array]:
    Z = xp.matmul(X[:, None, :, :], U)                            # (B, R, n, m)
    A = xp.maximum(Z, xp.zeros_like(Z))
    r = xp.matmul(A, alpha[..., None])[..., 0] - y[:, None, :]    # (B, R, n)
    return Z, A, r


def gradient_descent(X: Array, y: Array, U: Array, alpha: Array, beta: float, steps: int, eta: float,
                     decay: float = 1.0, xp: Any = np) -> tuple[Array, Array]:
    """Full-batch GD on f from (U, alpha), every instance and initialisation at once.

    Step t (t = 0 .. steps-1) has size eta * decay^(t / steps): geometric from eta down to eta * decay (decay = 1
    is a constant step). The ReLU's derivative at 0 is taken as 0.
    """
    _check_beta(beta)
    _check_network(X, y, U, alpha)
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise UsageError(f"steps must be a positive integer, got {steps!r}.")
    if not (isinstance(eta, (int, float)) and np.isfinite(eta) and eta > 0):
        raise UsageError(f"eta must be a finite step size > 0, got {eta!r}.")
    if not (isinstance(decay, (int, float)) and 0 < decay <= 1):
        raise UsageError(f"decay must be in (0, 1] (the final step is eta * decay), got {decay!r}.")
    Xt = xp.matrix_transpose(X)[:, None, :, :]                    # (B, 1, p, n)
    for t in range(int(steps)):
        step = eta * decay ** (t / steps)
        Z, A, r = _residual(X, y, U, alpha, xp)
        g_alpha = xp.matmul(xp.matrix_transpose(A), r[..., None])[..., 0] + beta * alpha
        active = xp.astype(Z > 0, Z.dtype)
        g_U = xp.matmul(Xt, active * r[..., None] * alpha[:, :, None, :]) + beta * U
        U = U - step * g_U
        alpha = alpha - step * g_alpha
    return U, alpha
