"""Instances and measurements for the CoLiDE concomitant scores (Saboksayr, Mateos, Tepper, ICLR 2024); the
computations are in solvers.colide.

Three instance spaces, every instance valid by construction:

* ``hessian_space``: data X (n, d) in a box, any W (d, d) in a box, log noise scales in [-3, 3] (the first is
  the EV sigma, all d the NV sigma_j). Random draws: Gaussian data and W, uniform log sigma.
* ``argmin_space``: X = e^s [I_d; Z] (full column rank: X^T X >= e^(2s) I) with Z in a box and s in [-3, 3],
  W with zero diagonal (a DAG has no self-loop), so every residual column x_j - X w_j is nonzero.
* ``sem_space``: a linear SEM X = X W* + Z with W* strictly upper triangular (a DAG) and unit-level noise
  Z = [I_d; Z'] (full column rank); the data at noise level c is c X.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy
from solvers import colide

NEAR_POWER = 1.0 + 1e-7  # the near-resolution variant: fit term over sigma^(1 + 1e-7)
SHIFT = 1e-5  # the near-resolution variant of the noise estimate: sigma_hat (1 + 1e-5)
LOG_SIGMA = (-30.0, 30.0)  # the golden-section bracket in log sigma (independent of the closed form)
GOLDEN_ITERS = 200
SOLVER_ITERS = 2000


def _clip_sampler(space_fn: Any, draw: Any) -> Any:
    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        space = space_fn()
        return np.clip(draw(rng, n), space.low, space.high)
    return sample


# ----------------------------------------------------------------------------------------------- convexity

def hessian_space(params: Mapping[str, Any]) -> Product:
    """(X, W, log_sigma) for n samples and d nodes."""
    n, d = int(params["n"]), int(params["d"])

    def draw(rng: np.random.Generator, N: int) -> np.ndarray:
        X = rng.standard_normal((N, n * d))
        W = rng.standard_normal((N, d * d))
        s = rng.uniform(-3.0, 3.0, (N, d))
        return np.concatenate([X, W, s], axis=1)

    def build(sampler: Any = None) -> Product:
        return Product(sampler=sampler, X=Box(-3.0, 3.0, (n, d)), W=Box(-3.0, 3.0, (d, d)),
                       log_sigma=Box(-3.0, 3.0, d))

    return build(_clip_sampler(build, draw))


def evaluate_hessian(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                     ) -> dict[str, np.ndarray]:
    """lambda_min / max |lambda| of the smooth part's Hessian in (vec W, sigma): the EV and NV scores (p = 1),
    the variants with sigma^2 (p = 2) and sigma^(1 + 1e-7) in the fit term's denominator."""
    X, W = xp.asarray(instances["X"]), xp.asarray(instances["W"])
    S = xp.exp(xp.asarray(instances["log_sigma"]))
    s = S[:, 0]
    out = {}
    for tag, p in (("", 1.0), ("_sq", 2.0), ("_near", NEAR_POWER)):
        out[f"lam_ev{tag}"] = to_numpy(colide.relative_min_eigenvalue(colide.hessian_ev(X, W, s, p)))
        out[f"lam_nv{tag}"] = to_numpy(colide.relative_min_eigenvalue(colide.hessian_nv(X, W, S, p)))
    return out


# ----------------------------------------------------------------------------------------------- noise argmin

def argmin_space(params: Mapping[str, Any]) -> Product:
    """(Z, W off-diagonal, log scale): X = e^s [I_d; Z]."""
    n, d = int(params["n"]), int(params["d"])

    def draw(rng: np.random.Generator, N: int) -> np.ndarray:
        Z = rng.standard_normal((N, (n - d) * d))
        W = rng.standard_normal((N, d * (d - 1)))
        s = rng.uniform(-3.0, 3.0, (N, 1))
        return np.concatenate([Z, W, s], axis=1)

    def build(sampler: Any = None) -> Product:
        return Product(sampler=sampler, Z=Box(-3.0, 3.0, (n - d, d)), W_off=Box(-3.0, 3.0, d * (d - 1)),
                       log_scale=Box(-3.0, 3.0, 1))

    return build(_clip_sampler(build, draw))


