r"""Group SLOPE (gSLOPE) for least squares, batched over instances (leading axis), array API: the exact zero
threshold lambda_max, the group-SLOPE prox, an accelerated proximal-gradient solver certified by a duality gap,
and a warm-started path solver with the strong screening rule and KKT check of Feser & Evangelou (2024), as
implemented in the official R package ``sgs`` (``R/utils.R``: ``gen_path_gslope``, ``inner_screening``,
``gslope_grp_screen``, ``gslope_kkt_check``; ``R/screen.R``: ``screen_strong``).

The problem (groups of sizes p_1 .. p_m, contiguous in the variable order; weights w_1 >= ... >= w_m >= 0):

    min_beta  F(beta) = 1/(2n) ||y - X beta||^2 + lambda sum_i w_i v_(i),   v_g = sqrt(p_g) ||beta_g||,

v_(1) >= v_(2) >= ... the sorted group values. With b_g = sqrt(p_g) beta_g and Xt_g = X_g / sqrt(p_g) it is
plain group SLOPE in b (penalty lambda sum_i w_i ||b||_(i)), which is what the solver iterates on.

* Dual norm. J*(z) = max_k [sum_{i<=k} c_(i)] / [sum_{i<=k} w_i] with c_g = ||z_g|| / sqrt(p_g), so beta = 0
  is optimal iff J*(grad f(0)) <= lambda: lambda_max = J*(X^T y / n) (``lambda_max``), the package's formula.
* Prox (``prox_group_slope``). Sort the group norms r decreasingly, z = r_sorted - t w, fit the nonincreasing
  sequence closest to z (isotonic regression, the min-max formula x_i = min_{j<=i} max_{k>=i} mean(z_j..z_k),
  evaluated with one suffix-max sweep over the m positions for the whole batch), clip at 0, unsort, rescale
  each group. This is the PAV solution of the sorted-L1 prox applied to the group norms.
* Solver (``solve``). FISTA with gradient-based adaptive restart (O'Donoghue & Candes 2015), step 1/L with L
  the largest eigenvalue of Xt^T Xt / n per instance. Stops when the duality gap P(b) - D(theta) with the
  feasible dual point theta = r / max(n, J*(Xt^T r) / lambda), r = y - Xt b, is at most
  ``tol`` * ||y||^2 / (2n) (the objective at 0), checked every ``check_every`` iterations. Instances stop
  independently (a converged instance is frozen). An optional group mask restricts the problem to the kept
  groups (the others are fixed at 0), which is the restricted problem of the screening rule.
* Path (``fit_path``). lambda_1 > ... > lambda_L per instance; lambda_1 is solved on all groups, then for
  k >= 2 either all groups (``screen="none"``), or the strong rule's set S (``strong_rule``: c = group scores of
  the gradient at beta(lambda_{k-1}), sorted, plus lambda_{k-1} w - 2 lambda_k w, scanned with resets as in
  ``inner_screening``) united with the previous active set, fitted, then KKT-checked as in
  ``gslope_kkt_check`` (``screen="strong"``: zero groups sorted by score, cumsum(c - lambda w_{|A|+1..m}),
  positions with a sum > ``kkt_tol`` outside the fitted set are violations, added and refitted until none), or
  fitted once without the check (``screen="strong-no-kkt"``). ``screen="strong-complete-kkt"`` is the same
  loop with a complete check (``kkt_violations(rule="complete")``): the package's check can pass while the
  full KKT condition fails, when every position whose cumulative sum exceeds the tolerance holds a group that
  was fitted (and came out zero) and the group outside the fitted set that makes the sum exceed sits at an
  earlier position; the complete check also flags that group. Warm starts as in the package. The restricted
  problems of a batch are solved on the union of the batch's kept groups (columns gathered once per round),
  each instance masked to its own set, so a single instance gets the full dimension reduction.

Bad input raises :class:`boundlab.errors.UsageError` (a ValueError) naming the argument and the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

Array = Any

from boundlab.errors import UsageError  # noqa: E402

SCREEN_MODES = ("none", "strong", "strong-complete-kkt", "strong-no-kkt")


# ----------------------------------------------------------------------------------------------- validation

def _ns(xp: Any, a: Any) -> Any:
    """The array namespace: ``xp`` (plain NumPy is replaced by its array-API wrapper) or that of ``a``."""
    if xp is None:
        return array_namespace(a)
    if xp is np:
        import array_api_compat.numpy as xnp

        return xnp
    return xp


def _check_sizes(sizes: Any, p: int | None = None) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in sizes)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"sizes must be a sequence of positive integers (group sizes), got {sizes!r}.") from exc
    if not out or any(s < 1 for s in out) or any(float(s) != float(t) for s, t in zip(out, sizes, strict=True)):
        raise UsageError(f"sizes must be a non-empty sequence of positive integers (group sizes), got {sizes!r}.")
    if p is not None and sum(out) != p:
        raise UsageError(f"sizes must sum to the number of variables p = {p}, got sum {sum(out)}.")
    return out


def _check_weights(w: Any, m: int) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    if w.shape != (m,):
        raise UsageError(f"w must have shape ({m},) (one weight per group), got {w.shape}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(np.diff(w) > 0) or w[0] <= 0:
        raise UsageError("w must be finite, nonnegative, nonincreasing (w_1 >= ... >= w_m) with w_1 > 0.")
    return w


def _check_finite(name: str, a: Any, xp: Any) -> None:
    if not bool(xp.all(xp.isfinite(a))):
        raise UsageError(f"{name} must be finite (no NaN or inf).")


def _check_problem(X: Array, y: Array, sizes: Any, w: Any, xp: Any) -> tuple[tuple[int, ...], np.ndarray]:
    if X.ndim != 3:
        raise UsageError(f"X must have 3 axes (batch, n, p), got shape {tuple(X.shape)}.")
    if tuple(y.shape) != tuple(X.shape[:2]):
        raise UsageError(f"y must have shape {tuple(X.shape[:2])} (batch, n), got {tuple(y.shape)}.")
    _check_finite("X", X, xp)
    _check_finite("y", y, xp)
    sizes = _check_sizes(sizes, int(X.shape[2]))
    return sizes, _check_weights(w, len(sizes))


def _check_lambda(name: str, lam: Array, batch: int, xp: Any) -> None:
    if tuple(lam.shape) != (batch,):
        raise UsageError(f"{name} must have shape ({batch},) (one value per instance), got {tuple(lam.shape)}.")
    if not bool(xp.all(xp.isfinite(lam))) or not bool(xp.all(lam > 0)):
        raise UsageError(f"{name} must be finite and > 0.")


def _check_tol(name: str, value: float) -> float:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def _check_count(name: str, value: int) -> int:
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise UsageError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


# ----------------------------------------------------------------------------------------------- groups

def group_matrix(sizes: Any, xp: Any = np) -> Array:
    """Membership matrix G (p, m): G[j, g] = 1 when variable j is in group g (groups contiguous, in order)."""
    sizes = _check_sizes(sizes)
    G = np.zeros((sum(sizes), len(sizes)))
    start = 0
    for g, s in enumerate(sizes):
        G[start:start + s, g] = 1.0
        start += s
    return xp.asarray(G)


def _sqrt_sizes(sizes: tuple[int, ...], xp: Any) -> Array:
    return xp.asarray(np.sqrt(np.asarray(sizes, dtype=float)))


def group_norms(u: Array, G: Array, xp: Any) -> Array:
    """||u_g|| per group: (B, p) -> (B, m)."""
    return xp.sqrt(xp.matmul(u * u, G))


def group_scores(z: Array, sizes: Any, xp: Any | None = None) -> Array:
    """c_g = ||z_g|| / sqrt(p_g): (B, p) -> (B, m)."""
    xp = _ns(xp, z)
    sizes = _check_sizes(sizes, int(z.shape[-1]))
    return group_norms(z, group_matrix(sizes, xp), xp) / _sqrt_sizes(sizes, xp)


def gmax_weights(sizes: Any, q: float = 0.1) -> np.ndarray:
    """The gMax sequence of Brzyski et al. (2019) with group weights sqrt(p_g) (``lambdaChiOrtho(method =
    "max")`` in the package): w_i = max_g sqrt(chi2_{p_g}^{-1}(1 - q i / m)) / sqrt(p_g), i = 1..m."""
    from scipy.stats import chi2

    sizes = _check_sizes(sizes)
    if not (isinstance(q, (int, float)) and 0 < q < 1):
        raise UsageError(f"q must be in (0, 1) (the target group FDR), got {q!r}.")
    m = len(sizes)
    levels = 1.0 - q * np.arange(1, m + 1) / m
    table = np.sqrt(chi2.ppf(levels[:, None], np.asarray(sizes)[None, :])) / np.sqrt(np.asarray(sizes))[None, :]
    w = table.max(axis=1)
    return np.maximum.accumulate(w[::-1])[::-1]  # nonincreasing by construction (guards rounding)


def sorted_norm(v: Array, w: Any, xp: Any | None = None) -> Array:
    """sum_i w_i v_(i) with v sorted decreasingly, per row: (B, m) -> (B,)."""
    xp = _ns(xp, v)
    wv = xp.asarray(_check_weights(w, int(v.shape[-1])))
    return xp.sum(xp.sort(v, axis=-1, descending=True) * wv, axis=-1)


def dual_norm(c: Array, w: Any, xp: Any | None = None) -> Array:
    """max_k [sum_{i<=k} c_(i)] / [sum_{i<=k} w_i] per row (c >= 0 sorted decreasingly): (B, m) -> (B,). Weights
    with w_k = 0 give +inf unless the corresponding sums are 0."""
    xp = _ns(xp, c)
    wv = _check_weights(w, int(c.shape[-1]))
    top = xp.cumulative_sum(xp.sort(c, axis=-1, descending=True), axis=-1)
    bottom = xp.asarray(np.cumsum(wv))
    return xp.max(top / bottom, axis=-1)


def lambda_max(X: Array, y: Array, sizes: Any, w: Any, xp: Any | None = None) -> Array:
    """The smallest lambda at which beta = 0 solves the problem: J*(X^T y / n), per instance (B,)."""
    xp = _ns(xp, X)
    sizes, w = _check_problem(X, y, sizes, w, xp)
    z = xp.matmul(xp.matrix_transpose(X), y[..., None])[..., 0] / X.shape[1]
    return dual_norm(group_scores(z, sizes, xp), w, xp)


def lasso_threshold(X: Array, y: Array, sizes: Any, w: Any, xp: Any | None = None) -> Array:
    """max_g c_g / w_1 (the k = 1 term of lambda_max alone): a lower bound on lambda_max, per instance."""
    xp = _ns(xp, X)
    sizes, w = _check_problem(X, y, sizes, w, xp)
    z = xp.matmul(xp.matrix_transpose(X), y[..., None])[..., 0] / X.shape[1]
    return xp.max(group_scores(z, sizes, xp), axis=-1) / float(w[0])


def objective(X: Array, y: Array, beta: Array, lam: Array, sizes: Any, w: Any, xp: Any | None = None) -> Array:
    """F(beta) = 1/(2n) ||y - X beta||^2 + lam sum_i w_i v_(i), v_g = sqrt(p_g) ||beta_g||, per instance (B,)."""
    xp = _ns(xp, X)
    sizes, wnp = _check_problem(X, y, sizes, w, xp)
    n = int(X.shape[1])
    r = y - xp.matmul(X, beta[..., None])[..., 0]
    v = group_norms(beta, group_matrix(sizes, xp), xp) * _sqrt_sizes(sizes, xp)
    return xp.sum(r * r, axis=1) / (2 * n) + lam * sorted_norm(v, wnp, xp)


# ----------------------------------------------------------------------------------------------- prox

def isotonic_nonincreasing(z: Array, xp: Any | None = None) -> Array:
    """The nonincreasing sequence closest to z in least squares, per row (B, m): x_i = min_{j<=i} max_{k>=i}
    mean(z_j .. z_k) (one suffix-max sweep over positions, batched over rows)."""
    xp = _ns(xp, z)
    B, m = z.shape
    S = xp.concat([xp.zeros((B, 1), dtype=z.dtype), xp.cumulative_sum(z, axis=1)], axis=1)  # (B, m+1)
    j = xp.arange(m)[:, None]
    k = xp.arange(m)[None, :]
    count = xp.astype(k - j + 1, z.dtype)
    valid = k >= j
    A = (S[:, None, 1:] - S[:, :m, None]) / xp.where(valid, count, xp.ones_like(count))  # A[b, j, k]
    A = xp.where(valid, A, -math.inf)
    cols = [A[:, :, m - 1]]
    for i in range(m - 2, -1, -1):  # T[b, j, i] = max_{k >= i} A[b, j, k]
        cols.append(xp.maximum(cols[-1], A[:, :, i]))
    T = xp.stack(cols[::-1], axis=2)
    T = xp.where(valid, T, math.inf)  # only j <= i
    return xp.min(T, axis=1)


def _prox_b(u: Array, thr: Array, G: Array, xp: Any, mask: Array | None = None) -> Array:
    """prox of sum_i thr_i ||b||_(i) at u (thr (B, m) nonincreasing per row); groups outside ``mask`` -> 0."""
    r = group_norms(u, G, xp)
    if mask is not None:
        r = xp.where(mask, r, xp.zeros_like(r))
    order = xp.argsort(r, axis=1, descending=True, stable=True)
    rs = xp.take_along_axis(r, order, axis=1)
    x = xp.clip(isotonic_nonincreasing(rs - thr, xp), min=0.0)
    inverse = xp.argsort(order, axis=1, stable=True)
    xg = xp.take_along_axis(x, inverse, axis=1)
    positive = r > 0
    scale = xp.where(positive, xg / xp.where(positive, r, xp.ones_like(r)), xp.zeros_like(r))
    return u * xp.matmul(scale, xp.matrix_transpose(G))


def prox_group_slope(u: Array, t: Array, sizes: Any, w: Any, xp: Any | None = None) -> Array:
    """argmin_b 1/2 ||b - u||^2 + t sum_i w_i ||b||_(i) (plain group SLOPE, unit group weights), per row:
    u (B, p), t (B,) > 0."""
    xp = _ns(xp, u)
    if u.ndim != 2:
        raise UsageError(f"u must have 2 axes (batch, p), got shape {tuple(u.shape)}.")
    _check_finite("u", u, xp)
    sizes = _check_sizes(sizes, int(u.shape[1]))
    wv = _check_weights(w, len(sizes))
    _check_lambda("t", t, int(u.shape[0]), xp)
    return _prox_b(u, t[:, None] * xp.asarray(wv)[None, :], group_matrix(sizes, xp), xp)


# ----------------------------------------------------------------------------------------------- solver

@dataclass
class Solution:
    """Per instance: beta (B, p) in the original scale, the final duality gap (absolute), the objective, the
    iterations used and whether the gap reached the tolerance."""

    beta: Array
    gap: Array
    objective: Array
    iterations: Array
    converged: Array


def _lipschitz(Xt: Array, xp: Any) -> Array:
    n, p = int(Xt.shape[1]), int(Xt.shape[2])
    XtT = xp.matrix_transpose(Xt)
    gram = xp.matmul(XtT, Xt) if p <= n else xp.matmul(Xt, XtT)
    return xp.max(xp.linalg.eigvalsh(gram), axis=1) / n


def _objective_and_gap(Xt: Array, y: Array, b: Array, lam: Array, G: Array, wv: Array, xp: Any,
                       mask: Array | None) -> tuple[Array, Array]:
    n = int(Xt.shape[1])
    r = y - xp.matmul(Xt, b[..., None])[..., 0]
    nb = group_norms(b, G, xp)
    primal = xp.sum(r * r, axis=1) / (2 * n) + lam * xp.sum(xp.sort(nb, axis=1, descending=True) * wv, axis=1)
    c = group_norms(xp.matmul(xp.matrix_transpose(Xt), r[..., None])[..., 0], G, xp)
    if mask is not None:
        c = xp.where(mask, c, xp.zeros_like(c))
    top = xp.cumulative_sum(xp.sort(c, axis=1, descending=True), axis=1)
    dn = xp.max(top / xp.cumulative_sum(wv), axis=1)  # J*(Xt^T r)
    theta = r / xp.maximum(xp.asarray(float(n)), dn / lam)[:, None]
    dual = xp.sum(theta * y, axis=1) - n / 2 * xp.sum(theta * theta, axis=1)
    return primal, primal - dual


def solve(X: Array, y: Array, sizes: Any, w: Any, lam: Array, *, beta0: Array | None = None,
          mask: Array | None = None, tol: float = 1e-14, max_iter: int = 20000, check_every: int = 10,
          xp: Any | None = None) -> Solution:
    """Solve the gSLOPE problem for each instance: X (B, n, p), y (B, n), lam (B,), optional warm start beta0
    (B, p) and group mask (B, m) (True = free, False = fixed at 0). ``tol`` is relative to ||y||^2 / (2n)."""
    xp = _ns(xp, X)
    sizes, wnp = _check_problem(X, y, sizes, w, xp)
    B, n, p = (int(s) for s in X.shape)
    _check_lambda("lam", lam, B, xp)
    tol = _check_tol("tol", tol)
    max_iter = _check_count("max_iter", max_iter)
    check_every = _check_count("check_every", check_every)
    if beta0 is not None:
        if tuple(beta0.shape) != (B, p):
            raise UsageError(f"beta0 must have shape ({B}, {p}), got {tuple(beta0.shape)}.")
        _check_finite("beta0", beta0, xp)
    if mask is not None and tuple(mask.shape) != (B, len(sizes)):
        raise UsageError(f"mask must have shape ({B}, {len(sizes)}) (batch, groups), got {tuple(mask.shape)}.")
    G = group_matrix(sizes, xp)
    root = xp.matmul(_sqrt_sizes(sizes, xp)[None, :], xp.matrix_transpose(G))[0, :]  # sqrt(p_g) per variable
    Xt = X / root
    wv = xp.asarray(wnp)
    L = _lipschitz(Xt, xp)
    scale0 = xp.sum(y * y, axis=1) / (2 * n)
    b = xp.zeros((B, p), dtype=X.dtype) if beta0 is None else beta0 * root
    if mask is not None:
        b = b * xp.matmul(xp.astype(mask, X.dtype), xp.matrix_transpose(G))
    z, t = b, xp.ones((B,), dtype=X.dtype)
    thr = (lam / L)[:, None] * wv[None, :]
    XtT = xp.matrix_transpose(Xt)
    done = xp.zeros((B,), dtype=xp.bool)
    iterations = xp.zeros((B,), dtype=xp.int64)
    _, gap = _objective_and_gap(Xt, y, b, lam, G, wv, xp, mask)
    done = gap <= tol * scale0
    it = 0
    while it < max_iter and not bool(xp.all(done)):
        for _ in range(check_every):
            grad = xp.matmul(XtT, (xp.matmul(Xt, z[..., None])[..., 0] - y)[..., None])[..., 0] / n
            b_new = _prox_b(z - grad / L[:, None], thr, G, xp, mask)
            restart = xp.sum((z - b_new) * (b_new - b), axis=1) > 0
            t_new = (1 + xp.sqrt(1 + 4 * t * t)) / 2
            momentum = xp.where(restart, xp.zeros_like(t), (t - 1) / t_new)
            t_next = xp.where(restart, xp.ones_like(t), t_new)
            z_new = b_new + momentum[:, None] * (b_new - b)
            keep = done[:, None]
            b, z = xp.where(keep, b, b_new), xp.where(keep, z, z_new)
            t = xp.where(done, t, t_next)
            iterations = iterations + xp.astype(~done, xp.int64)
        it += check_every
        _, gap = _objective_and_gap(Xt, y, b, lam, G, wv, xp, mask)
        done = done | (gap <= tol * scale0)
    objective, gap = _objective_and_gap(Xt, y, b, lam, G, wv, xp, mask)
    return Solution(beta=b / root, gap=gap, objective=objective, iterations=iterations, converged=gap <= tol * scale0)


# ----------------------------------------------------------------------------------------------- screening

def strong_rule(c: Array, lam_prev: Array, lam_new: Array, w: Any, xp: Any | None = None) -> Array:
    """The strong rule's kept set S (Algorithm 2, ``inner_screening``): c (B, m) group scores of the gradient at
    the previous solution, lam_prev, lam_new (B,). Sorted c plus lam_prev w - 2 lam_new w is scanned with a
    running sum that resets whenever it is >= 0; the top-k groups up to the last reset are kept. (B, m) bool."""
    xp = _ns(xp, c)
    B, m = (int(s) for s in c.shape)
    wv = xp.asarray(_check_weights(w, m))
    order = xp.argsort(c, axis=1, descending=True, stable=True)
    shifted = xp.take_along_axis(c, order, axis=1) + (lam_prev - 2 * lam_new)[:, None] * wv[None, :]
    s = xp.zeros((B,), dtype=c.dtype)
    k = xp.zeros((B,), dtype=xp.int64)
    for pos in range(m):
        s = s + shifted[:, pos]
        hit = s >= 0
        k = xp.where(hit, xp.full_like(k, pos + 1), k)
        s = xp.where(hit, xp.zeros_like(s), s)
    rank = xp.argsort(order, axis=1, stable=True)  # position of each group in the sorted order
    return rank < k[:, None]


def kkt_violations(c: Array, active: Array, lam: Array, w: Any, tol: float, xp: Any | None = None, *,
                   rule: str = "package") -> Array:
    """Groups flagged by a KKT check of the zero groups (not ``active``): sorted by score c, the cumulative sums
    of c - lam w_{|A|+1..m}. ``rule="package"`` (``gslope_kkt_check``) flags the groups at positions whose sum
    exceeds ``tol``; ``rule="complete"`` flags every zero group at or before the last such position, so that
    whenever the full condition (every sum <= tol) fails, each group of the violating prefix is flagged. (B, m)."""
    xp = _ns(xp, c)
    if rule not in ("package", "complete"):
        raise UsageError(f"rule must be 'package' or 'complete', got {rule!r}.")
    B, m = (int(s) for s in c.shape)
    wv = xp.asarray(_check_weights(w, m))
    n_active = xp.sum(xp.astype(active, xp.int64), axis=1)
    key = xp.where(active, xp.full_like(c, -math.inf), c)
    order = xp.argsort(key, axis=1, descending=True, stable=True)  # zero groups first, by score
    cs = xp.take_along_axis(key, order, axis=1)
    pos = xp.arange(m)[None, :]
    idx = xp.clip(pos + n_active[:, None], max=m - 1)  # weight index |A| + position
    wtail = xp.take_along_axis(xp.broadcast_to(wv[None, :], (B, m)), idx, axis=1)
    n_zero = m - n_active
    inside = pos < n_zero[:, None]
    terms = xp.where(inside, cs - lam[:, None] * wtail, xp.zeros_like(cs))
    flagged_sorted = (xp.cumulative_sum(terms, axis=1) > tol) & inside
    if rule == "complete":
        last = xp.max(xp.where(flagged_sorted, xp.broadcast_to(pos, (B, m)), xp.full((B, m), -1)), axis=1)
        flagged_sorted = (pos <= last[:, None]) & inside
    rank = xp.argsort(order, axis=1, stable=True)
    return xp.take_along_axis(flagged_sorted, rank, axis=1)


def kkt_residual(X: Array, y: Array, beta: Array, lam: Array, sizes: Any, w: Any,
                 xp: Any | None = None) -> Array:
    """The exact KKT condition of the zero groups of beta for the full problem: max_k of the cumulative sums of
    sorted scores minus lam w_{|A|+1..}, divided by lam (<= 0 up to rounding iff the zero groups are optimal
    given the active ones). (B,)."""
    xp = _ns(xp, X)
    sizes, wnp = _check_problem(X, y, sizes, w, xp)
    n = int(X.shape[1])
    grad = xp.matmul(xp.matrix_transpose(X), (xp.matmul(X, beta[..., None])[..., 0] - y)[..., None])[..., 0] / n
    c = group_scores(grad, sizes, xp)
    active = group_norms(beta, group_matrix(sizes, xp), xp) > 0
    B, m = (int(s) for s in c.shape)
    n_active = xp.sum(xp.astype(active, xp.int64), axis=1)
    key = xp.where(active, xp.full_like(c, -math.inf), c)
    cs = xp.take_along_axis(key, xp.argsort(key, axis=1, descending=True, stable=True), axis=1)
    pos = xp.arange(m)[None, :]
    idx = xp.clip(pos + n_active[:, None], max=m - 1)
    wtail = xp.take_along_axis(xp.broadcast_to(xp.asarray(wnp)[None, :], (B, m)), idx, axis=1)
    inside = pos < (m - n_active)[:, None]
    sums = xp.cumulative_sum(xp.where(inside, cs - lam[:, None] * wtail, xp.zeros_like(cs)), axis=1)
    worst = xp.max(xp.where(inside, sums, xp.full_like(sums, -math.inf)), axis=1)
    return xp.where(n_active < m, worst / lam, xp.zeros_like(lam))


@dataclass
class Path:
    """A solution path per instance: beta (B, L, p); per path point (B, L): the groups kept by the strong rule
    (|S|), fitted (|E| after the KKT loop, and the variables in it), active (|A|), the KKT violations added, the
    refits, the final gap, and whether every solve converged."""

    beta: Array
    strong_set: np.ndarray
    fitted: np.ndarray
    fitted_variables: np.ndarray
    active: np.ndarray
    violations: np.ndarray
    refits: np.ndarray
    gap: np.ndarray
    converged: np.ndarray


def _restricted_solve(X: Array, y: Array, sizes: tuple[int, ...], w: np.ndarray, lam: Array, beta0: Array,
                      keep: np.ndarray, tol: float, max_iter: int, xp: Any) -> Solution:
    """Solve on the union of the kept groups (columns gathered), each instance masked to its own groups."""
    B, _, p = (int(s) for s in X.shape)
    union = np.flatnonzero(keep.any(axis=0))
    if union.size == 0:
        zeros = xp.zeros((B,), dtype=X.dtype)
        return Solution(beta=xp.zeros((B, p), dtype=X.dtype), gap=zeros, objective=zeros,
                        iterations=xp.zeros((B,), dtype=xp.int64), converged=xp.ones((B,), dtype=xp.bool))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    cols = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in union])
    select = np.zeros((cols.size, p))
    select[np.arange(cols.size), cols] = 1.0
    S = xp.asarray(select)
    sub_sizes = tuple(sizes[g] for g in union)
    Xs = xp.take(X, xp.asarray(cols), axis=2)
    sol = solve(Xs, y, sub_sizes, w[:len(union)], lam, beta0=xp.take(beta0, xp.asarray(cols), axis=1),
                mask=xp.asarray(keep[:, union]), tol=tol, max_iter=max_iter, xp=xp)
    sol.beta = xp.matmul(sol.beta, S)
    return sol


def fit_path(X: Array, y: Array, sizes: Any, w: Any, lambdas: Array, *, screen: str = "strong",
             tol: float = 1e-14, max_iter: int = 20000, kkt_tol: float = float(np.finfo(float).eps),
             xp: Any | None = None) -> Path:
    """The warm-started solution path at lambdas (B, L), decreasing along each row (see the module docstring
    for ``screen``: "none", "strong", "strong-no-kkt")."""
    xp = _ns(xp, X)
    sizes, wnp = _check_problem(X, y, sizes, w, xp)
    if screen not in SCREEN_MODES:
        raise UsageError(f"screen must be one of {SCREEN_MODES}, got {screen!r}.")
    B, n, p = (int(s) for s in X.shape)
    if lambdas.ndim != 2 or int(lambdas.shape[0]) != B or int(lambdas.shape[1]) < 1:
        raise UsageError(f"lambdas must have shape ({B}, L) with L >= 1 (one path per instance), got "
                         f"{tuple(lambdas.shape)}.")
    lam_np = np.asarray(_to_host(lambdas), dtype=float)
    if not np.all(np.isfinite(lam_np)) or np.any(lam_np <= 0) or np.any(np.diff(lam_np, axis=1) >= 0):
        raise UsageError("lambdas must be finite, > 0 and strictly decreasing along each path.")
    _check_tol("kkt_tol", kkt_tol)
    m, L = len(sizes), int(lambdas.shape[1])
    G = group_matrix(sizes, xp)
    out = {k: np.zeros((B, L), dtype=int) for k in ("strong_set", "fitted", "fitted_variables", "active",
                                                   "violations", "refits")}
    size_np = np.asarray(sizes)
    gaps, conv = np.zeros((B, L)), np.ones((B, L), dtype=bool)
    betas = []
    beta = xp.zeros((B, p), dtype=X.dtype)
    all_groups = np.ones((B, m), dtype=bool)
    for k in range(L):
        lam = lambdas[:, k]
        if k == 0 or screen == "none":
            sol = solve(X, y, sizes, wnp, lam, beta0=beta, tol=tol, max_iter=max_iter, xp=xp)
            kept = all_groups.copy()
            strong = kept
        else:
            grad = _gradient(X, y, beta, xp)
            c = group_scores(grad, sizes, xp)
            strong = np.asarray(_to_host(strong_rule(c, lambdas[:, k - 1], lam, wnp, xp)), dtype=bool)
            prev_active = np.asarray(_to_host(group_norms(beta, G, xp) > 0), dtype=bool)
            kept = strong | prev_active
            sol = _restricted_solve(X, y, sizes, wnp, lam, beta, kept, tol, max_iter, xp)
            if screen in ("strong", "strong-complete-kkt"):
                rule = "package" if screen == "strong" else "complete"
                for _ in range(m):
                    active = group_norms(sol.beta, G, xp) > 0
                    c = group_scores(_gradient(X, y, sol.beta, xp), sizes, xp)
                    flagged = np.asarray(_to_host(kkt_violations(c, active, lam, wnp, kkt_tol, xp, rule=rule)),
                                         dtype=bool)
                    new = flagged & ~kept
                    if not new.any():
                        break
                    out["violations"][:, k] += new.sum(axis=1)
                    out["refits"][:, k] += new.any(axis=1)
                    kept = kept | new
                    redo = _restricted_solve(X, y, sizes, wnp, lam, beta, kept, tol, max_iter, xp)
                    rows = xp.asarray(new.any(axis=1))
                    sol = Solution(beta=xp.where(rows[:, None], redo.beta, sol.beta),
                                   gap=xp.where(rows, redo.gap, sol.gap),
                                   objective=xp.where(rows, redo.objective, sol.objective),
                                   iterations=sol.iterations + redo.iterations,
                                   converged=xp.where(rows, redo.converged, sol.converged))
        beta = sol.beta
        betas.append(beta)
        out["strong_set"][:, k] = strong.sum(axis=1)
        out["fitted"][:, k] = kept.sum(axis=1)
        out["fitted_variables"][:, k] = kept.astype(int) @ size_np
        out["active"][:, k] = np.asarray(_to_host(group_norms(beta, G, xp) > 0)).sum(axis=1)
        gaps[:, k] = np.asarray(_to_host(sol.gap))
        conv[:, k] = np.asarray(_to_host(sol.converged), dtype=bool)
    return Path(beta=xp.stack(betas, axis=1), gap=gaps, converged=conv, **out)


def _gradient(X: Array, y: Array, beta: Array, xp: Any) -> Array:
    n = int(X.shape[1])
    return xp.matmul(xp.matrix_transpose(X), (xp.matmul(X, beta[..., None])[..., 0] - y)[..., None])[..., 0] / n


def _to_host(a: Array) -> np.ndarray:
    from boundlab.backends import to_numpy

    return to_numpy(a)


def path_lambdas(lam_max: Array, length: int, min_frac: float, xp: Any | None = None) -> Array:
    """The package's path (``gen_path_gslope`` + ``path_shape``): geometric from lambda_max / 0.99 down to
    min_frac times that, ``length`` points per instance. (B, L)."""
    xp = _ns(xp, lam_max)
    length = _check_count("length", length)
    if not (isinstance(min_frac, (int, float)) and 0 < min_frac < 1):
        raise UsageError(f"min_frac must be in (0, 1), got {min_frac!r}.")
    top = lam_max / 0.99
    if length == 1:
        return top[:, None]
    steps = xp.asarray(np.linspace(0.0, math.log(min_frac), length))
    return top[:, None] * xp.exp(steps)[None, :]


# ----------------------------------------------------------------------------------------------- reference

class CvxpyReference:
    """The same problem in cvxpy (CLARABEL), one instance at a time, built once per shape with Parameters (DPP).
    The loss is written through a QR factorisation X = Q R (reduced for n > p, full for n <= p): ||y - X beta||^2
    = ||Q^T y - R beta||^2 + const, which CLARABEL solves more accurately than the raw n x p form (measured).
    The sorted norm is sum_i (w_i - w_{i+1}) sum_largest(v, i), v_g = sqrt(p_g) ||beta_g|| (w_{m+1} = 0), convex
    and DCP because w is nonincreasing."""

    def __init__(self, n: int, sizes: Any, w: Any, *, accuracy: float = 1e-9) -> None:
        import warnings

        import cvxpy as cp

        self.sizes = _check_sizes(sizes)
        self.w = _check_weights(w, len(self.sizes))
        self.n, p = _check_count("n", n), sum(self.sizes)
        self.p, k = p, min(self.n, p)
        self.accuracy = _check_tol("accuracy", accuracy)
        self.R, self.q = cp.Parameter((k, p)), cp.Parameter(k)
        self.lam = cp.Parameter(nonneg=True)
        self.beta = cp.Variable(p)
        starts = np.concatenate([[0], np.cumsum(self.sizes)])
        v = cp.hstack([math.sqrt(s) * cp.norm(self.beta[starts[g]:starts[g + 1]]) for g, s in enumerate(self.sizes)])
        wd = np.append(self.w, 0.0)
        J = sum((wd[i] - wd[i + 1]) * cp.sum_largest(v, i + 1) for i in range(len(self.sizes)) if wd[i] > wd[i + 1])
        loss = cp.sum_squares(self.q - self.R @ self.beta) / (2 * self.n)
        with warnings.catch_warnings():  # "too many subexpressions": the problem is built once per shape
            warnings.simplefilter("ignore", UserWarning)
            self.problem = cp.Problem(cp.Minimize(loss + self.lam * J))

    def solve(self, X: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, str]:
        """beta and the solver status for one instance X (n, p), y (n,) at lam > 0."""
        import warnings

        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        if X.shape != (self.n, self.p) or y.shape != (self.n,):
            raise UsageError(f"X and y must have shapes {(self.n, self.p)} and {(self.n,)}, got {X.shape}, {y.shape}.")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise UsageError("X and y must be finite (no NaN or inf).")
        if not (math.isfinite(lam) and lam > 0):
            raise UsageError(f"lam must be finite and > 0, got {lam!r}.")
        Q, R = np.linalg.qr(X, mode="reduced")
        self.R.value, self.q.value, self.lam.value = R, Q.T @ y, float(lam)
        a = self.accuracy
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.problem.solve(solver="CLARABEL", tol_gap_abs=a, tol_gap_rel=a, tol_feas=a, max_iter=400)
        return np.asarray(self.beta.value, dtype=float), str(self.problem.status)
