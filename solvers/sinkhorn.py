r"""Entropic optimal transport by batched log-domain Sinkhorn and Sinkhorn-Newton-Sparse (array API).

The problem (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao, Ying, ICLR 2024): marginals ``r`` (B, n)
and ``c`` (B, m), costs ``C`` (B, n, m), a regularisation ``eta > 0``,

    min_{P 1 = r, P^T 1 = c}  <C, P> + (1/eta) sum_ij P_ij log P_ij.

Its dual is the maximisation of the concave Lyapunov potential

    f(x, y) = -(1/eta) sum_ij exp(eta (-C_ij + x_i + y_j) - 1) + r.x + c.y,

with plan ``P(x, y) = exp(eta (-C + x 1^T + 1 y^T) - 1)``, gradient ``grad f = (r - P 1, c - P^T 1)`` and Hessian
``grad^2 f = -eta [[diag(P 1), P], [P^T, diag(P^T 1)]]`` (negative semi-definite: ``(1, -1)`` spans its null
space). The marginal error ``||grad f||_1 = ||P 1 - r||_1 + ||P^T 1 - c||_1`` is the stopping criterion of both
methods.

* :func:`sinkhorn` -- alternating exact maximisation of f in x and then in y (log-domain, logsumexp; or, with
  ``domain="auto"`` where float64 allows, on scalings of the kernel), batched; one iteration is one x-update and
  one y-update (after it the column marginals are exact).
* :func:`sinkhorn_newton_sparse` -- Algorithm 1 of the paper: ``n_sinkhorn`` Sinkhorn iterations, then Newton
  iterations, each with ``M = Sparsify(-grad^2 f)`` (the two diagonal blocks kept, the off-diagonal block P
  truncated to its ``ceil(density n m)`` largest entries; optionally, unlike the paper, also each row's and
  column's largest entry), the direction ``dz = M^{-1} grad f`` by conjugate gradient (an ascent direction, since
  M is positive semi-definite and ``grad f`` is orthogonal to its null space), and a backtracking line search on f.

Batching. Sinkhorn is one array computation over the instances. The Newton stage is too: the sparsified block is
kept as a dense masked array (B, n, m) (entries below the threshold set to zero), and the conjugate gradient runs
on all instances at once, each with its own step sizes and its own stopping test (an instance whose residual has
converged is frozen). The machine work of a masked matrix-vector product is therefore n m per instance; the
*operation count* returned (``operations``) charges what a sparse implementation would do: n m per evaluation of
P (the gradient and every line-search trial), n m for the selection of the threshold (a linear-time selection;
here a sort), and ``nnz + n + m`` per CG product. ``dense_solve_operations`` charges the same iteration with the
Newton system solved by a dense factorisation instead, ``(n + m)^3 / 3`` in place of the CG products.

Instances that have converged are frozen (their iterates do not move), so an instance's iterates do not depend on
the rest of its batch. Every function takes arrays of any namespace that follows the Python array API standard
(NumPy, array-api-strict, CuPy) and computes in float64; unbatched inputs (r (n,), c (m,), C (n, m)) get B = 1.
Bad input raises :class:`boundlab.errors.UsageError` (a ``ValueError``) naming the parameter and the rule.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import array_api_compat

from boundlab.errors import UsageError

Array = Any

__all__ = ["SNSResult", "SinkhornResult", "dual_objective", "marginal_error", "plan", "sinkhorn",
           "sinkhorn_newton_sparse"]

MASS_TOL = 1e-8
_ARMIJO = 1e-4
_MAX_HALVINGS = 40
# two values of f within _FLAT (relative) are equal to round-off: the line search then asks for a smaller gradient
_FLAT = 1e-14
SINKHORN_DOMAINS = ("log", "auto")
# the kernel domain is used when eta * (max C - min C) <= _KERNEL_RANGE: the kernel's entries then span at most
# e^-500 of its largest (float64 reaches e^-708), and so do the scalings
_KERNEL_RANGE = 500.0


# ----------------------------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------------------------
def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a finite real number > 0, got {value!r}.")
    return float(value)


def _count(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def _validate(r: Array, c: Array, C: Array, eta: Any) -> tuple[Array, Array, Array, float, Any]:
    eta = _positive(eta, "eta")
    xp = array_api_compat.array_namespace(r, c, C)
    if r.ndim == 1 and c.ndim == 1 and C.ndim == 2:
        r, c, C = r[None, :], c[None, :], C[None, ...]
    if r.ndim != 2 or c.ndim != 2 or C.ndim != 3:
        raise UsageError(f"r, c, C must have shapes (B, n), (B, m), (B, n, m); got {tuple(r.shape)}, "
                         f"{tuple(c.shape)}, {tuple(C.shape)}.")
    B, n = r.shape
    m = c.shape[1]
    if c.shape[0] != B or tuple(C.shape) != (B, n, m):
        raise UsageError(f"C must have shape (B, n, m) = {(B, n, m)} matching r and c; got {tuple(C.shape)}.")
    r, c, C = (xp.astype(v, xp.float64, copy=False) for v in (r, c, C))
    for name, v in (("r", r), ("c", c)):
        if not bool(xp.all(xp.isfinite(v))):
            raise UsageError(f"{name} must be finite (no NaN or inf).")
        if not bool(xp.all(v > 0)):
            raise UsageError(f"{name} must be strictly positive (drop zero-mass points first).")
        if float(xp.max(xp.abs(xp.sum(v, axis=-1) - 1.0))) > MASS_TOL:
            raise UsageError(f"{name} must sum to one along its last axis (tolerance {MASS_TOL:g}).")
    if not bool(xp.all(xp.isfinite(C))):
        raise UsageError("C must be finite (no NaN or inf).")
    return r, c, C, eta, xp


# ----------------------------------------------------------------------------------------------------------------
# the potential, its plan and gradient
# ----------------------------------------------------------------------------------------------------------------
def _logsumexp(z: Array, xp: Any) -> Array:
    top = xp.max(z, axis=-1, keepdims=True)
    return xp.log(xp.sum(xp.exp(z - top), axis=-1)) + top[..., 0]


def _plan(x: Array, y: Array, C: Array, eta: float, xp: Any) -> Array:
    return xp.exp(eta * (x[:, :, None] + y[:, None, :] - C) - 1.0)


def _value_grad(x: Array, y: Array, r: Array, c: Array, C: Array, eta: float, xp: Any):
    P = _plan(x, y, C, eta, xp)
    rows, cols = xp.sum(P, axis=2), xp.sum(P, axis=1)
    f = -xp.sum(rows, axis=1) / eta + xp.sum(r * x, axis=1) + xp.sum(c * y, axis=1)
    return f, r - rows, c - cols, P


def _l1(gx: Array, gy: Array, xp: Any) -> Array:
    return xp.sum(xp.abs(gx), axis=1) + xp.sum(xp.abs(gy), axis=1)


def plan(x: Array, y: Array, C: Array, eta: float) -> Array:
    """``P = exp(eta (-C + x 1^T + 1 y^T) - 1)``, shape (B, n, m)."""
    eta = _positive(eta, "eta")
    xp = array_api_compat.array_namespace(x, y, C)
    return _plan(xp.astype(x, xp.float64), xp.astype(y, xp.float64), xp.astype(C, xp.float64), eta, xp)


def dual_objective(x: Array, y: Array, r: Array, c: Array, C: Array, eta: float) -> Array:
    """The Lyapunov potential f(x, y) per instance, shape (B,)."""
    r, c, C, eta, xp = _validate(r, c, C, eta)
    return _value_grad(xp.astype(x, xp.float64), xp.astype(y, xp.float64), r, c, C, eta, xp)[0]


def marginal_error(P: Array, r: Array, c: Array) -> Array:
    """``||P 1 - r||_1 + ||P^T 1 - c||_1`` per instance (= ||grad f||_1 at the potentials of P), shape (B,)."""
    xp = array_api_compat.array_namespace(P, r, c)
    return _l1(xp.sum(P, axis=-1) - r, xp.sum(P, axis=-2) - c, xp)


def _x_update(y: Array, r: Array, C: Array, eta: float, xp: Any) -> Array:
    return (xp.log(r) + 1.0 - _logsumexp(eta * (y[:, None, :] - C), xp)) / eta


def _y_update(x: Array, c: Array, C: Array, eta: float, xp: Any) -> Array:
    Ct = xp.permute_dims(C, (0, 2, 1))
    return (xp.log(c) + 1.0 - _logsumexp(eta * (x[:, None, :] - Ct), xp)) / eta


# ----------------------------------------------------------------------------------------------------------------
# Sinkhorn
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkhornResult:
    """Result of :func:`sinkhorn`; every field has a leading batch axis B.

    x, y:        (B, n), (B, m) dual potentials
    plan:        (B, n, m) P(x, y)
    error:       (B,) ||grad f||_1 at (x, y)
    iterations:  (B,) Sinkhorn iterations (x- and y-update) until error <= tol (max_iter if not reached)
    converged:   (B,) error <= tol
    history:     (B, iterations + 1) error after each iteration (entry 0: at the start), NaN after convergence;
                 None unless ``record=True``
    """

    x: Array
    y: Array
    plan: Array
    error: Array
    iterations: Array
    converged: Array
    history: Array | None


def _alternate(state: tuple[Array, Array], consts: tuple[Array, ...], rows: Any, step: Any, tol: float,
               max_iter: int, xp: Any, record: bool) -> tuple[tuple[Array, Array], Array, Array, list]:
    """Sinkhorn iterations on ``state`` (two per-instance arrays, the column marginals exact) until every
    instance's error is <= tol (or max_iter).

    ``rows(state, consts) -> (error, cache)`` gives the error of the iterate (its row sums; the columns are exact)
    and what the next update reuses; ``step(state, consts, cache) -> state`` is one x- and one y-update. An
    instance that is done is frozen (its rows keep their values); the working batch is compacted to the live
    instances once they are at most half of it, so it is copied at most log2(B) times. Frozen rows are
    recomputed unchanged until then, so no instance's iterates depend on its batch."""
    B = consts[0].shape[0]
    iters = xp.zeros((B,), dtype=xp.int64)
    err = xp.zeros((B,), dtype=xp.float64)
    active = xp.ones((B,), dtype=xp.bool)  # the instances in the working batch, in order
    hist: list = []
    full, work, kc, done_iters = state, state, consts, iters
    for k in range(max_iter + 1):
        e, cache = rows(work, kc)
        if record:
            hist.append(_scatter(err[:, None], active, e[:, None], xp)[:, 0])
        still = e > tol
        if k == max_iter or not bool(xp.any(still)):
            break
        n_live, n_work = int(xp.sum(xp.astype(still, xp.int64))), int(still.shape[0])
        if 2 * n_live <= n_work:  # compact: the frozen instances leave the working batch
            full = tuple(_scatter(f, active, w, xp) for f, w in zip(full, work, strict=True))
            err = _scatter(err[:, None], active, e[:, None], xp)[:, 0]
            iters = _scatter(iters[:, None], active, done_iters[:, None], xp)[:, 0]
            active = _scatter(active[:, None], active, still[:, None], xp)[:, 0]
            keep, idx = xp.nonzero(still)[0], xp.nonzero(active)[0]
            work, cache = tuple(xp.take(w, keep, axis=0) for w in work), xp.take(cache, keep, axis=0)
            done_iters, still = xp.take(done_iters, keep, axis=0), xp.take(still, keep, axis=0)
            kc = tuple(xp.take(v, idx, axis=0) for v in consts)
            n_work = n_live
        new = step(work, kc, cache)
        if n_live < n_work:
            new = tuple(xp.where(xp.reshape(still, (-1,) + (1,) * (w.ndim - 1)), nw, w)
                        for nw, w in zip(new, work, strict=True))
        work = new
        done_iters = done_iters + xp.astype(still, xp.int64)
    full = tuple(_scatter(f, active, w, xp) for f, w in zip(full, work, strict=True))
    err = _scatter(err[:, None], active, e[:, None], xp)[:, 0]
    iters = _scatter(iters[:, None], active, done_iters[:, None], xp)[:, 0]
    return full, err, iters, hist


