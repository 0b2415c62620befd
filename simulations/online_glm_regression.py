"""Monte Carlo for online linear regression with Gaussian noise (Zhao, Zhou, He, Gu, ICML 2023).

Each replicate draws its own unit-norm theta*, then a stream x_t ~ N(0, I/d), y_t = <x_t, theta*> + sigma eps_t.
FTRL with the squared loss and regulariser lam ||theta||^2 (online ridge) runs on all replicates at once
(solvers.online_regression); the random numbers are drawn with NumPy and moved to the backend, so every
backend sees the same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from solvers.online_regression import Stream, run_online_ridge


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
