r"""Diagonal linear networks beta = u * v trained on a square loss, batched over replicates (array API).

Model: data X (n, d) and labels y (n,) per replicate; the predictor is beta = u * v (entrywise), the loss

    L(u, v) = 1/(2n) ||X (u * v) - y||^2,

and the per-sample loss l_i = (x_i . (u * v) - y_i)^2 / 2, with gradients grad_u l_i = r_i x_i * v and
grad_v l_i = r_i x_i * u (r_i the residual). Everything carries a leading replicate axis R: X (R, n, d), y (R, n),
u and v (R, d), a step size per replicate (R,).

* :func:`sgd` -- single-sample SGD with replacement, u <- u - eta r_i x_i * v, v <- v - eta r_i x_i * u (both
  from the old iterate), on given sample indices ``rows`` (R, T), recording the full-batch loss every ``every``
  steps. Runs whose loss becomes non-finite or exceeds ``blowup`` are frozen and flagged as diverged (never a
  silent NaN).
* :func:`gradient_descent` -- full-batch GD from (u, v) until the loss is below ``tol`` for every replicate,
  with the step scale / (an upper bound of the Hessian's norm, :func:`hessian_norm_bound`) recomputed every
  ``recompute`` steps (scale 1: half the local stability limit 2 / ||H|| or less).
* :func:`gradient_flow_limit` -- the exact end point of gradient flow from (u, v) (the small-step limit of
  the annealed phase): a batched Newton solve of its dual (see the function).
* :func:`min_l2_interpolator` -- X^T (X X^T)^{-1} y, the minimum-Euclidean-norm solution of X beta = y.
* :func:`basis_pursuit` -- argmin ||beta||_1 s.t. X beta = y, all replicates in one block-diagonal linear
  programme solved by cvxpy with a named solver (HiGHS by default).
* :func:`balanced_gradients` -- per-sample gradients [x_i * v, x_i * u] at the balanced factorisation
  u = sqrt|beta|, v = sign(beta) sqrt|beta| of a predictor, for the linear-stability threshold of SGD there
  (``solvers.linear_stability.threshold``).

Bad input raises :class:`boundlab.errors.UsageError` naming the parameter and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from boundlab.backends import to_numpy
from boundlab.errors import UsageError

Array = Any


def _check_data(X: Array, y: Array, xp: Any) -> tuple[int, int, int]:
    if X.ndim != 3:
        raise UsageError(f"X must have shape (replicates, n, d), got {tuple(X.shape)}.")
    R, n, d = (int(s) for s in X.shape)
    if tuple(y.shape) != (R, n):
        raise UsageError(f"y must have shape (replicates, n) = {(R, n)}, got {tuple(y.shape)}.")
    for name, a in (("X", X), ("y", y)):
        if not bool(xp.all(xp.isfinite(a))):
            raise UsageError(f"{name} must be finite (no NaN or inf).")
    return R, n, d


def _check_weights(u: Array, v: Array, R: int, d: int, xp: Any) -> None:
    for name, a in (("u", u), ("v", v)):
        if tuple(a.shape) != (R, d):
            raise UsageError(f"{name} must have shape (replicates, d) = {(R, d)}, got {tuple(a.shape)}.")
        if not bool(xp.all(xp.isfinite(a))):
            raise UsageError(f"{name} must be finite (no NaN or inf).")


def _check_eta(eta: Array, R: int, xp: Any) -> Array:
    eta = xp.asarray(eta, dtype=xp.float64)
    if eta.ndim == 0:
        eta = eta * xp.ones((R,), dtype=xp.float64)
    if tuple(eta.shape) != (R,):
        raise UsageError(f"eta (the step sizes) must be a number or have shape (replicates,) = ({R},), "
                         f"got {tuple(eta.shape)}.")
    if not bool(xp.all(xp.isfinite(eta) & (eta > 0))):
        raise UsageError("eta (the step sizes) must be finite and > 0.")
    return eta


def predictions(X: Array, beta: Array, xp: Any) -> Array:
    """X beta per replicate, (R, n)."""
    return xp.matmul(X, beta[:, :, None])[:, :, 0]


def loss(X: Array, y: Array, u: Array, v: Array, xp: Any) -> Array:
    """L(u, v) = 1/(2n) ||X (u * v) - y||^2 per replicate, (R,)."""
    r = predictions(X, u * v, xp) - y
    return 0.5 * xp.mean(r * r, axis=1)


@dataclass
class SGDRun:
    """An SGD run: final iterates (R, d), the full-batch loss recorded every ``every`` steps (R, records) with
    the step of each record, and which replicates diverged (frozen at their last finite iterate)."""

    u: Array
    v: Array
    losses: Array
    record_steps: np.ndarray
    diverged: Array


def sgd(X: Array, y: Array, u: Array, v: Array, eta: Array, rows: np.ndarray, xp: Any, every: int = 0,
        blowup: float = 1e6, chunk: int = 256) -> SGDRun:
    """Single-sample SGD on the diagonal network from (u, v) on the sample indices ``rows`` (R, T).

    The sampled rows are gathered ``chunk`` steps at a time. With ``every`` > 0 the full-batch loss is recorded
    before steps 0, every, 2 every, ... (and after the last step). A replicate whose loss exceeds ``blowup`` or is
    not finite at a check (every ``chunk`` steps) is flagged in ``diverged`` and frozen there.
    """
    R, n, d = _check_data(X, y, xp)
    _check_weights(u, v, R, d, xp)
    eta = _check_eta(eta, R, xp)
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[0] != R or not np.issubdtype(rows.dtype, np.integer):
        raise UsageError(f"rows must be integer sample indices of shape (replicates, T) = ({R}, T), "
                         f"got shape {rows.shape}, dtype {rows.dtype}.")
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise UsageError(f"rows must lie in [0, n) = [0, {n}), got [{rows.min()}, {rows.max()}].")
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise UsageError(f"every (the recording interval) must be an integer >= 0, got {every!r}.")
    if not (blowup > 0):
        raise UsageError(f"blowup must be > 0, got {blowup!r}.")
    T = rows.shape[1]
    flat_X = xp.reshape(X, (R * n, d))
    flat_y = xp.reshape(y, (R * n,))
    offset = np.arange(R)[:, None] * n
    diverged = xp.zeros((R,), dtype=xp.bool)
    records, steps = [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, T, chunk):
            stop = min(start + chunk, T)
            index = xp.asarray(np.reshape(rows[:, start:stop] + offset, (-1,)))
            Xc = xp.reshape(xp.take(flat_X, index, axis=0), (R, stop - start, d))
            yc = xp.reshape(xp.take(flat_y, index, axis=0), (R, stop - start))
            live = xp.astype(~diverged, X.dtype)[:, None]
            step = eta[:, None] * live
            for t in range(stop - start):
                if every and (start + t) % every == 0:
                    records.append(loss(X, y, u, v, xp))
                    steps.append(start + t)
                x = Xc[:, t, :]
                r = xp.sum(x * u * v, axis=1) - yc[:, t]
                g = step * r[:, None] * x
                u, v = u - g * v, v - g * u
            current = loss(X, y, u, v, xp)
            bad = ~(xp.isfinite(current) & (current <= blowup)) & ~diverged
            if bool(xp.any(bad)):
                # freeze the new divergers at a finite placeholder (their flag, not their value, is the result)
                u = xp.where(bad[:, None], xp.zeros_like(u), u)
                v = xp.where(bad[:, None], xp.zeros_like(v), v)
                diverged = diverged | bad
    if every:
        records.append(loss(X, y, u, v, xp))
        steps.append(T)
    losses = xp.stack(records, axis=1) if records else xp.zeros((R, 0), dtype=X.dtype)
    return SGDRun(u=u, v=v, losses=losses, record_steps=np.asarray(steps, dtype=int), diverged=diverged)


def hessian_norm_bound(X: Array, y: Array, u: Array, v: Array, xp: Any) -> Array:
    """An upper bound of ||Hessian of L at (u, v)||_2 per replicate: lambda_max(K) + max_j |(X^T r)_j| / n.

    The Hessian is Phi^T Phi / n + [[0, D], [D, 0]] with Phi = [X * v, X * u] and D = diag(X^T r) / n; the
    first term has the nonzero eigenvalues of K = Phi Phi^T / n = (1/n) X diag(u^2 + v^2) X^T, the second the
    eigenvalues +-D_jj."""
    n = X.shape[1]
    w = u * u + v * v
    K = xp.matmul(X * w[:, None, :], xp.permute_dims(X, (0, 2, 1))) / n
    K = 0.5 * (K + xp.permute_dims(K, (0, 2, 1)))
    r = predictions(X, u * v, xp) - y
    D = xp.matmul(xp.permute_dims(X, (0, 2, 1)), r[:, :, None])[:, :, 0] / n
    return xp.max(xp.linalg.eigvalsh(K), axis=1) + xp.max(xp.abs(D), axis=1)


@dataclass
class GDRun:
    """A full-batch GD run to interpolation: final iterates, final loss and steps taken per batch."""

    u: Array
    v: Array
    loss: Array
    steps: int


def gradient_descent(X: Array, y: Array, u: Array, v: Array, xp: Any, tol: float = 1e-14, max_steps: int = 200000,
                     recompute: int = 50, scale: float = 1.0) -> GDRun:
    """Full-batch GD on L(u, v) until L < ``tol`` for every replicate (replicates that are done stop moving).

    The step of each replicate is ``scale`` / :func:`hessian_norm_bound`, recomputed every ``recompute`` steps
    (see the module docstring). Raises :class:`UsageError` for bad input and when ``max_steps`` do not reach ``tol``.
    """
    R, n, d = _check_data(X, y, xp)
    _check_weights(u, v, R, d, xp)
    if not (tol > 0):
        raise UsageError(f"tol must be > 0, got {tol!r}.")
    if not (0 < scale < 2):
        raise UsageError(f"scale (the step times lambda_max) must lie in (0, 2), got {scale!r}.")
    for name, value in (("max_steps", max_steps), ("recompute", recompute)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}.")
    Xt = xp.permute_dims(X, (0, 2, 1))
    taken = 0
    current = loss(X, y, u, v, xp)
    while taken < max_steps:
        active = current >= tol
        if not bool(xp.any(active)):
            return GDRun(u=u, v=v, loss=current, steps=taken)
        eta = scale / hessian_norm_bound(X, y, u, v, xp)
        step = (xp.where(active, eta, xp.zeros_like(eta)) / n)[:, None]
        for _ in range(recompute):
            r = predictions(X, u * v, xp) - y
            g = step * xp.matmul(Xt, r[:, :, None])[:, :, 0]
            u, v = u - g * v, v - g * u
        taken += recompute
        current = loss(X, y, u, v, xp)
        if not bool(xp.all(xp.isfinite(current))):
            raise UsageError("gradient descent diverged (non-finite loss); lower scale.")
    raise UsageError(f"gradient descent did not reach loss < {tol:g} in max_steps = {max_steps} steps "
                     f"(largest loss {float(xp.max(current)):.3g}).")


def min_l2_interpolator(X: Array, y: Array, xp: Any) -> Array:
    """X^T (X X^T)^{-1} y per replicate, (R, d); needs n <= d and X of full row rank."""
    R, n, d = _check_data(X, y, xp)
    if n > d:
        raise UsageError(f"min_l2_interpolator needs n <= d (an under-determined system), got n = {n}, d = {d}.")
    G = xp.matmul(X, xp.permute_dims(X, (0, 2, 1)))
    a = xp.linalg.solve(G, y[:, :, None])
    return xp.matmul(xp.permute_dims(X, (0, 2, 1)), a)[:, :, 0]


def basis_pursuit(X: Array, y: Array, xp: Any, solver: str = "HIGHS") -> Array:
    """argmin ||beta||_1 s.t. X beta = y for every replicate, (R, d): one block-diagonal LP, solved by cvxpy with
    the named ``solver`` (the problem separates over replicates, so its solution is the per-replicate one)."""
    import cvxpy as cp
    import scipy.sparse as sps

    R, n, d = _check_data(X, y, xp)
    Xn, yn = to_numpy(X), to_numpy(y)
    A = sps.block_diag([Xn[r] for r in range(R)], format="csr")
    # beta = z+ - z-, z >= 0: ||beta||_1 = sum z at the optimum (the standard split form of basis pursuit)
    z = cp.Variable(2 * R * d, nonneg=True)
    problem = cp.Problem(cp.Minimize(cp.sum(z)), [sps.hstack([A, -A], format="csr") @ z == np.reshape(yn, (-1,))])
    problem.solve(solver=solver)
    if problem.status != cp.OPTIMAL or z.value is None:
        raise UsageError(f"basis pursuit: cvxpy ({solver}) returned status {problem.status!r}.")
    zv = np.asarray(z.value)
    return xp.asarray(np.reshape(zv[: R * d] - zv[R * d:], (R, d)))


def balanced_gradients(X: Array, beta: Array, xp: Any) -> Array:
    """Per-sample gradients of f_i = x_i . (u * v) at u = sqrt|beta|, v = sign(beta) sqrt|beta|: rows
    [x_i * v, x_i * u], shape (R, n, 2d)."""
    if X.ndim != 3 or tuple(beta.shape) != (X.shape[0], X.shape[2]):
        raise UsageError(f"beta must have shape (replicates, d) = {(X.shape[0], X.shape[2])}, got "
                         f"{tuple(beta.shape)}.")
    root = xp.sqrt(xp.abs(beta))
    u, v = root, xp.sign(beta) * root
    return xp.concat([X * v[:, None, :], X * u[:, None, :]], axis=2)


def relative_distance(beta: Array, ref: Array, xp: Any) -> Array:
    """||beta - ref|| / ||ref|| per replicate."""
    diff = beta - ref
    return xp.sqrt(xp.sum(diff * diff, axis=1) / xp.sum(ref * ref, axis=1))




@dataclass
class FlowLimit:
    """The limit of gradient flow from (u, v): the interpolator ``beta`` (R, d), the dual variable ``mu`` (R, n)
    and the final residual norm ||X beta - y||_inf per replicate."""

    beta: Array
    mu: Array
    residual: Array


def _flow_objective(X: Array, y: Array, p: Array, q: Array, mu: Array, xp: Any) -> Array:
    z = 2.0 * xp.matmul(xp.permute_dims(X, (0, 2, 1)), mu[:, :, None])[:, :, 0]
    return 0.5 * xp.sum(p * xp.exp(z) + q * xp.exp(-z), axis=1) - xp.sum(y * mu, axis=1)


def gradient_flow_limit(X: Array, y: Array, u: Array, v: Array, xp: Any, tol: float = 1e-12,
                        max_iter: int = 200) -> FlowLimit:
    r"""Where gradient flow on L(u, v) from (u, v) ends, exactly, batched over replicates.

    With a = (u + v) / 2 and b = (u - v) / 2, beta = u v = a^2 - b^2 and gradient flow is
    d/dt log a_j = -(X^T r)_j / n = -d/dt log b_j, so a_j(t)^2 = a_j(0)^2 e^{z_j}, b_j(t)^2 = b_j(0)^2 e^{-z_j} with
    z = 2 X^T mu in the row space of X. The limit is the interpolator of that form,

        beta(mu) = p e^{2 X^T mu} - q e^{-2 X^T mu},   p = (u + v)^2 / 4,  q = (u - v)^2 / 4,   X beta(mu) = y,

    i.e. the minimiser over mu of the strictly convex Phi(mu) = sum_j (p_j e^{z_j} + q_j e^{-z_j}) / 2 - y . mu,
    found by Newton's method with backtracking (Hessian 2 X diag(p e^z + q e^{-z}) X^T). Equivalently, the Bregman
    projection onto {X beta = y} for the hyperbolic-entropy potential of the current imbalance u^2 - v^2 (the
    mirror-flow view of Woodworth et al. 2020). Converged when ||X beta - y||_inf <= ``tol`` (1 + ||y||_inf).
    """
    R, n, d = _check_data(X, y, xp)
    _check_weights(u, v, R, d, xp)
    if not (tol > 0):
        raise UsageError(f"tol must be > 0, got {tol!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise UsageError(f"max_iter must be a positive integer, got {max_iter!r}.")
    p, q = 0.25 * (u + v) ** 2, 0.25 * (u - v) ** 2
    Xt = xp.permute_dims(X, (0, 2, 1))
    mu = xp.zeros((R, n), dtype=X.dtype)
    scale = 1.0 + xp.max(xp.abs(y), axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        f = _flow_objective(X, y, p, q, mu, xp)
        for _ in range(max_iter):
            z = 2.0 * xp.matmul(Xt, mu[:, :, None])[:, :, 0]
            ez, emz = xp.exp(z), xp.exp(-z)
            beta = p * ez - q * emz
            grad = predictions(X, beta, xp) - y
            residual = xp.max(xp.abs(grad), axis=1)
            if bool(xp.all(residual <= tol * scale)):
                return FlowLimit(beta=beta, mu=mu, residual=residual)
            H = 2.0 * xp.matmul(X * (p * ez + q * emz)[:, None, :], Xt)
            H = H + 1e-300 * xp.eye(n, dtype=X.dtype)
            step = -xp.linalg.solve(H, grad[:, :, None])[:, :, 0]
            dec = -xp.sum(grad * step, axis=1)
            t = xp.ones((R,), dtype=X.dtype)
            for _ in range(60):
                f_new = _flow_objective(X, y, p, q, mu + t[:, None] * step, xp)
                ok = xp.isfinite(f_new) & (f_new <= f - 0.25 * t * dec + 1e-15 * xp.abs(f))
                if bool(xp.all(ok)):
                    break
                t = xp.where(ok, t, 0.5 * t)
            mu = mu + t[:, None] * step
            f = _flow_objective(X, y, p, q, mu, xp)
    raise UsageError(f"gradient_flow_limit: Newton did not reach residual {tol:g} in max_iter = {max_iter} "
                     f"iterations (largest {float(xp.max(residual)):.3g}).")