def _sinkhorn_steps(x: Array, y: Array, r: Array, c: Array, C: Array, eta: float, tol: float, max_iter: int,
                    xp: Any, record: bool) -> tuple[Array, Array, Array, Array, list]:
    """Log-domain Sinkhorn from (x, y), y exact for x. The row logsumexp of an iteration gives both the error of
    the current iterate and the next x-update."""

    def rows(state: tuple[Array, Array], consts: tuple[Array, ...]) -> tuple[Array, Array]:
        (xa, ya), (ra, _, Ca) = state, consts
        lse = _logsumexp(eta * (ya[:, None, :] - Ca), xp)
        return xp.sum(xp.abs(xp.exp(eta * xa - 1.0 + lse) - ra), axis=1), lse

    def step(state: tuple[Array, Array], consts: tuple[Array, ...], lse: Array) -> tuple[Array, Array]:
        ra, ca, Ca = consts
        xa = (xp.log(ra) + 1.0 - lse) / eta
        return xa, _y_update(xa, ca, Ca, eta, xp)

    (x, y), err, iters, hist = _alternate((x, y), (r, c, C), rows, step, tol, max_iter, xp, record)
    return x, y, err, iters, hist


def _kernel_start(c: Array, C: Array, eta: float, xp: Any) -> tuple[Array, Array, Array]:
    """x = 0, the exact y for it and the kernel ``K = P(0, y)``, with one exponential: ``K0 = P(0, y0)`` at
    ``y0_j = min_i C_ij`` (entries in [e^(-eta s - 1), e^-1], s the spread of the costs), then the column
    scaling ``v = c / (K0^T 1)``, ``y = y0 + log(v) / eta`` (the log domain's first y-update)."""
    B, n, m = C.shape
    x = xp.zeros((B, n), dtype=xp.float64)
    y0 = xp.min(C, axis=1)
    K0 = _plan(x, y0, C, eta, xp)
    v = c / xp.sum(K0, axis=1)
    return x, y0 + xp.log(v) / eta, K0 * v[:, None, :]


