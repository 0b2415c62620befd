r"""Instances and measurements for *Understanding Incremental Learning of Gradient Descent: A Fine-grained Analysis
of Matrix Sensing* (Jin, Li, Lyu, Du, Lee, ICML 2023).

One replicate: a rank-r PSD ground truth X* = V diag(lambda) V^T (V uniform on the Stiefel manifold,
lambda_k = lam_top * ratio^(k-1)), m symmetrised Gaussian measurements A_i = (G_i + G_i^T) / 2 (G_i with i.i.d.
N(0, 1) entries, so <A_i, X> ~ N(0, ||X||_F^2) and E <A_i, X> A_i = X), y_i = <A_i, X*>, and GD on
f(U) = 1/(2m) sum_i (<A_i, U U^T> - y_i)^2 from U_0 = alpha Ubar (Ubar: d x width, i.i.d. N(0, 1/d) entries), with
the same (X*, A, Ubar) at every alpha (common random numbers). The solvers are in ``solvers/matrix_sensing.py``.

* ``measure_plateau_times``: the plateau times T_k(alpha) (first step where the k-th eigenvalue of U U^T exceeds
  lambda_k / 2, interpolated in log) at alpha and at sqrt(alpha), and their slope in log(1/alpha),
  S_k = (T_k(alpha) - T_k(sqrt(alpha))) / log(1/sqrt(alpha)). The measurements enter only through their Gram
  operator H = (1/m) sum_i A_i (x) A_i; in the coordinates of an orthonormal basis of the symmetric matrices the
  coordinate vectors of the A_i are i.i.d. N(0, I), so H is exactly Wishart(m, I) / m and is drawn as such
  (Bartlett), which makes m = 10^6 as cheap as m = 100.
* ``measure_plateaus``: U U^T in the middle of the k-th plateau, floor((T_k + T_{k+1}) / 2), against the best rank-k
  solution X_k* (``solvers.matrix_sensing.best_rank_k``), and the final iterate of an under-parameterised run
  (width 2) against X_2*.
* ``measure_nuclear``: under-determined sensing (m < d(d+1)/2): the final iterate against the minimum-nuclear-norm
  PSD solution, which is X* on every instance used (certified per replicate by a dual certificate; instances whose
  certificate fails are redrawn, i.e. the instances are conditioned on exact recovery by nuclear norm), and against
  the minimum-Frobenius-norm solution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.errors import MeasurementError, UsageError
from solvers.matrix_sensing import (
    best_rank_k,
    gradient_descent,
    gram_operator,
    min_frobenius_solution,
    nuclear_norm_certificate,
    snapshots,
)

Array = Any

SMALLEST_ALPHA = 1e-16
"""Below about this scale the components still to be learned fall under the rounding error of the learned ones
(unit roundoff 1.1e-16 times O(1) entries) once the top direction is fitted, and float64 GD no longer sees them."""


def spectrum(params: Mapping[str, Any]) -> np.ndarray:
    """lambda_k = lam_top * ratio^(k-1), k = 1 .. r."""
    r, top, ratio = int(params["r"]), float(params["lam_top"]), float(params["ratio"])
    if not (r >= 1 and top > 0 and 0 < ratio < 1):
        raise UsageError(f"need r >= 1, lam_top > 0 and 0 < ratio < 1, got {r}, {top}, {ratio}.")
    return top * ratio ** np.arange(r)


def ground_truth(rng: np.random.Generator, replicates: int, d: int, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V (replicates, d, r) Haar-orthonormal and X* = V diag(lam) V^T (replicates, d, d)."""
    r = len(lam)
    if not (1 <= r < d):
        raise UsageError(f"the rank r = {r} must lie in [1, d) with d = {d}.")
    q, rr = np.linalg.qr(rng.standard_normal((replicates, d, r)))
    V = q * np.sign(np.diagonal(rr, axis1=1, axis2=2))[:, None, :]
    return V, np.einsum("rik,k,rjk->rij", V, np.asarray(lam, float), V)


def gaussian_measurements(rng: np.random.Generator, replicates: int, m: int, d: int) -> np.ndarray:
    """A_i = (G_i + G_i^T) / 2 with G_i i.i.d. N(0, 1) entries, shape (replicates, m, d, d)."""
    g = rng.standard_normal((replicates, m, d, d))
    return 0.5 * (g + np.swapaxes(g, 2, 3))


