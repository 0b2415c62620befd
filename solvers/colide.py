r"""The CoLiDE concomitant scores (Saboksayr, Mateos, Tepper, ICLR 2024), batched over instances (leading axis),
written against the array API.

Data X (N, n, d), weighted adjacency W (N, d, d) (column j holds the parents' weights of node j), residual
R = X - X W, C = X^T X / n. The scores, as in the authors' code (``model.py``: ``colide_ev._score``,
``colide_nv._score``, with ``cov = X^T X / n``):

    EV:  S(W, sigma)  = ||X - X W||_F^2 / (2 n sigma) + d sigma / 2 + lambda ||W||_1,
    NV:  S(W, Sigma)  = sum_j ||x_j - X w_j||^2 / (2 n sigma_j) + sum_j sigma_j / 2 + lambda ||W||_1.

* ``hessian_ev`` / ``hessian_nv``: the closed-form Hessian of the smooth part in (vec W, sigma) (vec stacks the
  columns of W), for the fit term divided by sigma^p (p = 1 is the score; p != 1 gives variants that are not
  jointly convex). With q = ||R||_F^2 / (2 n) and G = X^T R / n:
  H_WW = I kron C / sigma^p, H_{W sigma} = p vec(G) / sigma^(p+1), H_sigma sigma = p (p + 1) q / sigma^(p+2);
  the NV Hessian has the same blocks per column j with sigma_j and q_j = ||r_j||^2 / (2 n).
* ``sigma_ev`` / ``sigma_nv``: the closed-form noise estimates ||R||_F / sqrt(n d) and ||r_j|| / sqrt(n).
* ``golden_section_argmin``: a batched golden-section search in log sigma (a numerical argmin that uses no
  derivative and no closed form).
* ``zero_threshold_ev`` / ``zero_threshold_lasso``: the smallest lambda at which W = 0 minimises the convex EV
  score (resp. the least-squares lasso score ||X - XW||_F^2 / (2n) + lambda ||W||_1) over W with zero diagonal:
  sqrt(d / n) max_{a != b} |x_a^T x_b| / ||X||_F and max_{a != b} |x_a^T x_b| / n (first-order conditions of
  the profiled score sqrt(d / n) ||X - X W||_F + lambda ||W||_1, see ``solve``). ``zero_threshold_nv`` /
  ``zero_threshold_lasso_columns``: the same per column j for the NV score (separable over columns, profiled
  sum_j ||x_j - X w_j|| / sqrt(n)): max_{a != j} |x_a^T x_j| / (sqrt(n) ||x_j||), and for the lasso
  max_{a != j} |x_a^T x_j| / n.
* ``solve``: FISTA with gradient-based adaptive restart over W with zero diagonal, for the EV score with sigma
  profiled out (``score="colide"``: min_sigma S = sqrt(d / n) ||X - X W||_F + lambda ||W||_1, the step
  sigma_min / lambda_max(C) with sigma_min the smallest profiled sigma, that of least squares) or for the
  profiled NV score (``score="colide-nv"``, step sigma_j,min / lambda_max(C) per column) or the lasso score
  (``score="lasso"``, step 1 / lambda_max(C)). Starts from the least-squares W.

Bad input raises :class:`boundlab.errors.UsageError` (a ValueError) naming the argument and the rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from boundlab.errors import UsageError

Array = Any
SCORES = ("colide", "colide-nv", "lasso")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# ----------------------------------------------------------------------------------------------- validation

def _finite(xp: Any, a: Array, name: str) -> None:
    if not bool(xp.all(xp.isfinite(a))):
        raise UsageError(f"{name} must be finite (no NaN or inf).")


def _check_data(X: Array, W: Array | None = None) -> Any:
    """X (N, n, d) with n >= 1, d >= 2; W (N, d, d) matching."""
    xp = array_namespace(X)
    if X.ndim != 3 or X.shape[1] < 1 or X.shape[2] < 2:
        raise UsageError(f"X must have shape (N, n, d) with n >= 1 and d >= 2, got {tuple(X.shape)}.")
    _finite(xp, X, "X")
    if W is not None:
        N, _, d = X.shape
        if tuple(W.shape) != (N, d, d):
            raise UsageError(f"W must have shape (N, d, d) = {(N, d, d)} to match X, got {tuple(W.shape)}.")
        _finite(xp, W, "W")
    return xp


def _check_sigma(xp: Any, sigma: Array, shape: tuple[int, ...], name: str = "sigma") -> None:
    if tuple(sigma.shape) != shape:
        raise UsageError(f"{name} must have shape {shape}, got {tuple(sigma.shape)}.")
    _finite(xp, sigma, name)
    if not bool(xp.all(sigma > 0)):
        raise UsageError(f"{name} must be > 0 (the scores are defined for positive noise scales).")


def _check_power(power: float) -> float:
    p = float(power)
    if not math.isfinite(p) or p <= 0:
        raise UsageError(f"power must be a finite number > 0, got {power!r}.")
    return p


# ----------------------------------------------------------------------------------------------- scores

def residual(X: Array, W: Array) -> Array:
    """R = X - X W, shape (N, n, d)."""
    return X - X @ W


def scores(X: Array, W: Array, sigma: Array, lam: float, variance: str = "ev") -> Array:
    """The EV score (sigma of shape (N,)) or the NV score (sigma of shape (N, d)), shape (N,)."""
    xp = _check_data(X, W)
    N, n, d = X.shape
    if float(lam) < 0 or not math.isfinite(float(lam)):
        raise UsageError(f"lam must be a finite number >= 0, got {lam!r}.")
    R2 = xp.sum(residual(X, W) ** 2, axis=1)  # (N, d): ||r_j||^2
    l1 = float(lam) * xp.sum(xp.abs(W), axis=(1, 2))
    if variance == "ev":
        _check_sigma(xp, sigma, (N,))
        return xp.sum(R2, axis=1) / (2 * n * sigma) + d * sigma / 2 + l1
    if variance == "nv":
        _check_sigma(xp, sigma, (N, d))
        return xp.sum(R2 / (2 * n * sigma) + sigma / 2, axis=1) + l1
    raise UsageError(f"variance must be 'ev' or 'nv', got {variance!r}.")


def sigma_ev(X: Array, W: Array) -> Array:
    """The closed-form EV noise estimate ||X - X W||_F / sqrt(n d), shape (N,)."""
    xp = _check_data(X, W)
    _, n, d = X.shape
    return xp.sqrt(xp.sum(residual(X, W) ** 2, axis=(1, 2)) / (n * d))


def sigma_nv(X: Array, W: Array) -> Array:
    """The closed-form NV noise estimates ||x_j - X w_j|| / sqrt(n), shape (N, d)."""
    xp = _check_data(X, W)
    n = X.shape[1]
    return xp.sqrt(xp.sum(residual(X, W) ** 2, axis=1) / n)


# ----------------------------------------------------------------------------------------------- Hessians

def _vec_columns(xp: Any, M: Array) -> Array:
    """vec of a batch of (d, d) matrices, columns stacked: index j d + a holds M[a, j]."""
    N, d, _ = M.shape
    return xp.reshape(xp.permute_dims(M, (0, 2, 1)), (N, d * d))


def _block_diag_C(xp: Any, C: Array, scale: Array) -> Array:
    """(N, d^2, d^2) with block j = C * scale[:, j] (scale (N, d)): the Hessian of the fit in vec W."""
    N, d, _ = C.shape
    eye = xp.eye(d, dtype=C.dtype)
    blocks = (eye[None, :, None, :, None] * C[:, None, :, None, :]) * scale[:, :, None, None, None]
    return xp.reshape(blocks, (N, d * d, d * d))


def hessian_ev(X: Array, W: Array, sigma: Array, power: float = 1.0) -> Array:
    """Hessian of ||X - X W||_F^2 / (2 n sigma^power) + d sigma / 2 in (vec W, sigma), shape (N, d^2+1, d^2+1)."""
    xp = _check_data(X, W)
    N, n, d = X.shape
    _check_sigma(xp, sigma, (N,))
    p = _check_power(power)
    R = residual(X, W)
    C = X.mT @ X / n
    G = X.mT @ R / n
    q = xp.sum(R**2, axis=(1, 2)) / (2 * n)
    s = sigma[:, None]
    H_ww = _block_diag_C(xp, C, xp.broadcast_to(1.0 / s**p, (N, d)))
    h_ws = _vec_columns(xp, G) * (p / s ** (p + 1))
    h_ss = (p * (p + 1) * q / sigma ** (p + 2))[:, None, None]
    top = xp.concat([H_ww, h_ws[:, :, None]], axis=2)
    bottom = xp.concat([h_ws[:, None, :], h_ss], axis=2)
    return xp.concat([top, bottom], axis=1)


def hessian_nv(X: Array, W: Array, sigma: Array, power: float = 1.0) -> Array:
    """Hessian of sum_j ||r_j||^2 / (2 n sigma_j^power) + sum_j sigma_j / 2 in (vec W, sigma_1..sigma_d),
    shape (N, d^2+d, d^2+d)."""
    xp = _check_data(X, W)
    N, n, d = X.shape
    _check_sigma(xp, sigma, (N, d))
    p = _check_power(power)
    R = residual(X, W)
    C = X.mT @ X / n
    G = X.mT @ R / n  # G[a, j] = x_a^T r_j / n
    q = xp.sum(R**2, axis=1) / (2 * n)  # (N, d)
    H_ww = _block_diag_C(xp, C, 1.0 / sigma**p)
    eye = xp.eye(d, dtype=X.dtype)
    # H[(j, a), k] = delta_jk p G[a, j] / sigma_j^(p+1)
    Gt = xp.permute_dims(G, (0, 2, 1)) * (p / sigma ** (p + 1))[:, :, None]  # [j, a]
    h_ws = xp.reshape(Gt[:, :, :, None] * eye[None, :, None, :], (N, d * d, d))
    h_ss = eye[None, :, :] * (p * (p + 1) * q / sigma ** (p + 2))[:, None, :]
    top = xp.concat([H_ww, h_ws], axis=2)
    bottom = xp.concat([xp.permute_dims(h_ws, (0, 2, 1)), h_ss], axis=2)
    return xp.concat([top, bottom], axis=1)


def relative_min_eigenvalue(H: Array) -> Array:
    """lambda_min(H) / max_i |lambda_i(H)| per instance, for symmetric H (N, m, m)."""
    xp = array_namespace(H)
    if H.ndim != 3 or H.shape[1] != H.shape[2]:
        raise UsageError(f"H must have shape (N, m, m), got {tuple(H.shape)}.")
    _finite(xp, H, "H")
    eig = xp.linalg.eigvalsh(H)
    return eig[:, 0] / xp.max(xp.abs(eig), axis=1)


# ----------------------------------------------------------------------------------------------- argmin

def golden_section_argmin(f: Callable[[Array], Array], lo: Array, hi: Array, iters: int = 200) -> Array:
    """Batched golden-section search for the minimiser of a unimodal f on [lo, hi] (elementwise arrays of any
    shape); f maps an array of that shape to values of that shape. Returns the bracket's midpoint."""
    xp = array_namespace(lo)
    if tuple(lo.shape) != tuple(hi.shape):
        raise UsageError(f"lo and hi must have the same shape, got {tuple(lo.shape)} and {tuple(hi.shape)}.")
    _finite(xp, lo, "lo")
    _finite(xp, hi, "hi")
    if not bool(xp.all(lo < hi)):
        raise UsageError("lo must be < hi elementwise (a nonempty bracket).")
    if int(iters) != iters or iters < 1:
        raise UsageError(f"iters must be an integer >= 1, got {iters!r}.")
    a, b = lo, hi
    for _ in range(int(iters)):
        c, e = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        left = f(c) <= f(e)  # unimodal: the minimiser lies in [a, e], else in [c, b]
        a, b = xp.where(left, a, c), xp.where(left, e, b)
    return (a + b) / 2