def _kernel_steps(K: Array, x: Array, y: Array, r: Array, c: Array, eta: float, tol: float, max_iter: int,
                  xp: Any, record: bool) -> tuple[Array, Array, Array, Array, list, Array]:
    """Kernel-domain (scaling) Sinkhorn from (x, y), y exact for x, and the kernel ``K = P(x, y)``: the
    iterates are scalings ``P = diag(u) K diag(v)``, ``u = r / (K v)``, ``v = c / (K^T u)`` (two batched
    matrix-vector products per iteration, no exponentials), and ``x + log(u) / eta``, ``y + log(v) / eta`` are
    returned, the plan ``diag(u) K diag(v)`` last. The same iterates as the log domain, up to round-off, while
    the scalings and the kernel stay representable (see :func:`sinkhorn`'s ``domain``)."""

    def rows(state: tuple[Array, Array], consts: tuple[Array, ...]) -> tuple[Array, Array]:
        (u, v), (ra, _, Ka) = state, consts
        Kv = xp.matmul(Ka, v[..., None])[..., 0]
        return xp.sum(xp.abs(u * Kv - ra), axis=1), Kv

    def step(state: tuple[Array, Array], consts: tuple[Array, ...], Kv: Array) -> tuple[Array, Array]:
        ra, ca, Ka = consts
        u = ra / Kv
        return u, ca / xp.matmul(u[:, None, :], Ka)[:, 0, :]

    ones = (xp.ones(x.shape, dtype=xp.float64), xp.ones(y.shape, dtype=xp.float64))
    (u, v), err, iters, hist = _alternate(ones, (r, c, K), rows, step, tol, max_iter, xp, record)
    return x + xp.log(u) / eta, y + xp.log(v) / eta, err, iters, hist, u[:, :, None] * K * v[:, None, :]