def wishart_gram(rng: np.random.Generator, replicates: int, D: int, m: int) -> np.ndarray:
    """Wishart(m, I_D) / m by the Bartlett decomposition (needs m >= D), shape (replicates, D, D)."""
    if m < D:
        raise UsageError(f"wishart_gram needs m >= D = {D}, got m = {m}.")
    L = np.zeros((replicates, D, D))
    low = np.tril_indices(D, -1)
    L[:, low[0], low[1]] = rng.standard_normal((replicates, low[0].size))
    L[:, np.arange(D), np.arange(D)] = np.sqrt(rng.chisquare(m - np.arange(D), size=(replicates, D)))
    return L @ np.swapaxes(L, 1, 2) / m


def initial_factor(rng: np.random.Generator, replicates: int, d: int, width: int) -> np.ndarray:
    """Ubar with i.i.d. N(0, 1/d) entries, shape (replicates, d, width)."""
    return rng.standard_normal((replicates, d, width)) / math.sqrt(d)


def _alpha(params: Mapping[str, Any]) -> float:
    alpha = float(params["alpha"])
    if not (SMALLEST_ALPHA <= alpha < 1):
        raise UsageError(f"alpha must lie in [{SMALLEST_ALPHA:g}, 1), got {alpha!r}.")
    return alpha


def _steps(alpha: float, eta: float, lam: np.ndarray, extra: int) -> int:
    """Enough steps to pass the last plateau: 1.3 log(1/alpha) / log(1 + 2 eta lambda_r) plus ``extra``."""
    return int(math.ceil(1.3 * math.log(1.0 / alpha) / math.log1p(2.0 * eta * lam[-1]))) + extra


def _times(Hf: Array, Xs: Array, U0: Array, eta: float, steps: int, lam: np.ndarray, xp: Any, keep: bool = False
           ) -> Any:
    run = gradient_descent(Hf, Xs, U0, eta, steps, xp.asarray(lam / 2.0), xp, keep=keep)
    if not bool(xp.all(xp.isfinite(run.times))):
        raise MeasurementError(f"some plateau was not reached in {steps} steps.")
    return run


def measure_plateau_times(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                          ) -> dict[str, np.ndarray]:
    """Slopes S_k of the plateau times in log(1/alpha), between sqrt(alpha) and alpha, against each law."""
    alpha, eta = _alpha(params), float(params["eta"])
    d, m, width = int(params["d"]), int(params["m"]), int(params["width"])
    lam = spectrum(params)
    D = d * (d + 1) // 2
    _, Xs = ground_truth(rng, n, d, lam)
    H = xp.asarray(wishart_gram(rng, n, D, m))
    Ubar = xp.asarray(initial_factor(rng, n, d, width))
    ref = math.sqrt(alpha)
    both = xp.concat([alpha * Ubar, ref * Ubar], axis=0)                     # one batch: alpha and sqrt(alpha)
    Hb, Xb = xp.concat([H, H], axis=0), xp.concat([xp.asarray(Xs)] * 2, axis=0)
    times = _times(Hb, Xb, both, eta, _steps(alpha, eta, lam, 200), lam, xp).times
    S = (times[:n, :] - times[n:, :]) / math.log(ref / alpha)                       # (n, r)
    g = xp.asarray(np.log1p(2.0 * eta * lam))
    laws = {
        "slope_err": S * g,                                                   # claim: S_k = 1 / log(1 + 2 eta lam_k)
        "slope_err_linear": S * xp.asarray(2.0 * eta * lam),                  # S_k = 1 / (2 eta lam_k)
        "slope_err_square": S * g[0] * xp.asarray((lam / lam[0]) ** 2),       # S_k proportional to 1 / lam_k^2
        "slope_err_simultaneous": S * g[0],                                   # every rank at the first time
    }
    out = {name: to_numpy(xp.max(xp.abs(v - 1.0), axis=1)) for name, v in laws.items()}
    for k in range(len(lam)):
        out[f"slope_ratio_{k + 1}"] = to_numpy(laws["slope_err"][:, k])
    return out


def _relative(X: Array, Y: Array, xp: Any) -> Array:
    return xp.sqrt(xp.sum((X - Y) ** 2, axis=(1, 2)) / xp.sum(Y * Y, axis=(1, 2)))


def _truncation(V: np.ndarray, lam: np.ndarray, k: int) -> np.ndarray:
    return np.einsum("rik,k,rjk->rij", V[:, :, :k], lam[:k], V[:, :, :k])