# ----------------------------------------------------------------------------------------------- thresholds

def _offdiag_max_abs(xp: Any, M: Array) -> Array:
    d = M.shape[-1]
    off = 1.0 - xp.eye(d, dtype=M.dtype)
    return xp.max(xp.abs(M) * off, axis=(1, 2))


def zero_threshold_ev(X: Array) -> Array:
    """sqrt(d / n) max_{a != b} |x_a^T x_b| / ||X||_F: W = 0 minimises the convex EV score (zero diagonal) iff
    lambda >= this, shape (N,)."""
    xp = _check_data(X)
    _, n, d = X.shape
    M = _offdiag_max_abs(xp, X.mT @ X)
    return math.sqrt(d / n) * M / xp.sqrt(xp.sum(X**2, axis=(1, 2)))


def zero_threshold_nv(X: Array) -> Array:
    """max_{a != j} |x_a^T x_j| / (sqrt(n) ||x_j||) per column j: column j of the minimiser of the convex NV score
    is 0 iff lambda >= this (the NV score is separable over columns), shape (N, d)."""
    xp = _check_data(X)
    n, d = X.shape[1], X.shape[2]
    G = xp.abs(X.mT @ X) * (1.0 - xp.eye(d, dtype=X.dtype))
    return xp.max(G, axis=1) / (math.sqrt(n) * xp.sqrt(xp.sum(X**2, axis=1)))