def _scatter(out: Array, mask: Array, values: Array, xp: Any) -> Array:
    """``out`` with its rows where ``mask`` replaced by ``values`` (in order), without in-place writes."""
    pos = xp.cumulative_sum(xp.astype(mask, xp.int64)) - 1
    pos = xp.where(mask, pos, xp.zeros_like(pos))
    gathered = xp.take(values, pos, axis=0)
    return xp.where(mask[:, None], gathered, out)


def _history(hist: list, iters: Array, xp: Any) -> Array:
    H = xp.stack(hist, axis=1)
    k = xp.arange(H.shape[1], dtype=xp.int64)
    return xp.where(k[None, :] <= iters[:, None], H, xp.full(H.shape, xp.nan, dtype=xp.float64))


def sinkhorn(r: Array, c: Array, C: Array, eta: float, *, tol: float = 1e-10, max_iter: int = 100_000,
             record: bool = False, domain: str = "log") -> SinkhornResult:
    """Batched Sinkhorn from x = y = 0 until ``||grad f||_1 <= tol`` (see the module docstring).

    ``r`` (B, n) and ``c`` (B, m) strictly positive, summing to one; ``C`` (B, n, m) finite; ``eta > 0``;
    ``tol > 0``; ``max_iter >= 1``; ``record=True`` keeps the error after every iteration.

    ``domain="log"`` iterates on the potentials with logsumexp (safe at any eta). ``domain="auto"`` iterates on
    scalings of the kernel instead (two matrix-vector products per iteration and no exponentials, several times
    faster) when ``eta (max C - min C) <= 500`` on every instance, so that the kernel and the scalings stay far
    from float64's range; the batch is run again in the log domain if any of its results is not finite. Both give
    the same iterates up to round-off.
    """
    r, c, C, eta, xp = _validate(r, c, C, eta)
    tol = _positive(tol, "tol")
    max_iter = _count(max_iter, "max_iter", 1)
    if domain not in SINKHORN_DOMAINS:
        raise UsageError(f"domain must be one of {SINKHORN_DOMAINS}, got {domain!r}.")
    if domain == "auto" and eta * float(xp.max(xp.max(C, axis=(1, 2)) - xp.min(C, axis=(1, 2)))) <= _KERNEL_RANGE:
        with warnings.catch_warnings():  # a scaling that under- or overflows sends the batch to the log domain
            warnings.simplefilter("ignore", RuntimeWarning)
            x, y, K = _kernel_start(c, C, eta, xp)
            xk, yk, err, iters, hist, P = _kernel_steps(K, x, y, r, c, eta, tol, max_iter, xp, record)
        if all(bool(xp.all(xp.isfinite(v))) for v in (xk, yk, err)):
            return _sinkhorn_result(xk, yk, P, err, iters, hist, tol, record, xp)
    B, n = r.shape
    x = xp.zeros((B, n), dtype=xp.float64)
    y = _y_update(x, c, C, eta, xp)  # start with exact column marginals, as every later iterate has
    x, y, err, iters, hist = _sinkhorn_steps(x, y, r, c, C, eta, tol, max_iter, xp, record)
    return _sinkhorn_result(x, y, _plan(x, y, C, eta, xp), err, iters, hist, tol, record, xp)


