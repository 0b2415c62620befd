"""Instances for the gSLOPE zero threshold and strong screening rule (Feser & Evangelou, 2024), solved by
``solvers/group_slope.py`` (ours, batched) and by its cvxpy reference (CLARABEL, one instance at a time).

Weights: the gMax sequence (``gmax_weights``, q = 0.1). Groups are contiguous; sizes cycle through 2..6.

Two instance spaces, each with a fixed random base per sweep point (seeded by n and p) and a few coordinates
that the adversarial search moves:

* ``threshold_space`` (the lambda_max experiment): an equicorrelated design whose Gram matrix is exactly
  X^T X / n = (1 - rho) I + rho 1 1^T (orthonormal columns plus a common factor orthogonal to them, n > p), and
  y = X beta* + sigma e with beta*_g = s_g sqrt(p_g) d_g (d_g fixed unit directions). Coordinates: rho in
  [0, 0.9], the group signals s in [0, 1]^m, sigma in [0, 1]. At rho = 0 and sigma = 0, c_g = ||X_g^T y / n|| /
  sqrt(p_g) = s_g, so equal s gives the equal-gradient design where lambda_max = c m / sum w > c / w_1. A
  quarter of the random draws are such designs (rho = 0, sigma = 0, one common level s ~ U(0.05, 1)); the
  rest are uniform in the box.
* ``path_space`` (the screening experiments): three singleton groups planted in front of Gaussian groups.
  x_1 = a, x_2 = rho a + sqrt(1 - rho^2) z_2, x_3 = alpha u + kappa e + sqrt(max(0, 1 - alpha^2 - kappa^2))
  z_3 with u = (x_1 + x_2) normalised and e a noise direction orthogonal to the planted columns; y = s_1 x_1 +
  s_2 x_2 + b X beta_bg + sigma e (beta_bg fixed on two later groups). With rho near -1 the planted pair's
  fit moves the third column's gradient faster than lambda (slope about alpha sqrt(2 / (1 + rho)) > 1), the
  situation in which a strong rule discards a group that then enters; with kappa < 0 the third column's
  gradient starts on the other side (alpha kappa < 0), so it grows as the pair is fitted. Coordinates: rho in
  [-0.95, 0], alpha in [0.6, 0.95], kappa in [-0.9, 0] (the signs are a symmetry: flipping x_3 flips alpha and
  kappa), sigma in [0.2, 2], s in [0.2, 2]^2, b in [0, 1]; random draws uniform. (Over the wider box rho,
  alpha, kappa in [-0.95, 0.95] x [-0.9, 0.9]^2 about 1 draw in 85 had a strong-rule miss, all with rho < 0,
  |alpha| > 0.68 and alpha kappa < 0: this box is that region.)

The path is the package's: lambda_max / 0.99 down to min_frac times that, L points, geometric.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy
from solvers import group_slope as gs

Q_FDR = 0.1
PLANTED = 3


# ----------------------------------------------------------------------------------------------- groups

def cycle_sizes(p: int, head: tuple[int, ...] = ()) -> tuple[int, ...]:
    """``head`` then sizes 2, 3, 4, 5, 6, 2, ... summing to p (the last one shortened, merged if it would be 1)."""
    sizes, total, k = list(head), sum(head), 0
    while total < p:
        s = min(2 + k % 5, p - total)
        if s == 1 and len(sizes) > len(head):
            sizes[-1] += 1
        else:
            sizes.append(s)
        total += s
        k += 1
    return tuple(sizes)


def threshold_sizes(p: int) -> tuple[int, ...]:
    return cycle_sizes(p)


def path_sizes(p: int) -> tuple[int, ...]:
    return cycle_sizes(p, (1,) * PLANTED)


def weights(sizes: tuple[int, ...]) -> np.ndarray:
    return gs.gmax_weights(sizes, Q_FDR)


# ----------------------------------------------------------------------------------------------- threshold

@functools.lru_cache(maxsize=8)
def _threshold_base(n: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if n <= p:
        raise ValueError(f"the threshold design needs n > p (orthonormal columns plus a factor), got n={n}, p={p}")
    rng = np.random.default_rng([2405, 15357, n, p])
    Q, _ = np.linalg.qr(rng.standard_normal((n, p + 1)))
    d = rng.standard_normal(p)
    sizes = threshold_sizes(p)
    G = np.asarray(gs.group_matrix(sizes))
    d = d / np.sqrt((d * d) @ G @ G.T)  # unit direction per group
    e = rng.standard_normal(n)
    return Q[:, :p], Q[:, p], d, e * np.sqrt(n) / np.linalg.norm(e)


def threshold_space(params: Mapping[str, Any]) -> Product:
    """rho (equicorrelation), the group signals s and the noise level sigma."""
    m = len(threshold_sizes(int(params["p"])))

    def sample(rng: np.random.Generator, count: int) -> np.ndarray:
        rho = rng.uniform(0.0, 0.9, (count, 1))
        s = rng.uniform(0.0, 1.0, (count, m))
        sigma = rng.uniform(0.0, 1.0, (count, 1))
        equal = rng.random(count) < 0.25
        level = rng.uniform(0.05, 1.0, count)
        rho[equal], sigma[equal] = 0.0, 0.0
        s[equal] = level[equal][:, None]
        return np.concatenate([rho, s, sigma], axis=1)

    return Product(sampler=sample, rho=Box(0.0, 0.9, 1), signal=Box(0.0, 1.0, m), noise=Box(0.0, 1.0, 1))


def threshold_data(params: Mapping[str, Any], instances: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """X (B, n, p), y (B, n) of the decoded threshold instances."""
    n, p = int(params["n"]), int(params["p"])
    Q, f, d, e = _threshold_base(n, p)
    sizes = threshold_sizes(p)
    rho = np.asarray(instances["rho"], dtype=float).reshape(-1)
    s = np.asarray(instances["signal"], dtype=float)
    sigma = np.asarray(instances["noise"], dtype=float).reshape(-1)
    X = np.sqrt(n) * (np.sqrt(1 - rho)[:, None, None] * Q[None] + np.sqrt(rho)[:, None, None] * f[None, :, None])
    beta = np.repeat(s * np.sqrt(np.asarray(sizes))[None, :], sizes, axis=1) * d[None, :]
    y = np.einsum("bnp,bp->bn", X, beta) + sigma[:, None] * e[None, :]
    return X, y


@functools.lru_cache(maxsize=8)
def reference(n: int, sizes: tuple[int, ...]) -> gs.CvxpyReference:
    """The cvxpy problem for one shape, built once (DPP Parameters)."""
    return gs.CvxpyReference(n, sizes, weights(sizes))


def _max_group_norm(beta: Any, sizes: tuple[int, ...], xp: Any) -> Any:
    return xp.max(gs.group_norms(beta, gs.group_matrix(sizes, xp), xp), axis=1)


def _curvature_dual(X: Any, beta: Any, sizes: tuple[int, ...], w: np.ndarray, xp: Any) -> Any:
    """J*(X^T X beta / n) per instance."""
    n = int(X.shape[1])
    h = xp.matmul(xp.matrix_transpose(X), xp.matmul(X, beta[..., None]))[..., 0] / n
    return gs.dual_norm(gs.group_scores(h, sizes, xp), w, xp)


def evaluate_threshold(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                       ) -> dict[str, np.ndarray]:
    """lambda_max, the lasso-style threshold max c / w_1, the max-over-smallest-weight threshold max c / w_m;
    ours at lambda_max (1 + eps), lambda_max (1 - eps), t_L (1 + eps), t_U (1 - eps) in one batched solve, and
    cvxpy at lambda_max (1 +- eps)."""
    n, p, eps = int(params["n"]), int(params["p"]), float(params["eps"])
    sizes = threshold_sizes(p)
    w = weights(sizes)
    Xn, yn = threshold_data(params, instances)
    X, y = xp.asarray(Xn), xp.asarray(yn)
    B = int(X.shape[0])
    lam_max = gs.lambda_max(X, y, sizes, w, xp)
    t_lasso = gs.lasso_threshold(X, y, sizes, w, xp)
    t_upper = t_lasso * float(w[0] / w[-1])
    lams = xp.concat([lam_max * (1 + eps), lam_max * (1 - eps), t_lasso * (1 + eps), t_upper * (1 - eps)])
    X4, y4 = xp.concat([X] * 4, axis=0), xp.concat([y] * 4, axis=0)
    sol = gs.solve(X4, y4, sizes, w, lams, xp=xp)
    beta = sol.beta
    above, below, above_lasso, below_upper = (beta[i * B:(i + 1) * B, :] for i in range(4))
    ref = reference(n, sizes)
    lm_np = to_numpy(lam_max)
    cvx_above = np.stack([ref.solve(Xn[b], yn[b], lm_np[b] * (1 + eps))[0] for b in range(B)])
    cvx_below = np.stack([ref.solve(Xn[b], yn[b], lm_np[b] * (1 - eps))[0] for b in range(B)])
    cvx_above_x, cvx_below_x = xp.asarray(cvx_above), xp.asarray(cvx_below)
    zero_above = xp.maximum(_max_group_norm(above, sizes, xp), _max_group_norm(cvx_above_x, sizes, xp))
    dual_below = _curvature_dual(X, below, sizes, w, xp)
    return {
        "zero_above": to_numpy(zero_above),
        "zero_below": to_numpy(_max_group_norm(below, sizes, xp)),
        "zero_above_lasso": to_numpy(_max_group_norm(above_lasso, sizes, xp)),
        "dual_below": to_numpy(dual_below),
        "cvxpy_below_ratio": to_numpy(_curvature_dual(X, cvx_below_x, sizes, w, xp) / dual_below),
        "cvxpy_zero_below": to_numpy(_max_group_norm(cvx_below_x, sizes, xp)),
        "dual_below_upper": to_numpy(_curvature_dual(X, below_upper, sizes, w, xp)),
        "lam_max": to_numpy(lam_max),
        "t_upper": to_numpy(t_upper),
        "lasso_ratio": to_numpy(t_lasso / lam_max),
        "cvxpy_distance": np.maximum(np.linalg.norm(cvx_below - to_numpy(below), axis=1),
                                     np.linalg.norm(cvx_above - to_numpy(above), axis=1)),
    }


# ----------------------------------------------------------------------------------------------- path

@functools.lru_cache(maxsize=8)
def _path_base(n: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([2405, 15357, 1, n, p])
    Z = rng.standard_normal((n, p))
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    e = rng.standard_normal(n)
    Qp, _ = np.linalg.qr(Z[:, :PLANTED])
    e = e - Qp @ (Qp.T @ e)
    e = e * np.sqrt(n) / np.linalg.norm(e)
    sizes = path_sizes(p)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    beta_bg = np.zeros(p)
    for g in (PLANTED + 1, PLANTED + 3):
        if g < len(sizes):
            beta_bg[starts[g]:starts[g + 1]] = rng.standard_normal(sizes[g])
    return Z, e, beta_bg


def path_space(params: Mapping[str, Any]) -> Product:
    """The planted correlated design's coordinates (see the module docstring)."""
    return Product(rho=Box(-0.95, 0.0, 1), alpha=Box(0.6, 0.95, 1), kappa=Box(-0.9, 0.0, 1),
                   noise=Box(0.2, 2.0, 1), signal=Box(0.2, 2.0, 2), background=Box(0.0, 1.0, 1))