def zero_threshold_lasso_columns(X: Array) -> Array:
    """max_{a != j} |x_a^T x_j| / n per column j: the lasso score's threshold for column j, shape (N, d)."""
    xp = _check_data(X)
    d = X.shape[2]
    return xp.max(xp.abs(X.mT @ X) * (1.0 - xp.eye(d, dtype=X.dtype)), axis=1) / X.shape[1]


def zero_threshold_lasso(X: Array) -> Array:
    """max_{a != b} |x_a^T x_b| / n: the same threshold for the lasso score ||X - XW||_F^2 / (2n) + lambda
    ||W||_1, shape (N,)."""
    xp = _check_data(X)
    return _offdiag_max_abs(xp, X.mT @ X) / X.shape[1]


# ----------------------------------------------------------------------------------------------- solver

def least_squares_W(X: Array) -> Array:
    """Each column regressed on the others (zero diagonal): W[:, j] = -B[:, j] / B[j, j], B = (X^T X)^{-1}."""
    xp = _check_data(X)
    d = X.shape[2]
    B = xp.linalg.inv(X.mT @ X)
    diag = xp.sum(B * xp.eye(d, dtype=X.dtype), axis=1)  # (N, d): B[j, j]
    return (-B / diag[:, None, :]) * (1.0 - xp.eye(d, dtype=X.dtype))