def _sinkhorn_result(x: Array, y: Array, P: Array, err: Array, iters: Array, hist: list, tol: float,
                     record: bool, xp: Any) -> SinkhornResult:
    return SinkhornResult(x=x, y=y, plan=P, error=err, iterations=iters, converged=err <= tol,
                          history=_history(hist, iters, xp) if record else None)


# ----------------------------------------------------------------------------------------------------------------
# Sinkhorn-Newton-Sparse
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SNSResult:
    """Result of :func:`sinkhorn_newton_sparse`; every field has a leading batch axis B.

    x, y, plan, error, converged:  as for :class:`SinkhornResult`
    sinkhorn_iterations:           (B,) Sinkhorn iterations of the first stage (at most ``n_sinkhorn``)
    newton_iterations:             (B,) Newton iterations until error <= tol
    cg_products:                   (B,) CG matrix-vector products, summed over the Newton iterations
    line_search_trials:            (B,) evaluations of f in the line searches, summed
    nnz:                           (B,) nonzeros of the sparsified block at the last Newton iteration
    operations:                    (B,) the operation count of the Newton stage (module docstring)
    dense_solve_operations:        (B,) the same iterations with a dense solve of the Newton system
    stalled:                       (B,) no line-search trial was accepted (the direction is not an ascent one)
    history:                       (B, newton_iterations + 1) the error at the start of each Newton iteration
                                   and at the end, NaN after convergence; None unless ``record=True``
    """

    x: Array
    y: Array
    plan: Array
    error: Array
    converged: Array
    sinkhorn_iterations: Array
    newton_iterations: Array
    cg_products: Array
    line_search_trials: Array
    nnz: Array
    operations: Array
    dense_solve_operations: Array
    stalled: Array
    history: Array | None


