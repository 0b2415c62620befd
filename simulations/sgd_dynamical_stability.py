"""Instances for *The Implicit Regularization of Dynamical Stability in SGD* (Wu and Su, ICML 2023).

Two kinds of instance:

* **Gradient matrices** G (n x d, d >= n): the per-sample gradients g_i = grad f_i(theta*) at an interpolating
  minimum of a square loss, so that H = (1/n) sum g_i g_i^T. The instance space is the box [-1, 1]^(n x d)
  (every point is a valid instance; the trace bound is invariant under scaling G). Random draws mix three
  families (a third each, every instance rescaled into the box): uniform entries; Gaussian rows with
  log-uniform scales in [0.1, 1] (heterogeneous gradient norms); correlated rows c z_0 + z_i (a shared
  direction of random weight c in [0, 3]). :func:`evaluate_stability` measures Tr H, lambda_max(H), the
  exact mean-square stability threshold eta* of SGD with batch B and that of GD (solvers.linear_stability).
* **Diagonal linear networks** f(x) = sum_j u_j v_j x_j (beta = u * v), trained by SGD (batch 1, with
  replacement) and by GD from u = alpha 1, v = 0 on sparse regression data (x ~ N(0, I_d), y = x . beta*,
  beta* with k entries +-1): :func:`measure_diagonal_networks`. At a minimum the per-sample gradients are
  g_i = (v * x_i, u * x_i), so Tr H = sum_j c_j (u_j^2 + v_j^2) with c_j = (1/n) sum_i x_ij^2.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab import Box, to_numpy
from solvers import linear_stability as ls

#: A run has converged when its training loss (1/2n) sum (f(x_i) - y_i)^2 is below this at the end.
CONVERGED_LOSS = 1e-10
#: A run whose residual exceeds this has diverged: it is frozen at u = v = 0 (a saddle, never converged).
DIVERGED_RESIDUAL = 1e6


# ---------------------------------------------------------------------------------------- gradient matrices
def _mixture(rng: np.random.Generator, count: int, n: int, d: int) -> np.ndarray:
    """``count`` gradient matrices (count, n, d) from the three families of the module docstring."""
    family = rng.integers(0, 3, size=count)
    uniform = rng.uniform(-1.0, 1.0, size=(count, n, d))
    scales = np.exp(rng.uniform(np.log(0.1), 0.0, size=(count, n, 1)))
    heterogeneous = scales * rng.standard_normal((count, n, d))
    common = rng.standard_normal((count, 1, d))
    correlated = rng.uniform(0.0, 3.0, size=(count, 1, 1)) * common + rng.standard_normal((count, n, d))
    G = np.where((family == 0)[:, None, None], uniform,
                 np.where((family == 1)[:, None, None], heterogeneous, correlated))
    return G / np.maximum(np.abs(G).max(axis=(1, 2), keepdims=True), 1e-300)


def gradient_space(params: Mapping[str, Any]) -> Box:
    """Gradient matrices G in [-1, 1]^(n x d), d >= n (over-parameterised: the minimum interpolates)."""
    n, d = int(params["n"]), int(params["d"])
    if d < n:
        raise ValueError(f"d must be >= n (over-parameterised least squares), got n = {n}, d = {d}.")

    def sample(rng: np.random.Generator, count: int) -> np.ndarray:
        return np.clip(_mixture(rng, count, n, d).reshape(count, n * d), -1.0, 1.0)

    return Box(-1.0, 1.0, (n, d), sampler=sample)


def sampling_with_replacement(params: Mapping[str, Any]) -> bool:
    """The ``sampling`` axis: "with" (i.i.d. batch indices) or "without" (a uniform B-subset)."""
    if params["sampling"] not in ("with", "without"):
        raise ValueError(f"sampling must be 'with' or 'without', got {params['sampling']!r}.")
    return params["sampling"] == "with"


def evaluate_stability(params: Mapping[str, Any], instances: np.ndarray, xp: Any) -> dict[str, np.ndarray]:
    """Per gradient matrix: Tr H, ||H||_F^2, (1/n) sum ||g_i||^4, lambda_max(H), SGD's threshold eta* at batch B
    (``sampling`` with or without replacement), its mixture weight p, and GD's threshold (B = n, no
    replacement, p = 0)."""
    G = xp.asarray(instances)
    n, batch = int(params["n"]), int(params["B"])
    replacement = sampling_with_replacement(params)
    summary = ls.hessian_summary(G)
    eta_star = ls.threshold(G, batch, replacement)
    eta_gd = ls.threshold(G, n, False)
    count = G.shape[0]
    return {
        "trace_h": to_numpy(summary.trace),
        "frob_sq": to_numpy(summary.frobenius_sq),
        "mean_g4": to_numpy(summary.mean_norm4),
        "lambda_max": to_numpy(summary.lambda_max),
        "eta_star": to_numpy(eta_star),
        "eta_gd": to_numpy(eta_gd),
        "p": np.full(count, ls.mixture_weight(n, batch, replacement)),
    }


# ---------------------------------------------------------------------------------- diagonal linear networks
def sparse_regression(rng: np.random.Generator, count: int, n: int, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` data sets: X (count, n, d) standard Gaussian, y = X beta* with beta* = (+-1, ..., +-1, 0, ...)."""
    X = rng.standard_normal((count, n, d))
    beta = np.zeros((count, d))
    beta[:, :k] = rng.choice([-1.0, 1.0], size=(count, k))
    return X, np.einsum("rnd,rd->rn", X, beta)


