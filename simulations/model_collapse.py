"""Instances for *Model Collapse Demystified: The Case of Regression* (Dohmatob, Feng, Kempe, NeurIPS 2024): ordinary
least squares retrained on its own outputs for n generations, then used to label the training data of a final
(downstream) OLS fit.

One replicate, with covariates x ~ N(0, Sigma) in d dimensions and a ground truth w_0 (a random unit vector):

* generation k = 1 .. n: T_0 fresh covariates, labels y = x . w_{k-1} + N(0, sigma_0^2), and w_k their OLS fit;
* downstream: T fresh covariates, labels y = x . w_n + N(0, sigma^2), and w_pred their OLS fit;
* measured: the test error ||w_pred - w_0||_Sigma^2 = (w_pred - w_0)^T Sigma (w_pred - w_0).

Sigma is the identity or a power-law spectrum diag(j^-1) (``spectrum``). Every replicate is one slice of a batched
solve (a leading axis of ``count`` normal-equation systems), so the generations are a short loop over n, never over
replicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy


def spectrum(params: Mapping[str, Any]) -> np.ndarray:
    """The eigenvalues of Sigma (diagonal): ones, or j^-1 for j = 1 .. d."""
    d = int(params["d"])
    if params["spectrum"] == "identity":
        return np.ones(d)
    if params["spectrum"] == "power":
        return 1.0 / np.arange(1, d + 1)
    raise ValueError(f"spectrum must be 'identity' or 'power', got {params['spectrum']!r}")


def ols_fit(X: Any, y: Any, xp: Any) -> Any:
    """Batched OLS: w = (X^T X)^-1 X^T y for X (count, T, d) and y (count, T)."""
    Xt = xp.permute_dims(X, (0, 2, 1))
    return xp.linalg.solve(Xt @ X, (Xt @ y[:, :, None]))[:, :, 0]


def _labelled(rng: np.random.Generator, count: int, rows: int, scale: np.ndarray, w: Any, noise: float, xp: Any
              ) -> tuple[Any, Any]:
    X = xp.asarray(rng.standard_normal((count, rows, scale.size)) * scale)
    y = (X @ w[:, :, None])[:, :, 0] + noise * xp.asarray(rng.standard_normal((count, rows)))
    return X, y


def measure_collapse(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                     ) -> dict[str, np.ndarray]:
    """``test_error`` = ||w_pred - w_0||_Sigma^2 after n generations of self-training (one value per replicate)."""
    d, T0, T, n = int(params["d"]), int(params["T0"]), int(params["T"]), int(params["n"])
    sigma, sigma0 = float(params["sigma"]), float(params["sigma0"])
    eig = spectrum(params)
    scale = np.sqrt(eig)
    w0 = rng.standard_normal((count, d))
    w0 /= np.linalg.norm(w0, axis=1, keepdims=True)
    w0 = xp.asarray(w0)
    w = w0
    for _ in range(n):
        w = ols_fit(*_labelled(rng, count, T0, scale, w, sigma0, xp), xp)
    w_pred = ols_fit(*_labelled(rng, count, T, scale, w, sigma, xp), xp)
    diff = w_pred - w0
    return {"test_error": to_numpy(xp.sum(diff * diff * xp.asarray(eig), axis=1))}