# inexact Newton forcing term: the CG of a Newton iteration stops at the relative residual
# min(_FORCING_CAP, max(cg_rtol, _FORCING ||grad f||_1)), loose far from the optimum and tight near it
# (Eisenstat & Walker 1996; the local rate stays quadratic since the residual is O(||grad f||^2)). On random
# assignment (n = 100, eta = 200, lambda = 5/n) it cut the CG products 650 -> 386 at the same 6 Newton iterations.
_FORCING = 1.0
_FORCING_CAP = 0.1


def _sparsify(P: Array, keep: int, xp: Any, row_maxima: bool = False) -> Array:
    """P with the entries below its ``keep``-th largest set to zero (ties at the threshold kept); with
    ``row_maxima`` also keeping each row's and each column's largest entry."""
    B = P.shape[0]
    flat = xp.reshape(P, (B, -1))
    rho = xp.sort(flat, axis=1, descending=True)[:, keep - 1]
    kept = P >= rho[:, None, None]
    if row_maxima:
        kept = kept | (P >= xp.max(P, axis=2, keepdims=True)) | (P >= xp.max(P, axis=1, keepdims=True))
    return xp.where(kept, P, xp.zeros_like(P))


def _matvec(Ps: Array, rows: Array, cols: Array, vx: Array, vy: Array, eta: float, xp: Any) -> tuple[Array, Array]:
    """M v with M = eta [[diag(rows), Ps], [Ps^T, diag(cols)]]."""
    ox = rows * vx + xp.sum(Ps * vy[:, None, :], axis=2)
    oy = xp.sum(Ps * vx[:, :, None], axis=1) + cols * vy
    return eta * ox, eta * oy