def _check_training(X: Any, y: Any, u0: Any, v0: Any, eta: Any, steps: Any, indices: Any) -> tuple[int, int, int]:
    shape = tuple(X.shape)
    if len(shape) != 3:
        raise ValueError(f"X must have shape (R, n, d) (R data sets of n inputs in R^d), got {shape}.")
    R, n, d = shape
    if tuple(y.shape) != (R, n):
        raise ValueError(f"y must have shape (R, n) = {(R, n)}, got {tuple(y.shape)}.")
    for name, w in (("u0", u0), ("v0", v0)):
        if tuple(w.shape) != (R, d):
            raise ValueError(f"{name} must have shape (R, d) = {(R, d)}, got {tuple(w.shape)}.")
    for name, a in (("X", X), ("y", y), ("u0", u0), ("v0", v0)):
        if not np.all(np.isfinite(to_numpy(a))):
            raise ValueError(f"{name} must be finite (got NaN or inf).")
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta (the step size) must be a finite number > 0, got {eta!r}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if indices is not None:
        idx = np.asarray(indices)
        if idx.shape != (steps, R) or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be an integer array of shape (steps, R) = {(steps, R)}, got "
                             f"{idx.dtype} {idx.shape}.")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"indices must lie in [0, n) = [0, {n}), got [{idx.min()}, {idx.max()}].")
    return R, n, d


def train_diagonal_network(X: Any, y: Any, u0: Any, v0: Any, eta: float, steps: int,
                           indices: np.ndarray | None = None) -> tuple[Any, Any]:
    """``steps`` steps of GD (``indices=None``) or of SGD with batch 1 (``indices[t, r]`` the sample replicate r
    uses at step t) on L = (1/2n) sum_i (sum_j u_j v_j x_ij - y_i)^2, for R replicates at once.

    Returns the final (u, v), each (R, d). A replicate whose residual exceeds DIVERGED_RESIDUAL is frozen at
    u = v = 0 (a saddle point where every gradient vanishes), so diverged runs never count as converged.
    """
    xp = array_namespace(X, y, u0, v0)
    R, n, d = _check_training(X, y, u0, v0, eta, steps, indices)
    u, v = u0, v0
    zero = xp.zeros_like(u)
    if indices is None:
        Xt = xp.permute_dims(X, (0, 2, 1))
        for _ in range(steps):
            residual = xp.matmul(X, (u * v)[:, :, None])[:, :, 0] - y
            grad = xp.matmul(Xt, residual[:, :, None])[:, :, 0] / n
            diverged = (xp.max(xp.abs(residual), axis=1) > DIVERGED_RESIDUAL)[:, None]
            u, v = u - eta * grad * v, v - eta * grad * u
            u, v = xp.where(diverged, zero, u), xp.where(diverged, zero, v)
        return u, v
    flat_X, flat_y = xp.reshape(X, (R * n, d)), xp.reshape(y, (R * n,))
    offsets = np.arange(R) * n
    for t in range(steps):
        rows = xp.asarray(offsets + np.asarray(indices[t]))
        x = xp.take(flat_X, rows, axis=0)
        residual = xp.sum(u * v * x, axis=1) - xp.take(flat_y, rows)
        diverged = (xp.abs(residual) > DIVERGED_RESIDUAL)[:, None]
        step = eta * residual[:, None] * x
        u, v = u - step * v, v - step * u
        u, v = xp.where(diverged, zero, u), xp.where(diverged, zero, v)
    return u, v