def _smooth_grad(xp: Any, X: Array, W: Array, score: str) -> Array:
    n, d = X.shape[1], X.shape[2]
    R = residual(X, W)
    G = X.mT @ R
    if score == "lasso":
        return -G / n
    if score == "colide-nv":
        return -G / (math.sqrt(n) * xp.sqrt(xp.sum(R**2, axis=1))[:, None, :])
    norm = xp.sqrt(xp.sum(R**2, axis=(1, 2)))
    return -math.sqrt(d / n) * G / norm[:, None, None]


def _smooth_value(xp: Any, X: Array, W: Array, score: str) -> Array:
    n, d = X.shape[1], X.shape[2]
    if score == "colide-nv":
        return xp.sum(xp.sqrt(xp.sum(residual(X, W) ** 2, axis=1)), axis=1) / math.sqrt(n)
    r2 = xp.sum(residual(X, W) ** 2, axis=(1, 2))
    return r2 / (2 * n) if score == "lasso" else math.sqrt(d / n) * xp.sqrt(r2)


def objective(X: Array, W: Array, lam: Array, score: str = "colide") -> Array:
    """The profiled EV score sqrt(d/n) ||X - XW||_F + lam ||W||_1 (= min_sigma S(W, sigma)), the profiled NV score
    sum_j ||x_j - X w_j|| / sqrt(n) + lam ||W||_1 (``"colide-nv"``) or the lasso score,
    shape (N,); lam of shape (N,)."""
    xp = _check_data(X, W)
    _check_lam(xp, lam, X.shape[0])
    _check_score(score)
    return _smooth_value(xp, X, W, score) + lam * xp.sum(xp.abs(W), axis=(1, 2))