def _cg(Ps: Array, rows: Array, cols: Array, gx: Array, gy: Array, eta: float, rtol: Array | float, max_iter: int,
        live: Array, xp: Any) -> tuple[Array, Array, Array]:
    """Batched conjugate gradient for M d = g from d = 0; instance b stops at ``||res|| <= rtol_b ||g||`` (``rtol``
    a scalar or one value per instance).
    Returns d = (dx, dy) and the number of products per instance."""
    dx, dy = xp.zeros_like(gx), xp.zeros_like(gy)
    rx, ry = gx, gy
    px, py = rx, ry
    rs = xp.sum(rx * rx, axis=1) + xp.sum(ry * ry, axis=1)
    target = (rtol * rtol) * rs
    active = live & (rs > target) & (rs > 0)
    products = xp.zeros(gx.shape[:1], dtype=xp.int64)
    for _ in range(max_iter):
        if not bool(xp.any(active)):
            break
        qx, qy = _matvec(Ps, rows, cols, px, py, eta, xp)
        products = products + xp.astype(active, xp.int64)
        pq = xp.sum(px * qx, axis=1) + xp.sum(py * qy, axis=1)
        safe = xp.where(active & (pq != 0), pq, xp.ones_like(pq))
        alpha = xp.where(active & (pq != 0), rs / safe, xp.zeros_like(rs))
        dx, dy = dx + alpha[:, None] * px, dy + alpha[:, None] * py
        rx, ry = rx - alpha[:, None] * qx, ry - alpha[:, None] * qy
        rs_new = xp.sum(rx * rx, axis=1) + xp.sum(ry * ry, axis=1)
        beta = xp.where(active, rs_new / xp.where(rs > 0, rs, xp.ones_like(rs)), xp.zeros_like(rs))
        px, py = rx + beta[:, None] * px, ry + beta[:, None] * py
        rs = xp.where(active, rs_new, rs)
        active = active & (rs > target) & (pq != 0)
    return dx, dy, products


