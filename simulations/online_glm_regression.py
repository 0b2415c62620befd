"""Monte Carlo for online GLM regression with Gaussian noise (Zhao, Zhou, He, Gu, ICML 2023).

Linear link: each replicate draws its own unit-norm theta*, then a stream x_t ~ N(0, I/d),
y_t = <x_t, theta*> + sigma eps_t. FTRL with the squared loss and regulariser lam ||theta||^2 (online ridge)
runs on all replicates at once (solvers.online_regression).

Logistic link: theta* uniform on the sphere of radius ``radius``, x_t uniform on the unit sphere (so
|<x_t, theta*>| <= radius and f' >= f'(radius) on the comparator's predictions), y_t = f(<x_t, theta*>) +
sigma eps_t with f(z) = 1 / (1 + e^{-z}); FTRL on the GLM loss (solvers.online_regression.run_online_glm).

The random numbers are drawn with NumPy and moved to the backend, so every backend sees the same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.errors import UsageError
from solvers.online_regression import Stream, link_mean, run_online_glm, run_online_ridge

#: How the logistic FTRL iterate is computed (solvers.online_regression.run_online_glm): exactly (batched
#: Newton on the whole history) at every round up to EXACT_UNTIL and then whenever the round count has grown
#: by RESOLVE_RATIO, up to round RESOLVE_UNTIL, by online-Newton steps on the losses' second-order expansions in
#: between and after (measured: at T = 30000 the capped learner's mean pseudo-regret is within 0.05% of the
#: uncapped one's, at 60% of its cost; tests/test_online_glm_regression.py checks it against uncapped re-solves).
RESOLVE_RATIO = 2.0
EXACT_UNTIL = 10
RESOLVE_UNTIL = 2048


def unit_vectors(rng: np.random.Generator, count: int, d: int) -> np.ndarray:
    """``count`` directions uniform on the unit sphere of R^d."""
    v = rng.standard_normal((count, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def gaussian_stream(rng: np.random.Generator, xp: Any, theta_star: np.ndarray, sigma: float) -> Stream:
    """A data source for run_online_ridge: x ~ N(0, I/d), y = <x, theta*> + sigma N(0, 1), per replicate."""
    replicates, d = theta_star.shape

    def stream(t0: int, t1: int) -> tuple[Any, Any, Any]:
        n = t1 - t0
        x = rng.standard_normal((replicates, n, d)) / math.sqrt(d)
        f_star = np.einsum("rnd,rd->rn", x, theta_star)
        y = f_star + sigma * rng.standard_normal((replicates, n))
        return xp.asarray(x), xp.asarray(y), xp.asarray(f_star)

    return stream


def gaussian_instance(rng: np.random.Generator, replicates: int, T: int, d: int, sigma: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``replicates`` whole streams of T rounds as NumPy arrays x (R, T, d), y (R, T), f* = <x, theta*> (R, T).

    The same generator as :func:`measure_regret` (a unit theta* per replicate, then :func:`gaussian_stream`),
    materialised at once: the solver tests and the benchmark use it instead of a copy of the model.
    """
    theta_star = unit_vectors(rng, replicates, d)
    x, y, f_star = gaussian_stream(rng, np, theta_star, sigma)(0, T)
    return np.asarray(x), np.asarray(y), np.asarray(f_star)