def kkt_residual(X: Array, W: Array, lam: Array, score: str = "colide") -> Array:
    """max over off-diagonal entries of the distance of -grad to lam * subdifferential of |W_ab|, over lam
    (0 at the optimum), shape (N,)."""
    xp = _check_data(X, W)
    _check_lam(xp, lam, X.shape[0])
    _check_score(score)
    g = -_smooth_grad(xp, X, W, score) / lam[:, None, None]
    d = X.shape[2]
    off = 1.0 - xp.eye(d, dtype=X.dtype)
    nz = xp.abs(W) > 0
    dist = xp.where(nz, xp.abs(g - xp.sign(W)), xp.maximum(xp.abs(g) - 1.0, 0.0))
    return xp.max(dist * off, axis=(1, 2))


def _check_lam(xp: Any, lam: Array, N: int) -> None:
    if tuple(lam.shape) != (N,):
        raise UsageError(f"lam must have shape (N,) = {(N,)}, got {tuple(lam.shape)}.")
    _finite(xp, lam, "lam")
    if not bool(xp.all(lam > 0)):
        raise UsageError("lam must be > 0.")


def _check_score(score: str) -> None:
    if score not in SCORES:
        raise UsageError(f"score must be one of {SCORES}, got {score!r}.")


def solve(X: Array, lam: Array, score: str = "colide", iters: int = 3000) -> Array:
    """Minimise the profiled EV score (``"colide"``) or the lasso score over W with zero diagonal: FISTA with
    gradient-based adaptive restart, fixed step, ``iters`` iterations, from the least-squares W. Needs X of
    full column rank (n > d). Returns W (N, d, d) with exact zeros where the prox thresholds."""
    xp = _check_data(X)
    N, n, d = X.shape
    if n <= d:
        raise UsageError(f"solve needs n > d (full column rank X), got n = {n}, d = {d}.")
    _check_lam(xp, lam, N)
    _check_score(score)
    if int(iters) != iters or iters < 1:
        raise UsageError(f"iters must be an integer >= 1, got {iters!r}.")
    C = X.mT @ X / n
    lmax = xp.linalg.eigvalsh(C)[:, -1]
    W0 = least_squares_W(X)
    # Hessian of the profiled score <= (I kron C) / sigma(W), sigma(W) >= sigma(least squares) (per column, NV)
    if score == "lasso":
        step3 = (1.0 / lmax)[:, None, None]
    elif score == "colide-nv":
        step3 = sigma_nv(X, W0)[:, None, :] / lmax[:, None, None]
    else:
        step3 = (sigma_ev(X, W0) / lmax)[:, None, None]
    thr = lam[:, None, None] * step3
    off = 1.0 - xp.eye(d, dtype=X.dtype)
    W, Y = W0, W0
    t = xp.ones((N,), dtype=X.dtype)
    for _ in range(int(iters)):
        Z = Y - step3 * _smooth_grad(xp, X, Y, score)
        W_new = xp.sign(Z) * xp.maximum(xp.abs(Z) - thr, 0.0) * off
        restart = xp.sum((Y - W_new) * (W_new - W), axis=(1, 2)) > 0
        t_new = (1.0 + xp.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = xp.where(restart, 0.0, (t - 1.0) / t_new)
        t = xp.where(restart, 1.0, t_new)
        Y = W_new + beta[:, None, None] * (W_new - W)
        W = W_new
    return W