def sinkhorn_newton_sparse(r: Array, c: Array, C: Array, eta: float, *, density: float | None = None,
                           n_sinkhorn: int = 20, tol: float = 1e-10, max_newton: int = 200,
                           cg_rtol: float = 1e-10, cg_max_iter: int | None = None, record: bool = False,
                           keep_row_maxima: bool = False, _hessian_sign: float = 1.0) -> SNSResult:
    """Sinkhorn-Newton-Sparse (Algorithm 1 of the paper; see the module docstring), batched.

    ``density`` is the kept fraction lambda of the n m entries of P in the sparsified Hessian (default 2/n, the
    paper's; 1 keeps the full Hessian); ``n_sinkhorn`` Sinkhorn iterations first (fewer if ``tol`` is met), then
    at most ``max_newton`` Newton iterations until ``||grad f||_1 <= tol``. The CG stops at a residual of
    ``min(0.1, max(cg_rtol, ||grad f||_1))`` times the gradient's l2 norm (an inexact-Newton forcing term), or after
    ``cg_max_iter`` products (default 2 (n + m)). ``keep_row_maxima=True`` also keeps every row's and column's
    largest entry of P (at most n + m more), so that no point is cut off from the others in the sparsified
    Hessian; the default is the paper's rule (see the module docstring).
    ``_hessian_sign = -1`` solves with the Hessian itself instead of its negative (a wrong sign: the direction is a
    descent direction, for tests of the line search and the mutants).
    """
    r, c, C, eta, xp = _validate(r, c, C, eta)
    tol = _positive(tol, "tol")
    cg_rtol = _positive(cg_rtol, "cg_rtol")
    n_sinkhorn = _count(n_sinkhorn, "n_sinkhorn", 0)
    max_newton = _count(max_newton, "max_newton", 1)
    B, n = r.shape
    m = c.shape[1]
    if density is None:
        density = 2.0 / n
    density = _positive(density, "density")
    if density > 1:
        raise UsageError(f"density must be in (0, 1] (the kept fraction of the n m entries), got {density!r}.")
    keep = max(1, min(n * m, math.ceil(density * n * m - 1e-9)))
    cg_max = _count(2 * (n + m) if cg_max_iter is None else cg_max_iter, "cg_max_iter", 1)
    x = xp.zeros((B, n), dtype=xp.float64)
    y = _y_update(x, c, C, eta, xp)
    x, y, err, sk_iters, _ = _sinkhorn_steps(x, y, r, c, C, eta, tol, n_sinkhorn, xp, False)
    zero_i = xp.zeros((B,), dtype=xp.int64)
    newton, products, trials, nnz = zero_i, zero_i, zero_i, zero_i
    ops = xp.zeros((B,), dtype=xp.float64)
    dense_ops = xp.zeros((B,), dtype=xp.float64)
    stalled = xp.zeros((B,), dtype=xp.bool)
    nm = float(n * m)
    f, gx, gy, P = _value_grad(x, y, r, c, C, eta, xp)
    err = _l1(gx, gy, xp)
    active = err > tol
    hist = [err]
    for _ in range(max_newton):
        if not bool(xp.any(active)):
            break
        rows, cols = xp.sum(P, axis=2), xp.sum(P, axis=1)
        Ps = _sparsify(P, keep, xp, bool(keep_row_maxima))
        nnz_now = xp.astype(xp.sum(xp.astype(Ps > 0, xp.int64), axis=(1, 2)), xp.int64)
        forcing = xp.minimum(xp.maximum(_FORCING * err, xp.full(err.shape, cg_rtol, dtype=err.dtype)),
                             xp.full(err.shape, _FORCING_CAP, dtype=err.dtype))
        dx, dy, k = _cg(Ps, rows, cols, gx, gy, eta, forcing, cg_max, active, xp)
        dx, dy = _hessian_sign * dx, _hessian_sign * dy
        slope = xp.sum(gx * dx, axis=1) + xp.sum(gy * dy, axis=1)
        # backtracking line search on f (concave: maximised), per instance
        step = xp.ones((B,), dtype=xp.float64)
        searching = active
        accepted = xp.zeros((B,), dtype=xp.bool)
        n_trials = zero_i
        nx, ny, nf, ngx, ngy, nP = x, y, f, gx, gy, P
        for _ in range(_MAX_HALVINGS):
            if not bool(xp.any(searching)):
                break
            tx, ty = x + step[:, None] * dx, y + step[:, None] * dy
            tf, tgx, tgy, tP = _value_grad(tx, ty, r, c, C, eta, xp)
            n_trials = n_trials + xp.astype(searching, xp.int64)
            terr = _l1(tgx, tgy, xp)
            noise = _FLAT * xp.maximum(xp.abs(f), xp.ones_like(f))
            armijo = (tf >= f + _ARMIJO * step * slope) & (tf - f > noise)  # a gain above round-off
            flat = (xp.abs(tf - f) <= noise) & (terr < err)  # at round-off: a smaller gradient instead
            ok = searching & xp.isfinite(tf) & (armijo | flat)
            nx, ny = xp.where(ok[:, None], tx, nx), xp.where(ok[:, None], ty, ny)
            nf = xp.where(ok, tf, nf)
            ngx, ngy = xp.where(ok[:, None], tgx, ngx), xp.where(ok[:, None], tgy, ngy)
            nP = xp.where(ok[:, None, None], tP, nP)
            accepted = accepted | ok
            searching = searching & ~ok
            step = xp.where(searching, step / 2.0, step)
        x, y, f, gx, gy, P = nx, ny, nf, ngx, ngy, nP
        moved = active & accepted
        stalled = stalled | (active & ~accepted)
        newton = newton + xp.astype(moved, xp.int64)
        products = products + xp.where(active, k, zero_i)
        trials = trials + xp.where(active, n_trials, zero_i)
        nnz = xp.where(active, nnz_now, nnz)
        # gradient and Hessian evaluation (n m), threshold selection (n m), CG products, line-search trials
        base = nm * (2.0 + xp.astype(n_trials, xp.float64))
        cg_ops = xp.astype(k, xp.float64) * (xp.astype(nnz_now, xp.float64) + float(n + m))
        ops = ops + xp.where(active, base + cg_ops, xp.zeros_like(ops))
        dense_ops = dense_ops + xp.where(active, base + float(n + m) ** 3 / 3.0, xp.zeros_like(ops))
        err = xp.where(active, _l1(gx, gy, xp), err)
        active = moved & (err > tol)
        if record:
            hist.append(err)
    converged = err <= tol
    return SNSResult(x=x, y=y, plan=P, error=err, converged=converged, sinkhorn_iterations=sk_iters,
                     newton_iterations=newton, cg_products=products, line_search_trials=trials, nnz=nnz,
                     operations=ops, dense_solve_operations=dense_ops, stalled=stalled,
                     history=_history(hist, newton, xp) if record else None)