def path_data(params: Mapping[str, Any], instances: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """X (B, n, p), y (B, n) of the decoded path instances."""
    n, p = int(params["n"]), int(params["p"])
    Z, e, beta_bg = _path_base(n, p)
    col = {k: np.asarray(instances[k], dtype=float).reshape(-1) for k in ("rho", "alpha", "kappa", "noise",
                                                                          "background")}
    s = np.asarray(instances["signal"], dtype=float)
    B = s.shape[0]
    X = np.broadcast_to(Z, (B, n, p)).copy()
    a = Z[:, 0][None, :]
    rho = col["rho"][:, None]
    x2 = rho * a + np.sqrt(1 - rho**2) * Z[:, 1][None, :]
    u = a + x2
    u = u / np.linalg.norm(u, axis=1, keepdims=True) * np.sqrt(n)
    alpha, kappa = col["alpha"][:, None], col["kappa"][:, None]
    rest = np.sqrt(np.clip(1 - alpha**2 - kappa**2, 0.0, None))
    X[:, :, 1] = x2
    X[:, :, 2] = alpha * u + kappa * e[None, :] + rest * Z[:, 2][None, :]
    y = (s[:, :1] * X[:, :, 0] + s[:, 1:2] * X[:, :, 1] + col["background"][:, None] * (Z @ beta_bg)[None, :]
         + col["noise"][:, None] * e[None, :])
    return X, y


def _lambdas(params: Mapping[str, Any], X: Any, y: Any, sizes: tuple[int, ...], w: np.ndarray, xp: Any) -> Any:
    return gs.path_lambdas(gs.lambda_max(X, y, sizes, w, xp), int(params["L"]), float(params["min_frac"]), xp)


def _path_distance(a: Any, b: Any, xp: Any) -> np.ndarray:
    """max over path points of the l2 distance: (B, L, p) x 2 -> (B,)."""
    return to_numpy(xp.max(xp.sqrt(xp.sum((a - b) ** 2, axis=2)), axis=1))


def _kept_variables(path: gs.Path, sizes: tuple[int, ...]) -> np.ndarray:
    """Variables in the fitted groups per path point k >= 2 (B, L - 1)."""
    return path.fitted_variables[:, 1:]


def _max_kkt(X: Any, y: Any, beta: Any, lams: Any, sizes: tuple[int, ...], w: np.ndarray, xp: Any) -> np.ndarray:
    res = [to_numpy(gs.kkt_residual(X, y, beta[:, k, :], lams[:, k], sizes, w, xp)) for k in range(int(lams.shape[1]))]
    return np.max(np.stack(res, axis=1), axis=1)


def evaluate_path(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                  ) -> dict[str, np.ndarray]:
    """The path without screening, with the strong rule and the complete KKT check, with the package's KKT check,
    and with the strong rule alone (ours, batched): their largest distances to the unscreened path, the fraction
    screened out, the KKT violations caught, and the full KKT residuals (certificates)."""
    p = int(params["p"])
    sizes = path_sizes(p)
    w = weights(sizes)
    Xn, yn = path_data(params, instances)
    X, y = xp.asarray(Xn), xp.asarray(yn)
    lams = _lambdas(params, X, y, sizes, w, xp)
    full = gs.fit_path(X, y, sizes, w, lams, screen="none", xp=xp)
    strong = gs.fit_path(X, y, sizes, w, lams, screen="strong-complete-kkt", xp=xp)
    package = gs.fit_path(X, y, sizes, w, lams, screen="strong", xp=xp)
    no_kkt = gs.fit_path(X, y, sizes, w, lams, screen="strong-no-kkt", xp=xp)
    m = len(sizes)
    size_arr = np.asarray(sizes, dtype=float)
    kept = strong.fitted[:, 1:]
    return {
        "dist_strong": _path_distance(strong.beta, full.beta, xp),
        "dist_no_kkt": _path_distance(no_kkt.beta, full.beta, xp),
        "dist_package": _path_distance(package.beta, full.beta, xp),
        "package_kkt_residual": _max_kkt(X, y, package.beta, lams, sizes, w, xp),
        "screened_groups": 1.0 - np.mean(kept, axis=1) / m,
        "screened_strong_set": 1.0 - np.mean(strong.strong_set[:, 1:], axis=1) / m,
        "kkt_violations": strong.violations.sum(axis=1).astype(float),
        "no_kkt_kkt_residual": _max_kkt(X, y, no_kkt.beta, lams, sizes, w, xp),
        "strong_kkt_residual": _max_kkt(X, y, strong.beta, lams, sizes, w, xp),
        "max_gap": np.maximum(strong.gap.max(axis=1), full.gap.max(axis=1)),
        "active_end": strong.active[:, -1].astype(float) / m,
        "screened_variables": 1.0 - np.mean(_kept_variables(strong, sizes), axis=1) / float(size_arr.sum()),
    }


def evaluate_path_cvxpy(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                        ) -> dict[str, np.ndarray]:
    """Our screened path (strong rule + complete KKT check) against cvxpy (CLARABEL) at every path point: the largest
    relative objective excess max_k [F_k(ours) - F_k(cvxpy)] / F_k(cvxpy) and the largest l2 distance; the same
    excess for our unscreened path solved at lambda_k (1 + lambda_shift) (a path off in lambda)."""
    n, p = int(params["n"]), int(params["p"])
    sizes = path_sizes(p)
    w = weights(sizes)
    Xn, yn = path_data(params, instances)
    X, y = xp.asarray(Xn), xp.asarray(yn)
    lams = _lambdas(params, X, y, sizes, w, xp)
    strong = gs.fit_path(X, y, sizes, w, lams, screen="strong-complete-kkt", xp=xp)
    moved = gs.fit_path(X, y, sizes, w, lams * (1 + float(params["lambda_shift"])), screen="none", xp=xp)
    lam_np = to_numpy(lams)
    ref = reference(n, sizes)
    B, L = lam_np.shape
    cvx = np.stack([np.stack([ref.solve(Xn[b], yn[b], lam_np[b, k])[0] for k in range(L)]) for b in range(B)])
    cvx_x = xp.asarray(cvx)

    def value(beta: Any) -> np.ndarray:
        return np.stack([to_numpy(gs.objective(X, y, beta[:, k, :], lams[:, k], sizes, w, xp)) for k in range(L)],
                        axis=1)

    f_cvx = value(cvx_x)
    return {
        "obj_excess": np.max((value(strong.beta) - f_cvx) / f_cvx, axis=1),
        "obj_excess_shifted": np.max((value(moved.beta) - f_cvx) / f_cvx, axis=1),
        "dist_cvxpy": np.max(np.linalg.norm(cvx - to_numpy(strong.beta), axis=2), axis=1),
        "screened_groups": 1.0 - np.mean(strong.fitted[:, 1:], axis=1) / len(sizes),
        "kkt_violations": strong.violations.sum(axis=1).astype(float),
    }
