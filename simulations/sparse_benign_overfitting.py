"""Instances for *Implicit Regularization Leads to Benign Overfitting for Sparse Linear Regression* (Zhou, Ge,
ICML 2023): sparse linear regression y = beta*^T x + xi with x ~ N(0, I_d), xi ~ N(0, sigma^2) and n < d samples,
fitted by the two classical interpolators the paper compares against.

One replicate: a design X (n x d) with i.i.d. N(0, 1) entries, noise xi ~ N(0, sigma^2 I_n), and the s-sparse
ground truth beta* = (1, ..., 1, 0, ..., 0) (s ones; the design is rotation invariant, so the support's position
does not matter). Measured: the excess test loss (1/2) E[(y - beta^T x)^2] - sigma^2 / 2 = ||beta - beta*||^2 / 2
of

* the minimum-l2-norm interpolator X^T (X X^T)^-1 y (``excess_l2``);
* the minimum-l1-norm interpolator, basis pursuit (``excess_l1``, batched interior point + certified vertex,
  :func:`solvers.sparse_interpolation.basis_pursuit`), with ``certified`` = 1 when its optimality certificate
  holds;
* ``guarantee`` = sigma^2 s log(d / s) / n, the order of test loss the paper says one can hope for.

Replicates are a leading batch axis of every array; nothing loops over them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from solvers.sparse_interpolation import basis_pursuit, min_l2_interpolator


def sparse_regression(rng: np.random.Generator, count: int, n: int, d: int, s: int, sigma: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` instances: X (count, n, d), y (count, n) and beta* (d,), the first s coordinates equal to 1."""
    if not (1 <= s <= d and 1 <= n < d):
        raise ValueError(f"need 1 <= s <= d and 1 <= n < d, got n = {n}, d = {d}, s = {s}")
    beta = np.zeros(d)
    beta[:s] = 1.0
    X = rng.standard_normal((count, n, d))
    y = X[:, :, :s].sum(axis=2) + sigma * rng.standard_normal((count, n))
    return X, y, beta


def _dims(params: Mapping[str, Any]) -> tuple[int, int, int, float]:
    n = int(params["n"])
    d = int(params["d"]) if "d" in params else int(round(float(params["kappa"]) * n))
    return n, d, int(params["s"]), float(params["sigma"])


def _excess(beta_hat: Any, beta: np.ndarray, xp: Any) -> Any:
    diff = beta_hat - xp.asarray(beta)[None, :]
    return 0.5 * xp.sum(diff * diff, axis=1)


def measure_min_l2(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                   ) -> dict[str, np.ndarray]:
    """``excess_l2`` of the minimum-l2 interpolator at (n, d, s, sigma)."""
    n, d, s, sigma = _dims(params)
    X, y, beta = sparse_regression(rng, count, n, d, s, sigma)
    return {"excess_l2": to_numpy(_excess(min_l2_interpolator(xp.asarray(X), xp.asarray(y), xp), beta, xp))}


def measure_interpolators(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                          ) -> dict[str, np.ndarray]:
    """``excess_l1``, ``excess_l2`` (same instances), ``certified`` and ``guarantee`` at (n, d or kappa n, s,
    sigma)."""
    n, d, s, sigma = _dims(params)
    X, y, beta = sparse_regression(rng, count, n, d, s, sigma)
    Xb, yb = xp.asarray(X), xp.asarray(y)
    bp = basis_pursuit(Xb, yb, xp)
    certified = xp.astype(bp.certified, Xb.dtype)
    return {
        "excess_l1": to_numpy(_excess(bp.beta, beta, xp)),
        "excess_l2": to_numpy(_excess(min_l2_interpolator(Xb, yb, xp), beta, xp)),
        "certified": to_numpy(certified),
        "guarantee": np.full(count, sigma**2 * s * math.log(d / s) / n),
    }