def argmin_arrays(params: Mapping[str, Any], instances: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """X (N, n, d) and W (N, d, d) with zero diagonal from decoded instances."""
    d = int(params["d"])
    Z = instances["Z"]
    N = Z.shape[0]
    scale = np.exp(instances["log_scale"][:, 0])[:, None, None]
    X = scale * np.concatenate([np.broadcast_to(np.eye(d), (N, d, d)), Z], axis=1)
    off = ~np.eye(d, dtype=bool)
    W = np.zeros((N, d, d))
    W[:, off] = instances["W_off"]
    return X, W


def _rel(xp: Any, estimate: Any, argmin: Any) -> Any:
    return xp.abs(estimate - argmin) / argmin


def evaluate_argmin(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                    ) -> dict[str, np.ndarray]:
    """Relative distance of the closed-form noise estimates (and of wrong variants) to the numerical argmin
    over sigma (golden section in log sigma, no derivative) of the EV and NV scores at fixed W."""
    Xn, Wn = argmin_arrays(params, instances)
    X, W = xp.asarray(Xn), xp.asarray(Wn)
    N, n, d = X.shape
    R2 = xp.sum(colide.residual(X, W) ** 2, axis=1)  # (N, d)
    total = xp.sum(R2, axis=1)

    def f_ev(u: Any) -> Any:  # the EV score at sigma = e^u, up to lambda ||W||_1 (constant in sigma)
        return total / (2 * n * xp.exp(u)) + d * xp.exp(u) / 2

    def f_nv(u: Any) -> Any:  # column j of the NV score (the score is separable in sigma_j)
        return R2 / (2 * n * xp.exp(u)) + xp.exp(u) / 2

    lo, hi = LOG_SIGMA
    arg_ev = xp.exp(colide.golden_section_argmin(f_ev, xp.full((N,), lo, dtype=X.dtype),
                                                 xp.full((N,), hi, dtype=X.dtype), GOLDEN_ITERS))
    arg_nv = xp.exp(colide.golden_section_argmin(f_nv, xp.full((N, d), lo, dtype=X.dtype),
                                                 xp.full((N, d), hi, dtype=X.dtype), GOLDEN_ITERS))
    s_ev, s_nv = colide.sigma_ev(X, W), colide.sigma_nv(X, W)
    norm = xp.sqrt(total)
    return {
        "err_ev": to_numpy(_rel(xp, s_ev, arg_ev)),
        "err_ev_sqrt_n": to_numpy(_rel(xp, norm / n**0.5, arg_ev)),
        "err_ev_n_minus_1": to_numpy(_rel(xp, norm / ((n - 1) * d) ** 0.5, arg_ev)),
        "err_ev_shift": to_numpy(_rel(xp, s_ev * (1 + SHIFT), arg_ev)),
        "err_nv": to_numpy(xp.max(_rel(xp, s_nv, arg_nv), axis=1)),
        "err_nv_sqrt_nd": to_numpy(xp.max(_rel(xp, s_nv / d**0.5, arg_nv), axis=1)),
        "err_nv_pooled": to_numpy(xp.max(_rel(xp, s_ev[:, None], arg_nv), axis=1)),
        "sigma_ev": to_numpy(s_ev),
    }


# ----------------------------------------------------------------------------------------------- zero threshold

def sem_space(params: Mapping[str, Any]) -> Product:
    """(Z', W* strictly upper triangular entries over the first d - 1 nodes): node d has no parent and no child."""
    n, d = int(params["n"]), int(params["d"])
    m = (d - 1) * (d - 2) // 2

    def draw(rng: np.random.Generator, N: int) -> np.ndarray:
        Z = rng.standard_normal((N, (n - d) * d))
        W = rng.choice([-1.0, 1.0], (N, m)) * rng.uniform(0.3, 1.0, (N, m)) * (rng.uniform(size=(N, m)) < 0.5)
        return np.concatenate([Z, W], axis=1)

    def build(sampler: Any = None) -> Product:
        return Product(sampler=sampler, Z=Box(-3.0, 3.0, (n - d, d)), W_upper=Box(-1.0, 1.0, m))

    return build(_clip_sampler(build, draw))


def sem_data(params: Mapping[str, Any], instances: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Unit-level data X (N, n, d) of the SEM X = X W* + Z, Z = [I_d; Z'], and W* (N, d, d) (last row and
    column zero: node d is isolated, its column is its noise)."""
    d = int(params["d"])
    Zp = instances["Z"]
    N = Zp.shape[0]
    Z = np.concatenate([np.broadcast_to(np.eye(d), (N, d, d)), Zp], axis=1)
    Ws = np.zeros((N, d, d))
    mask = np.zeros((d, d), dtype=bool)
    mask[: d - 1, : d - 1] = np.triu(np.ones((d - 1, d - 1), dtype=bool), k=1)
    Ws[:, mask] = instances["W_upper"]
    return Z @ np.linalg.inv(np.eye(d) - Ws), Ws


def noise_levels(params: Mapping[str, Any]) -> tuple[float, ...]:
    """The noise levels c of node d: 1 / spread, 1, spread."""
    spread = float(params["spread"])
    return (1.0 / spread, 1.0, spread)


def evaluate_threshold(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                       ) -> dict[str, np.ndarray]:
    """Node d's noise scaled by c at every level (the other nodes fixed); lambda fixed from the unit-level data:
    the convex NV score at node d's threshold (1 +- eps), the lasso score at its own unit-level threshold for
    node d (1 + eps), the convex EV score at its unit-level threshold (1 + eps); one batched solve each."""
    X1n, _ = sem_data(params, instances)
    eps = float(params["eps"])
    X1 = xp.asarray(X1n)
    N, n, d = X1.shape
    levels = noise_levels(params)
    L = len(levels)
    col = xp.reshape(xp.astype(xp.arange(d) == d - 1, X1.dtype), (1, 1, d))
    Xc = xp.concat([X1 * (1.0 + (c - 1.0) * col) for c in levels], axis=0)  # level-major (L N, n, d)

    def tile(v: Any) -> Any:
        return xp.concat([v] * L, axis=0)

    def per_level(v: Any) -> Any:  # (L N,) -> (L, N)
        return xp.reshape(v, (L, N))

    lam_nv = colide.zero_threshold_nv(X1)[:, d - 1]
    lam_lasso = colide.zero_threshold_lasso_columns(X1)[:, d - 1]
    lam_ev = colide.zero_threshold_ev(X1)
    X2 = xp.concat([Xc, Xc], axis=0)
    lam2 = xp.concat([tile(lam_nv * (1 + eps)), tile(lam_nv * (1 - eps))], axis=0)
    W_nv = colide.solve(X2, lam2, "colide-nv", SOLVER_ITERS)
    W_lasso = colide.solve(Xc, tile(lam_lasso * (1 + eps)), "lasso", SOLVER_ITERS)
    W_ev = colide.solve(Xc, tile(lam_ev * (1 + eps)), "colide", SOLVER_ITERS)
    big = xp.max(xp.abs(W_nv[:, :, d - 1]), axis=1)  # node d's parents' weights
    above, below = per_level(big[: L * N]), per_level(big[L * N:])
    w_below = W_nv[L * N:, :, d - 1]  # (L N, d)
    G = Xc.mT @ Xc
    off = xp.reshape(1.0 - col[0, 0, :], (1, d))
    cert = (xp.max(xp.abs(xp.sum(G * w_below[:, None, :], axis=2)) * off, axis=1)
            / xp.max(xp.abs(G[:, :, d - 1]) * off, axis=1))
    kkt = colide.kkt_residual(X2, W_nv, lam2, "colide-nv")
    return {
        "zero_above": to_numpy(xp.max(above, axis=0)),
        "zero_below": to_numpy(xp.max(below, axis=0)),
        "cert_below": to_numpy(xp.min(per_level(cert), axis=0)),
        "zero_above_lasso": to_numpy(xp.max(per_level(xp.max(xp.abs(W_lasso[:, :, d - 1]), axis=1)), axis=0)),
        "zero_above_ev": to_numpy(xp.max(per_level(xp.max(xp.abs(W_ev), axis=(1, 2))), axis=0)),
        "support_below": to_numpy(xp.min(per_level(xp.sum(xp.astype(xp.abs(w_below) > 0, X1.dtype), axis=1)),
                                         axis=0)),
        "kkt_residual": to_numpy(xp.max(xp.reshape(kkt, (2 * L, N)), axis=0)),
        "lam0": to_numpy(lam_nv),
    }