def measure_plateaus(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Distances of U U^T in the middle of plateau k (k < r) to X_k*, X_{k+1}* and [X*]_k (largest over k), and of
    the final iterate of a width-2 run to X_2*, [X*]_2 and X*."""
    alpha, eta = _alpha(params), float(params["eta"])
    d, m, width = int(params["d"]), int(params["m"]), int(params["width"])
    lam = spectrum(params)
    r = len(lam)
    V, Xs_np = ground_truth(rng, n, d, lam)
    A = xp.asarray(gaussian_measurements(rng, n, m, d))
    Hf, Xs = gram_operator(A, xp), xp.asarray(Xs_np)
    Ubar = initial_factor(rng, n, d, width)
    steps = _steps(alpha, eta, lam, 200)
    run = _times(Hf, Xs, xp.asarray(alpha * Ubar), eta, steps, lam, xp, keep=True)
    best = {k: best_rank_k(Hf, Xs, xp.asarray(V[:, :, :k] * np.sqrt(lam[:k])), xp)[0] for k in range(1, r)}
    best[r] = Xs                                     # F(X*) = 0: X* is the best rank-r solution
    err, err_next, err_trunc = [], [], []
    for k in range(1, r):
        mid = snapshots(run.X, 0.5 * (run.times[:, k - 1] + run.times[:, k]), xp)
        err.append(_relative(mid, best[k], xp))
        err_next.append(_relative(mid, best[k + 1], xp))
        err_trunc.append(_relative(mid, xp.asarray(_truncation(V, lam, k)), xp))
    under = gradient_descent(Hf, Xs, xp.asarray(alpha * Ubar[:, :, :2]), eta, _steps(alpha, eta, lam[:2], 600),
                             xp.asarray(lam[:2] / 2.0), xp)
    X_under = xp.matmul(under.U, xp.permute_dims(under.U, (0, 2, 1)))
    top = lambda errs: to_numpy(xp.max(xp.stack(errs, axis=1), axis=1))  # noqa: E731
    return {
        "plateau_err": top(err),
        "plateau_err_next": top(err_next),
        "plateau_err_truncation": top(err_trunc),
        "under_err": to_numpy(_relative(X_under, best[2], xp)),
        "under_err_truncation": to_numpy(_relative(X_under, xp.asarray(_truncation(V, lam, 2)), xp)),
        "under_err_truth": to_numpy(_relative(X_under, Xs, xp)),
    }


def certified_instances(rng: np.random.Generator, n: int, d: int, m: int, lam: np.ndarray, xp: Any,
                        rounds: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(V, X*, A, certificate value) for n replicates whose X* is certified the unique minimum-nuclear-norm PSD
    solution (certificate < 1); failing replicates are redrawn together, up to ``rounds`` times."""
    V, Xs = ground_truth(rng, n, d, lam)
    A = gaussian_measurements(rng, n, m, d)
    cert = to_numpy(nuclear_norm_certificate(xp.asarray(A), xp.asarray(V), xp))
    for _ in range(rounds):
        bad = np.flatnonzero(~(cert < 1.0))
        if bad.size == 0:
            return V, Xs, A, cert
        V2, X2 = ground_truth(rng, bad.size, d, lam)
        A2 = gaussian_measurements(rng, bad.size, m, d)
        V[bad], Xs[bad], A[bad] = V2, X2, A2
        cert[bad] = to_numpy(nuclear_norm_certificate(xp.asarray(A2), xp.asarray(V2), xp))
    raise MeasurementError(f"{int(np.sum(~(cert < 1.0)))} instances still uncertified after {rounds} redraws "
                           f"(m = {m} too small for nuclear-norm recovery at d = {d}).")


def measure_nuclear(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Distances of the final GD iterate to the minimum-nuclear-norm PSD solution (= X*, certified) and to the
    minimum-Frobenius-norm solution (and to 1.01 X*, a limit 1% off), with the final gradient norm and the
    certificate value."""
    alpha, eta = _alpha(params), float(params["eta"])
    d, m, width = int(params["d"]), int(params["m"]), int(params["width"])
    lam = spectrum(params)
    _, Xs_np, A_np, cert = certified_instances(rng, n, d, m, lam, xp)
    Ubar = initial_factor(rng, n, d, width)
    A, Xs = xp.asarray(A_np), xp.asarray(Xs_np)
    Hf = gram_operator(A, xp)
    run = gradient_descent(Hf, Xs, xp.asarray(alpha * Ubar), eta, _steps(alpha, eta, lam, 400), None, xp)
    X_end = xp.matmul(run.U, xp.permute_dims(run.U, (0, 2, 1)))
    y = xp.sum(xp.reshape(A, (n, m, d * d)) * xp.reshape(Xs, (n, 1, d * d)), axis=2)
    X_fro = min_frobenius_solution(A, y, xp)
    return {
        "nuclear_err": to_numpy(_relative(X_end, Xs, xp)),
        "frobenius_err": to_numpy(_relative(X_end, X_fro, xp)),
        "nuclear_err_scaled": to_numpy(_relative(X_end, 1.01 * Xs, xp)),
        "final_grad_norm": to_numpy(run.grad_norm),
        "certificate": cert,
    }
