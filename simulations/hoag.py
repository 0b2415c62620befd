"""Instances and measurements for *Hyperparameter optimization with approximate gradient* (Pedregosa, ICML 2016).

Instances: bilevel ridge regression (solvers.hoag) with d = 5 features, 20 training and 50 validation rows,
Gaussian design, a planted w ~ N(0, I/4) and unit label noise, on the hyperparameter domain D = [-6, 6] (lam is
the log of the ridge penalty). The exact reference for every instance is its stationary set on D (roots of the
closed-form hypergradient f', refined by bisection to float64 precision) and a Lipschitz constant L of f' on D.

Instance class (stated, not hidden): an instance is kept when f has exactly one stationary point lam* on D, in
the interior (at least 0.5 from either end), with curvature f''(lam*) >= 0.05 L. The theorem covers every
instance; this class is where the limit is reached within the sweep's few hundred outer steps (projected
gradient descent with step 1/L contracts by about 1 - f''(lam*)/L per step near lam*). Rejection runs in rounds
over the whole batch (about three quarters of the draws are kept), never per replicate.

Every run starts at lam_0 = 0 with x and q at 0, and uses the step 1/L.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, Sphere, to_numpy
from solvers.hoag import RidgeBilevel, gradient_mapping, hoag, hypergradient, reference

FEATURES, TRAIN, VALID = 5, 20, 50
SIGNAL = 0.5  # standard deviation of the planted coefficients
DOMAIN = (-6.0, 6.0)
MARGIN = 0.5  # lam* at least this far inside D
CURVATURE = 0.05  # f''(lam*) >= CURVATURE * L
EPS0 = 1e-2  # the first tolerance of every schedule
FIXED_EPS = 1e-3  # the fixed tolerance run beside the summable schedules


def quadratic(k: int) -> float:
    """eps_k = eps_0 / k^2 (summable: the sum is eps_0 pi^2 / 6)."""
    return EPS0 / k**2


def geometric(k: int) -> float:
    """eps_k = eps_0 0.95^k (summable: the sum is 19 eps_0)."""
    return EPS0 * 0.95**k


def fixed(eps: float) -> Callable[[int], float]:
    """eps_k = eps for every k (not summable)."""
    return lambda k: eps


def _candidates(rng: np.random.Generator, n: int, xp: Any) -> RidgeBilevel:
    w = rng.normal(size=(n, FEATURES)) * SIGNAL
    A = rng.normal(size=(n, TRAIN, FEATURES))
    Av = rng.normal(size=(n, VALID, FEATURES))
    b = np.einsum("nmd,nd->nm", A, w) + rng.normal(size=(n, TRAIN))
    bv = np.einsum("nmd,nd->nm", Av, w) + rng.normal(size=(n, VALID))
    return RidgeBilevel(xp.asarray(A), xp.asarray(b), xp.asarray(Av), xp.asarray(bv), *DOMAIN)


def draw_problems(rng: np.random.Generator, n: int, xp: Any) -> tuple[RidgeBilevel, Any, Any]:
    """``n`` instances of the class above, with their exact stationary points lam* (n,) and constants L (n,)."""
    kept: list[tuple[np.ndarray, ...]] = []
    have = 0
    for _ in range(50):
        batch = _candidates(rng, max((4 * (n - have)) // 3, 16), xp)
        count, root, L = reference(batch, xp=xp)
        curvature = hypergradient(batch, root, xp).d2f
        ok = to_numpy((count == 1) & (root >= DOMAIN[0] + MARGIN) & (root <= DOMAIN[1] - MARGIN)
                      & (curvature >= CURVATURE * L))
        idx = np.flatnonzero(ok)[: n - have]
        arrays = [to_numpy(a)[idx] for a in (batch.A, batch.b, batch.Av, batch.bv, root, L)]
        kept.append(tuple(arrays))
        have += idx.size
        if have == n:
            break
    else:
        raise RuntimeError(f"only {have} of {n} instances met the instance class in 50 rounds")
    A, b, Av, bv, root, L = (xp.asarray(np.concatenate([k[i] for k in kept])) for i in range(6))
    return RidgeBilevel(A, b, Av, bv, *DOMAIN), root, L


def measure_schedules(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                      ) -> dict[str, np.ndarray]:
    """K HOAG steps on ``n`` instances with the quadratic, the geometric and the fixed (FIXED_EPS) tolerances:
    per replicate the distance |lam_K - lam*| of each run (``dist_quad``, ``dist_geo``, ``dist_fixed``) and the
    gradient mapping |L (lam_K - P_D(lam_K - f'(lam_K)/L))| of the quadratic and fixed runs (``gm_quad``,
    ``gm_fixed``)."""
    K = int(params["K"])
    problem, root, L = draw_problems(rng, n, xp)
    lam0 = xp.zeros_like(root)
    out: dict[str, np.ndarray] = {}
    for name, schedule in (("quad", quadratic), ("geo", geometric), ("fixed", fixed(FIXED_EPS))):
        lam = hoag(problem, lam0, L, schedule, K, xp=xp).lam
        out[f"dist_{name}"] = to_numpy(xp.abs(lam - root))
        if name != "geo":
            out[f"gm_{name}"] = to_numpy(gradient_mapping(problem, lam, L, xp))
    return out


def measure_plateau(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                    ) -> dict[str, np.ndarray]:
    """K HOAG steps with the fixed tolerance eps = 1 / inv_eps: the final distance ``plateau`` = |lam_K - lam*|
    and the gradient mapping ``gm_plateau``."""
    K, eps = int(params["K"]), 1.0 / float(params["inv_eps"])
    problem, root, L = draw_problems(rng, n, xp)
    lam = hoag(problem, xp.zeros_like(root), L, fixed(eps), K, xp=xp).lam
    return {"plateau": to_numpy(xp.abs(lam - root)), "gm_plateau": to_numpy(gradient_mapping(problem, lam, L, xp))}


# The approximate hypergradient's error (a sure claim): small instances, so that the search can move every entry.
ERR_FEATURES, ERR_TRAIN, ERR_VALID = 3, 6, 6


def error_space(params: Mapping[str, Any]) -> Product:
    """(A, b, A_v, b_v, lam, dx, r): data in [-2, 2], lam in D, and the inner error dx = x - X(lam) and the linear
    system's residual r = H q - grad g(x), each of norm exactly eps (the largest errors HOAG's step k allows)."""
    eps = float(params["eps"])
    d, m, mv = ERR_FEATURES, ERR_TRAIN, ERR_VALID
    return Product(A=Box(-2.0, 2.0, m * d), b=Box(-2.0, 2.0, m), Av=Box(-2.0, 2.0, mv * d), bv=Box(-2.0, 2.0, mv),
                   lam=Box(DOMAIN[0], DOMAIN[1], 1), dx=Sphere(d, eps), r=Sphere(d, eps))


def evaluate_error(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: ``grad_error`` = |p - f'(lam)| for x = X(lam) + dx and q = H^-1 (grad g(x) + r), and the
    reconstructed bound's constant ``C_err`` = t (||q|| + ||X|| (1 + ||A_v||_2^2) / mu), mu = sigma_min(A^T A) + t,
    so that the bound reads |p - f'| <= C_err eps."""
    n = instances["b"].shape[0]
    d, m, mv = ERR_FEATURES, ERR_TRAIN, ERR_VALID
    A = xp.asarray(instances["A"].reshape(n, m, d))
    Av = xp.asarray(instances["Av"].reshape(n, mv, d))
    problem = RidgeBilevel(A, xp.asarray(instances["b"]), Av, xp.asarray(instances["bv"]), *DOMAIN)
    lam = xp.asarray(instances["lam"][:, 0])
    exact = hypergradient(problem, lam, xp)
    G = xp.matrix_transpose(A) @ A
    Gv = xp.matrix_transpose(Av) @ Av
    t = xp.exp(lam)
    H = G + t[:, None, None] * xp.eye(d, dtype=G.dtype)
    x = exact.X + xp.asarray(instances["dx"])
    rhs = (Gv @ x[..., None])[..., 0] - (xp.matrix_transpose(Av) @ problem.bv[..., None])[..., 0]
    q = xp.linalg.solve(H, (rhs + xp.asarray(instances["r"]))[..., None])[..., 0]
    p = -t * xp.sum(x * q, axis=-1)
    mu = xp.linalg.eigvalsh(G)[:, 0] + t
    av_norm2 = xp.linalg.eigvalsh(Gv)[:, -1]
    C = t * (xp.linalg.vector_norm(q, axis=-1) + xp.linalg.vector_norm(exact.X, axis=-1) * (1.0 + av_norm2) / mu)
    return {"grad_error": to_numpy(xp.abs(p - exact.df)), "C_err": to_numpy(C)}
