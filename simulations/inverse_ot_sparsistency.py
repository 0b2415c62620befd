"""Instances and measurements for sparsistency of l1-regularised inverse optimal transport (Andrade, Peyre, Poon,
ICLR 2024).

The design (seeded, declared in the sweep): N points x_i and N points y_j in R^3, standard Gaussian, except that
the third coordinate of x is correlated with the first two, x_3 = rho (x_1 + x_2) / sqrt(2) + sqrt(1 - rho^2) xi;
uniform marginals; the bilinear cost c_A(x, y) = -x^T A y (K = 9 features); the true parameter A* has the support
S = {(1, 1), (2, 1)} with entries +1. The correlation rho moves the precertificate: its sup-norm off S is 0.33 at
rho = 0 (non-degenerate) and 1.18 at rho = 0.9 (degenerate) for the seed used. Every measurement recomputes it
(``ic``) and reports NaN where the instance does not satisfy the claim's condition, which leaves the claim
inconclusive rather than decided on a wrong instance.

Samples: n pairs drawn from pi* = Sink(c_{A*}, eps) as one multinomial array over all replicates; the estimator
uses the empirical coupling and its marginals (:func:`solvers.inverse_ot.solve_l1_iot`, batched over replicates).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.spaces import Box, Product
from solvers import inverse_ot as iot

Params = Mapping[str, Any]
D = 3
SUPPORT = ((0, 0), (1, 0))
TOL = 1e-9          # KKT residual of the solver
LAMBDA_LOW = 1e-3   # smallest penalty of the population sweeps


def a_star() -> np.ndarray:
    """A* (K,) = vec of the 3 x 3 matrix with +1 at (1, 1) and (2, 1) (row-major)."""
    A = np.zeros((D, D))
    for i, j in SUPPORT:
        A[i, j] = 1.0
    return A.ravel()


def design(N: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The point clouds x (N, 3), y (N, 3) of the design (see the module docstring)."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((N, D)), rng.standard_normal((N, D))
    x[:, 2] = rho * (x[:, 0] + x[:, 1]) / np.sqrt(2.0) + np.sqrt(1.0 - rho * rho) * x[:, 2]
    return x, y


@functools.lru_cache(maxsize=32)
def instance(N: int, rho: float, seed: int, eps: float) -> dict[str, Any]:
    """Features C (K, N, N), uniform marginals, A*, the population plan pi*, the precertificate z, its sup-norm
    off the support ``ic``, and lambda_max = ||grad L(0)||_inf (the smallest penalty with estimate 0)."""
    x, y = design(N, rho, seed)
    C = iot.bilinear_features(x, y)
    a = np.full(N, 1.0 / N)
    A = a_star()
    pi = iot.entropic_plan(A, C, a, a, eps)[0]
    z = iot.precertificate(A, C, a, a, eps)
    off = A == 0
    lam_max = float(np.max(np.abs(np.tensordot(C, pi - np.outer(a, a), axes=([1, 2], [0, 1])))))
    return {"C": C, "a": a, "A": A, "pi": pi, "z": z, "ic": float(np.max(np.abs(z[off]))), "lam_max": lam_max}


def recovery(A_hat: np.ndarray, grad: np.ndarray, lam: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per estimate: ``miss`` (1 when sign(A_hat) != sign(A*) somewhere) and ``Q``, the dual certificate's size off
    the support, max_{k not in S} |grad_k L(A_hat)| / lam, set to 1 on a miss (so Q < 1 exactly when the sign is
    recovered, and Q then says how close the estimate came to activating a wrong entry)."""
    miss = np.any(np.sign(A_hat) != np.sign(A)[None, :], axis=1)
    cert = np.max(np.abs(grad[:, A == 0]), axis=1) / lam
    return miss.astype(float), np.where(miss, 1.0, np.minimum(cert, 1.0))


def measure_recovery(params: Params, rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Replicates: n_samples pairs from pi* (one multinomial array), l1-iOT at lam = c / sqrt(n_samples) on the
    empirical coupling; the sign miss, the certificate Q, and the instance's precertificate norm ``ic`` (NaN
    outputs when ic >= 1: the claim's condition fails)."""
    N, rho, seed, eps = int(params["N"]), float(params["rho"]), int(params["seed"]), float(params["eps"])
    m, c = int(params["n"]), float(params["c"])
    inst = instance(N, rho, seed, eps)
    counts = rng.multinomial(m, inst["pi"].ravel(), size=n).reshape(n, N, N) / m
    lam = c / np.sqrt(m)
    res = iot.solve_l1_iot(xp.asarray(counts), xp.asarray(inst["C"]), eps, lam, tol=TOL)
    A_hat, grad = to_numpy(res.A), to_numpy(res.grad)
    miss, Q = recovery(A_hat, grad, np.full(n, lam), inst["A"])
    ok = inst["ic"] < 1.0
    nan = np.full(n, np.nan)
    return {"miss": miss if ok else nan, "Q": Q if ok else nan, "ic": np.full(n, inst["ic"]),
            "converged": to_numpy(res.converged).astype(float)}


def penalty_space(params: Params) -> Product:
    """log10 lambda in [log10 1e-3, log10 (lambda_max / 10)] (lambda_max of the non-degenerate instance)."""
    inst = instance(int(params["N"]), float(params["rho_good"]), int(params["seed"]), float(params["eps"]))
    return Product(log_lambda=Box(float(np.log10(LAMBDA_LOW)), float(np.log10(inst["lam_max"] / 10.0)), shape=(1,)))


def _population(inst: dict[str, Any], lam: np.ndarray, eps: float, xp: Any) -> tuple[np.ndarray, np.ndarray]:
    B = lam.shape[0]
    pi = np.broadcast_to(inst["pi"], (B,) + inst["pi"].shape)
    res = iot.solve_l1_iot(xp.asarray(pi), xp.asarray(inst["C"]), eps, xp.asarray(lam), a=xp.asarray(inst["a"]),
                           b=xp.asarray(inst["a"]), tol=TOL)
    miss, Q = recovery(to_numpy(res.A), to_numpy(res.grad), lam, inst["A"])
    return miss, Q


def evaluate_population(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per penalty lambda (10^coordinate): l1-iOT on the population plan pi* (no sampling noise) of the
    non-degenerate instance (rho_good) at lambda and at 10 lambda, and of the degenerate one (rho_bad) at lambda:
    the sign misses; the two precertificate norms (NaN misses where an instance breaks its condition)."""
    N, seed, eps = int(params["N"]), int(params["seed"]), float(params["eps"])
    lam = 10.0 ** np.asarray(instances["log_lambda"], dtype=float).reshape(-1)
    good = instance(N, float(params["rho_good"]), seed, eps)
    bad = instance(N, float(params["rho_bad"]), seed, eps)
    miss_good, Q_good = _population(good, lam, eps, xp)
    miss_good_10, _ = _population(good, 10.0 * lam, eps, xp)
    miss_bad, _ = _population(bad, lam, eps, xp)
    nan = np.full(lam.shape, np.nan)
    return {"miss_good": miss_good if good["ic"] < 1 else nan, "miss_good_10": miss_good_10,
            "Q_good": Q_good, "miss_bad": miss_bad if bad["ic"] > 1 else nan,
            "ic_good": np.full(lam.shape, good["ic"]), "ic_bad": np.full(lam.shape, bad["ic"])}
