"""Instances for *Learning from Aggregate Responses: Instance Level versus Bag Level Loss Functions* (Javanmard,
Chen, Mirrokni, Badanidiyuru, Fu, ICLR 2024): linear regression where only bag averages of the responses are seen.

Data: n samples (x_i, y_i), x_i in R^d, grouped into m = n / k disjoint bags of size k; for bag a the learner sees
the features and ybar_a = (1/k) sum_{i in a} y_i. With f_i = theta . x_i and fbar_a the bag mean of f:

* ``ins`` = sum_a sum_{i in a} (ybar_a - f_i)^2       (the instance-level loss, unnormalised),
* ``bag`` = sum_a (ybar_a - fbar_a)^2                 (the bag-level loss, unnormalised),
* ``reg`` = sum_a sum_{i in a} (f_i - fbar_a)^2       (the within-bag spread of the predictions).

Estimators (least squares): the bag-level one regresses ybar_a on xbar_a, theta_bag = (Xbar^T Xbar)^-1 Xbar^T ybar;
the instance-level one regresses ybar_{a(i)} on x_i, theta_ins = (X^T X)^-1 X^T P y, with P the block-averaging
projector. With A = X^T P X = k Xbar^T Xbar and B = X^T (I - P) X (so X^T X = A + B), and y = X theta_0 + noise
of variance sigma^2, conditionally on the design:

* bag level: unbiased, covariance sigma^2 A^-1;
* instance level: mean (A + B)^-1 A theta_0, bias -(A + B)^-1 B theta_0, covariance sigma^2 S^-1 A S^-1, S = A + B.

For Gaussian features, A and B are independent Wishart_d(m, I) and Wishart_d(n - m, I) matrices (P and I - P are
orthogonal projections of ranks m and n - m). ``measure_conditional_risks`` samples them directly by Bartlett's
decomposition (O(d^2) numbers per replicate instead of n d), which lets the proportional-regime sweep reach d = 400
within budget; ``measure_estimators`` runs the estimators on raw Gaussian data with noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from boundlab import Box, Product, to_numpy


def _check_bags(n: int, k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (the bag size) must be a positive integer, got {k!r}.")
    if n % int(k):
        raise ValueError(f"k (the bag size) must divide the number of samples n = {n}, got k = {k}.")
    return int(k)


def _check_data(X: Any, y: Any, k: Any, *, min_bags: bool = False) -> tuple[int, int, int, int]:
    """Shapes (N, n, d) and (N, n), finite entries, k dividing n, and (``min_bags``) at least d bags."""
    if len(X.shape) != 3:
        raise ValueError(f"X must have shape (N, n, d) (a leading batch axis), got shape {tuple(X.shape)}.")
    N, n, d = (int(s) for s in X.shape)
    if tuple(y.shape) != (N, n):
        raise ValueError(f"y must have shape (N, n) = {(N, n)} to match X, got shape {tuple(y.shape)}.")
    if not (np.all(np.isfinite(to_numpy(X))) and np.all(np.isfinite(to_numpy(y)))):
        raise ValueError("X and y must be finite (no NaN or infinity).")
    k = _check_bags(n, k)
    if min_bags and n // k < d:
        raise ValueError(f"the number of bags m = n / k = {n // k} must be at least d = {d} for the "
                         "bag-level least-squares fit to be defined.")
    return N, n, d, k


def bag_means(v: Any, k: int, xp: Any) -> Any:
    """Means over contiguous bags of size k along axis 1: (N, n) -> (N, n/k), (N, n, d) -> (N, n/k, d)."""
    N, n = int(v.shape[0]), int(v.shape[1])
    shape = (N, n // k, k) + tuple(int(s) for s in v.shape[2:])
    return xp.mean(xp.reshape(v, shape), axis=2)


def loss_terms(X: Any, y: Any, theta: Any, k: int, xp: Any) -> dict[str, Any]:
    """``ins``, ``bag`` and ``reg`` (module docstring) for bags made of consecutive rows; batched over N."""
    N, n, d, k = _check_data(X, y, k)
    if tuple(theta.shape) != (N, d):
        raise ValueError(f"theta must have shape (N, d) = {(N, d)}, got shape {tuple(theta.shape)}.")
    f = (X @ theta[:, :, None])[:, :, 0]
    fb, yb = bag_means(f, k, xp), bag_means(y, k, xp)
    f3 = xp.reshape(f, (N, n // k, k))
    ins = xp.sum((yb[:, :, None] - f3) ** 2, axis=(1, 2))
    bag = xp.sum((yb - fb) ** 2, axis=1)
    reg = xp.sum((f3 - fb[:, :, None]) ** 2, axis=(1, 2))
    return {"ins": ins, "bag": bag, "reg": reg}


def bag_level_estimator(X: Any, y: Any, k: int, xp: Any) -> Any:
    """Least squares of the bag means ybar_a on xbar_a, batched: (N, n, d), (N, n) -> (N, d). Needs n / k >= d."""
    _check_data(X, y, k, min_bags=True)
    Xb, yb = bag_means(X, k, xp), bag_means(y, k, xp)
    Xbt = xp.permute_dims(Xb, (0, 2, 1))
    return xp.linalg.solve(Xbt @ Xb, Xbt @ yb[:, :, None])[:, :, 0]


def instance_level_estimator(X: Any, y: Any, k: int, xp: Any) -> Any:
    """Least squares of ybar_{a(i)} on x_i, batched: theta = (X^T X)^-1 k Xbar^T ybar. Needs n >= d."""
    _check_data(X, y, k)
    if int(X.shape[1]) < int(X.shape[2]):
        raise ValueError(f"n = {X.shape[1]} must be at least d = {X.shape[2]} for the instance-level fit.")
    Xb, yb = bag_means(X, k, xp), bag_means(y, k, xp)
    Xt = xp.permute_dims(X, (0, 2, 1))
    rhs = float(k) * (xp.permute_dims(Xb, (0, 2, 1)) @ yb[:, :, None])
    return xp.linalg.solve(Xt @ X, rhs)[:, :, 0]


def gram_parts(X: Any, k: int, xp: Any) -> tuple[Any, Any]:
    """A = X^T P X = k Xbar^T Xbar and B = X^T X - A for bags of consecutive rows."""
    Xb = bag_means(X, k, xp)
    A = float(k) * (xp.permute_dims(Xb, (0, 2, 1)) @ Xb)
    return A, xp.permute_dims(X, (0, 2, 1)) @ X - A


def conditional_risks(A: Any, B: Any, sigma: float, r: float, xp: Any) -> dict[str, Any]:
    """Excess risks given the design, averaged over the noise and over a uniformly random direction of theta_0
    with ||theta_0|| = r: ``risk_bag`` = sigma^2 tr A^-1, ``bias_ins`` = r^2 / d ||S^-1 B||_F^2, ``var_ins`` =
    sigma^2 tr(S^-1 A S^-1) and ``risk_ins`` their sum (S = A + B)."""
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma (the noise level) must be finite and >= 0, got {sigma!r}.")
    if not (math.isfinite(r) and r >= 0):
        raise ValueError(f"r (the signal norm ||theta_0||) must be finite and >= 0, got {r!r}.")
    if len(A.shape) != 3 or A.shape[1] != A.shape[2] or tuple(B.shape) != tuple(A.shape):
        raise ValueError(f"A and B must both have shape (N, d, d), got {tuple(A.shape)} and {tuple(B.shape)}.")
    d = int(A.shape[1])
    eye = xp.eye(d, dtype=A.dtype)
    S_inv = xp.linalg.inv(A + B)
    S_inv_B = S_inv @ B
    S_inv_A = eye - S_inv_B  # S^-1 (A + B) = I
    var_ins = sigma**2 * xp.sum(S_inv_A * S_inv, axis=(1, 2))  # tr(S^-1 A S^-1) = <S^-1 A, S^-1>_F (S symmetric)
    bias_ins = r**2 / d * xp.sum(S_inv_B * S_inv_B, axis=(1, 2))
    risk_bag = sigma**2 * xp.sum(xp.linalg.inv(A) * eye, axis=(1, 2))
    return {"risk_bag": risk_bag, "bias_ins": bias_ins, "var_ins": var_ins, "risk_ins": bias_ins + var_ins}


def wishart_bartlett(rng: np.random.Generator, count: int, dof: int, d: int) -> np.ndarray:
    """``count`` Wishart_d(dof, I) matrices L L^T, L lower-triangular with L_jj^2 ~ chi^2(dof - j), j = 0..d-1,
    and N(0, 1) below the diagonal (Bartlett's decomposition). Needs dof >= d."""
    if isinstance(dof, bool) or not isinstance(dof, (int, np.integer)) or dof < d or d < 1:
        raise ValueError(f"dof must be an integer >= d = {d} >= 1, got dof = {dof!r}.")
    L = np.tril(rng.standard_normal((count, d, d)), -1)
    diag = np.sqrt(rng.chisquare(dof - np.arange(d), size=(count, d)))
    L[:, np.arange(d), np.arange(d)] = diag
    return L @ np.transpose(L, (0, 2, 1))


def _sizes(params: Mapping[str, Any]) -> tuple[int, int, int]:
    d, k = int(params["d"]), int(params["k"])
    n = int(round(float(params["psi"]) * d))
    return d, _check_bags(n, k), n


def measure_conditional_risks(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                              ) -> dict[str, np.ndarray]:
    """Proportional regime n = psi d: per replicate, the conditional excess risks of ``conditional_risks`` for
    A ~ W_d(n/k, I) and B ~ W_d(n - n/k, I) independent (B = 0 when k = 1)."""
    d, k, n = _sizes(params)
    m = n // k
    A = wishart_bartlett(rng, count, m, d)
    B = wishart_bartlett(rng, count, n - m, d) if k > 1 else np.zeros_like(A)
    out = conditional_risks(xp.asarray(A), xp.asarray(B), float(params["sigma"]), float(params["r"]), xp)
    return {name: to_numpy(v) for name, v in out.items()}


def measure_estimators(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                       ) -> dict[str, np.ndarray]:
    """Raw Gaussian data y = X theta_0 + sigma z (theta_0 a random direction of norm r), bags of consecutive rows:
    ``err_bag`` = ||theta_bag - theta_0||^2, ``err_ins`` = ||theta_ins - theta_0||^2, and ``noise_ins`` = the squared
    norm of the instance-level estimator's noise part (the estimator applied to the noise alone, by linearity)."""
    d, k, n = _sizes(params)
    sigma, r = float(params["sigma"]), float(params["r"])
    theta0 = rng.standard_normal((count, d))
    theta0 *= r / np.linalg.norm(theta0, axis=1, keepdims=True)
    X = xp.asarray(rng.standard_normal((count, n, d)))
    noise = xp.asarray(sigma * rng.standard_normal((count, n)))
    t0 = xp.asarray(theta0)
    y = (X @ t0[:, :, None])[:, :, 0] + noise
    _check_data(X, y, k, min_bags=True)
    # one Gram matrix per replicate serves both estimators (the same algebra as bag_level_estimator and
    # instance_level_estimator, which the tests compare this against)
    A, B = gram_parts(X, k, xp)
    Xbt = xp.permute_dims(bag_means(X, k, xp), (0, 2, 1))
    rhs = float(k) * (Xbt @ xp.stack([bag_means(y, k, xp), bag_means(noise, k, xp)], axis=2))  # k Xbar^T [ybar, ebar]
    e_bag = xp.linalg.solve(A, rhs[:, :, 0:1])[:, :, 0] - t0
    both = xp.linalg.solve(A + B, rhs)
    e_ins = both[:, :, 0] - t0
    noise_part = both[:, :, 1]
    return {"err_bag": to_numpy(xp.sum(e_bag**2, axis=1)), "err_ins": to_numpy(xp.sum(e_ins**2, axis=1)),
            "noise_ins": to_numpy(xp.sum(noise_part**2, axis=1))}

def data_space(params: Mapping[str, Any]) -> Product:
    """Finite data sets: X in [-2, 2]^(n x d), y in [-2, 2]^n, theta in [-2, 2]^d, and a bag assignment (the
    ranks of ``order`` in [0, 1]^n: sample perm[j] goes to bag j // k)."""
    n, d = int(params["n"]), int(params["d"])
    return Product(X=Box(-2.0, 2.0, (n, d)), y=Box(-2.0, 2.0, n), theta=Box(-2.0, 2.0, d), order=Box(0.0, 1.0, n))


def evaluate_data(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: ``ins``, ``bag``, ``reg`` and the conditional variances (sigma = 1) ``var_bag`` = tr A^-1 and
    ``var_ins`` = tr(S^-1 A S^-1) of the two estimators, with the bags given by the ranks of ``order``."""
    k = int(params["k"])
    perm = np.argsort(instances["order"], axis=1)
    X = np.take_along_axis(instances["X"], perm[:, :, None], axis=1)
    y = np.take_along_axis(instances["y"], perm, axis=1)
    Xx, yx, tx = xp.asarray(X), xp.asarray(y), xp.asarray(instances["theta"])
    out = loss_terms(Xx, yx, tx, k, xp)
    A, B = gram_parts(Xx, k, xp)
    risks = conditional_risks(A, B, 1.0, 0.0, xp)
    out["var_bag"], out["var_ins"] = risks["risk_bag"], risks["var_ins"]
    return {name: to_numpy(v) for name, v in out.items()}


def symbolic_identity_residual(k: int, d: int, regulariser_factor: Any = 1, bag_factor: Any = None) -> sp.Expr:
    """ins - (bag_factor * bag + regulariser_factor * reg) for one bag of size k in d dimensions, with symbolic
    x_ij, y_i, theta_j, expanded (bag_factor defaults to k). Zero iff the identity holds as a polynomial identity;
    a sum over bags of such terms, so one bag suffices."""
    k = _check_bags(k, k)
    X = sp.Matrix(k, d, lambda i, j: sp.Symbol(f"x_{i}_{j}"))
    y = sp.Matrix(k, 1, lambda i, _: sp.Symbol(f"y_{i}"))
    theta = sp.Matrix(d, 1, lambda j, _: sp.Symbol(f"theta_{j}"))
    f = X * theta
    ybar = sum(y) / k
    fbar = sum(f) / k
    ins = sum((ybar - fi) ** 2 for fi in f)
    bag = (ybar - fbar) ** 2
    reg = sum((fi - fbar) ** 2 for fi in f)
    factor = k if bag_factor is None else bag_factor
    return sp.expand(ins - (factor * bag + regulariser_factor * reg))