def network_gradients(X: Any, u: Any, v: Any) -> Any:
    """Per-sample gradients of f(x_i) = sum_j u_j v_j x_ij in (u, v): g_i = (v * x_i, u * x_i), (R, n, 2d)."""
    xp = array_namespace(X, u, v)
    return xp.concat([v[:, None, :] * X, u[:, None, :] * X], axis=2)


def training_loss(X: Any, y: Any, u: Any, v: Any) -> Any:
    """(1/2n) sum_i (f(x_i) - y_i)^2 per replicate."""
    xp = array_namespace(X, y, u, v)
    residual = xp.matmul(X, (u * v)[:, :, None])[:, :, 0] - y
    return 0.5 * xp.mean(residual * residual, axis=1)


def _minimum_summary(X: Any, y: Any, u: Any, v: Any, eta: float) -> dict[str, np.ndarray]:
    """At each final iterate: converged (loss < CONVERGED_LOSS, 1 or 0), Tr H, lambda_max(H), and
    eta / eta*(theta) (batch 1), the step size relative to the minimum's own mean-square threshold (0 where the
    run did not converge)."""
    converged = to_numpy(training_loss(X, y, u, v)) < CONVERGED_LOSS
    G = network_gradients(X, u, v)
    summary = ls.hessian_summary(G)
    eta_star = to_numpy(ls.threshold(G, 1, True))
    ratio = np.where(converged & np.isfinite(eta_star), eta / np.where(np.isfinite(eta_star), eta_star, 1.0), 0.0)
    return {"converged": converged.astype(float), "trace": to_numpy(summary.trace),
            "lambda_max": to_numpy(summary.lambda_max), "ms_ratio": ratio}


def measure_diagonal_networks(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                              ) -> dict[str, np.ndarray]:
    """``count`` replicates (own data set each), trained by SGD (batch 1) and by GD at the same eta and init.

    Outputs, for SGD and GD: ``converged_*`` (1 when the run reached loss < CONVERGED_LOSS, else 0), ``trace_*``
    and ``lambda_*`` (Tr H and lambda_max(H) at the final iterate: the minimum reached, when converged), and
    for SGD ``ms_ratio_sgd`` = eta / eta*(theta), the step size over the mean-square threshold of the minimum
    reached (> 1: SGD converged to a minimum that is not mean-square stable; 0 when it did not converge).
    The claims divide their bounds by ``converged_*``, so a run that did not converge has an infinite bound:
    it is counted as vacuous, never as a check that passed.
    """
    n, d, k = int(params["n"]), int(params["d"]), int(params["k"])
    alpha, eta, steps = float(params["alpha"]), float(params["eta"]), int(params["steps"])
    X_np, y_np = sparse_regression(rng, count, n, d, k)
    indices = rng.integers(0, n, size=(steps, count))
    X, y = xp.asarray(X_np), xp.asarray(y_np)
    u0, v0 = alpha * xp.ones((count, d), dtype=X.dtype), xp.zeros((count, d), dtype=X.dtype)
    sgd = _minimum_summary(X, y, *train_diagonal_network(X, y, u0, v0, eta, steps, indices), eta)
    gd = _minimum_summary(X, y, *train_diagonal_network(X, y, u0, v0, eta, steps), eta)
    return {
        "converged_sgd": sgd["converged"], "trace_sgd": sgd["trace"], "lambda_sgd": sgd["lambda_max"],
        "ms_ratio_sgd": sgd["ms_ratio"],
        "converged_gd": gd["converged"], "trace_gd": gd["trace"], "lambda_gd": gd["lambda_max"],
    }