def measure_regret(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Regrets after T rounds, and the growth of the regret per unit of log T between T/10 and T.

    Returns per replicate: ``R_pseudo`` (sum of (yhat - <x, theta*>)^2), ``R_hindsight`` (regret against the
    best fixed linear predictor in hindsight, OLS), and ``dR = (R(T) - R(T/10)) / log 10`` with R the realised
    regret against theta*. dR removes the constant terms (the ridge bias lam ||theta*||^2) that would otherwise
    blur the sigma and d exponents at small sigma. No claim reads R(T) itself, so it is not returned.
    """
    T, d, sigma, lam = int(params["T"]), int(params["d"]), float(params["sigma"]), float(params["lam"])
    theta_star = unit_vectors(rng, n, d)
    checkpoints = (T // 10, T)
    # Chunks of 100 rounds (every swept horizon is a multiple of 100) make the random numbers drawn for the first
    # T rounds the same whatever the horizon, so under common random numbers replicate r at horizon T is the
    # prefix of replicate r at every longer horizon: one trajectory observed at several horizons.
    chunk = 100 if T % 100 == 0 else 256
    result = run_online_ridge(gaussian_stream(rng, xp, theta_star, sigma), T, lam, checkpoints, chunk_size=chunk)
    regret = to_numpy(result.regret)
    return {
        "R_pseudo": to_numpy(result.pseudo_regret)[:, 1],
        "R_hindsight": to_numpy(result.hindsight_regret)[:, 1],
        "dR": (regret[:, 1] - regret[:, 0]) / math.log(10.0),
    }


# ----------------------------------------------------------------------------- logistic link


def _check_sigma(sigma: float) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not (math.isfinite(sigma) and sigma >= 0):
        raise UsageError(f"sigma must be a finite real number >= 0 (the noise level), got {sigma!r}")
    return float(sigma)


def sphere_logistic_stream(rng: np.random.Generator, xp: Any, theta_star: np.ndarray, sigma: float) -> Stream:
    """A data source for run_online_glm: x uniform on the unit sphere, y = f(<x, theta*>) + sigma N(0, 1)."""
    sigma = _check_sigma(sigma)
    if theta_star.ndim != 2:
        raise UsageError(f"theta_star must have shape (R, d), got {theta_star.shape}")
    replicates, d = theta_star.shape

    def stream(t0: int, t1: int) -> tuple[Any, Any, Any]:
        n = t1 - t0
        x = rng.standard_normal((replicates, n, d))
        x *= (1.0 / np.sqrt(np.einsum("rnd,rnd->rn", x, x)))[..., None]
        f_star = link_mean(np, np.einsum("rnd,rd->rn", x, theta_star))
        y = f_star + sigma * rng.standard_normal((replicates, n))
        return xp.asarray(x), xp.asarray(y), xp.asarray(f_star)

    return stream


def logistic_instance(rng: np.random.Generator, replicates: int, T: int, d: int, sigma: float = 0.5,
                      radius: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``replicates`` whole logistic streams of T rounds: x (R, T, d), y (R, T), f* = f(<x, theta*>) (R, T).

    The generator of :func:`measure_logistic_regret`, materialised at once, for the solver tests.
    """
    theta_star = radius * unit_vectors(rng, replicates, d)
    x, y, f_star = sphere_logistic_stream(rng, np, theta_star, sigma)(0, T)
    return np.asarray(x), np.asarray(y), np.asarray(f_star)


def measure_logistic_regret(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                            ) -> dict[str, np.ndarray]:
    """Logistic-link FTRL: pseudo-regret after T rounds and its growth per unit of log T between T/10 and T.

    Returns per replicate ``RL_pseudo`` = sum_t (f(<x_t, theta_t>) - f(<x_t, theta*>))^2 (the regret against
    theta* without its zero-mean noise term: same mean) and ``dRL = (RL_pseudo(T) - RL_pseudo(T/10)) / log 10``,
    which removes the constant terms (the regulariser's bias) that would blur the sigma and d exponents.
    """
    T, d, lam = int(params["T"]), int(params["d"]), float(params["lam"])
    sigma, radius = _check_sigma(float(params["sigma"])), float(params["radius"])
    theta_star = radius * unit_vectors(rng, n, d)
    chunk = 100 if T % 100 == 0 else 256  # as measure_regret: replicate r at T is a prefix of it at 10 T
    result = run_online_glm(sphere_logistic_stream(rng, xp, theta_star, sigma), T, lam, (max(T // 10, 1), T),
                            resolve_ratio=RESOLVE_RATIO, exact_until=EXACT_UNTIL, resolve_until=RESOLVE_UNTIL,
                            chunk_size=chunk)
    pseudo = to_numpy(result.pseudo_regret)
    return {"RL_pseudo": pseudo[:, 1], "dRL": (pseudo[:, 1] - pseudo[:, 0]) / math.log(10.0)}
