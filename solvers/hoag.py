"""Bilevel ridge regression and HOAG (hyperparameter optimisation with approximate gradient), batched over
instances (a leading axis) and written against the Python array API.

The bilevel problem, for one instance (A, b) (training data, n_train x d) and (A_v, b_v) (validation data):

    inner:  X(lam) = argmin_x h(x, lam),   h(x, lam) = ||A x - b||^2 / 2 + exp(lam) ||x||^2 / 2,
    outer:  f(lam) = g(X(lam)),            g(x)      = ||A_v x - b_v||^2 / 2,   lam in D = [lo, hi].

With t = exp(lam) and H = A^T A + t I (the inner Hessian, strongly convex with modulus sigma_min(A^T A) + t),
the implicit function theorem gives X'(lam) = -t H^-1 X and the exact hypergradient

    f'(lam) = grad g(X)^T X' = -t X^T q,    q = H^-1 grad g(X),   grad g(x) = A_v^T (A_v x - b_v);
    f''(lam) = ||A_v X'||^2 + grad g(X)^T (X' - 2 t H^-1 X').

HOAG (the paper's Algorithm 1) at iteration k, with a tolerance eps_k:

1. solve the inner problem to ||x_k - X(lam_k)|| <= eps_k (here gradient descent with step 1/L_in, warm-started,
   stopped when ||grad_x h|| <= mu_in eps_k, which implies the distance bound since h is mu_in-strongly convex);
2. solve H(x_k, lam_k) q = grad g(x_k) to residual ||H q - grad g(x_k)|| <= eps_k (conjugate gradient,
   warm-started);
3. p_k = grad_lam g - (d^2 h / dx dlam)^T q_k = -t x_k^T q_k (g does not depend on lam);
4. lam_{k+1} = P_D(lam_k - p_k / L), with L a Lipschitz constant of f' on D.

Bad input raises :class:`ValueError` naming the argument and the rule it broke.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from boundlab.backends import to_numpy

#: Bisection steps refining a root bracketed by neighbouring grid points (0.06 apart on D = [-6, 6] with the
#: default 201 points): 0.06 / 2^52 < 2e-17, below float64 spacing.
BISECTIONS = 52


@dataclass(frozen=True)
class RidgeBilevel:
    """A batch of bilevel ridge problems: A (N, m, d), b (N, m), Av (N, mv, d), bv (N, mv), on D = [lo, hi]."""

    A: Any
    b: Any
    Av: Any
    bv: Any
    lo: float
    hi: float


@dataclass(frozen=True)
class Hypergradient:
    """Exact quantities at lam (N,): f (N,), df = f' (N,), d2f = f'' (N,), X = X(lam) (N, d)."""

    f: Any
    df: Any
    d2f: Any
    X: Any


@dataclass(frozen=True)
class HoagRun:
    """The end of a HOAG run: lam (N,), x and q (N, d), and the total inner and CG iterations (ints)."""

    lam: Any
    x: Any
    q: Any
    inner_iterations: int
    cg_iterations: int


def _finite(x: Any, name: str) -> np.ndarray:
    host = to_numpy(x)
    if not np.all(np.isfinite(host)):
        raise ValueError(f"{name} must be finite (no NaN or inf).")
    return host


def check_problem(problem: RidgeBilevel) -> None:
    """Raise ValueError unless the arrays of ``problem`` have matching batched shapes, are finite, and lo < hi."""
    A = _finite(problem.A, "A")
    if A.ndim != 3:
        raise ValueError(f"A must have 3 axes (batch, n_train, d), got shape {A.shape}.")
    N, m, d = A.shape
    b = _finite(problem.b, "b")
    if b.shape != (N, m):
        raise ValueError(f"b must have shape {(N, m)} (one target per row of A), got {b.shape}.")
    Av = _finite(problem.Av, "Av")
    if Av.ndim != 3 or Av.shape[0] != N or Av.shape[2] != d:
        raise ValueError(f"Av must have shape ({N}, n_valid, {d}) (the batch and features of A), got {Av.shape}.")
    bv = _finite(problem.bv, "bv")
    if bv.shape != Av.shape[:2]:
        raise ValueError(f"bv must have shape {Av.shape[:2]} (one target per row of Av), got {bv.shape}.")
    if not (np.isfinite(problem.lo) and np.isfinite(problem.hi) and problem.lo < problem.hi):
        raise ValueError(f"the domain [lo, hi] must be finite with lo < hi, got [{problem.lo}, {problem.hi}].")


def _matvec(M: Any, v: Any) -> Any:
    return (M @ v[..., None])[..., 0]


def _solve(M: Any, v: Any, xp: Any) -> Any:
    return xp.linalg.solve(M, v[..., None])[..., 0]


def _gram(problem: RidgeBilevel, xp: Any) -> tuple[Any, Any, Any, Any]:
    """A^T A (N, d, d), A^T b (N, d), A_v^T A_v and A_v^T b_v."""
    At = xp.matrix_transpose(problem.A)
    Avt = xp.matrix_transpose(problem.Av)
    return At @ problem.A, _matvec(At, problem.b), Avt @ problem.Av, _matvec(Avt, problem.bv)


def hypergradient(problem: RidgeBilevel, lam: Any, xp: Any | None = None, second: bool = True) -> Hypergradient:
    """Exact f, f', f'' and X at lam (N,) or lam (N, G) (G points per instance), by batched linear solves
    (``second=False`` skips f'' and returns NaN in its place)."""
    xp = xp or array_namespace(problem.A)
    lam_host = _finite(lam, "lam")
    if lam_host.ndim not in (1, 2) or lam_host.shape[0] != problem.A.shape[0]:
        raise ValueError(f"lam must have shape (N,) or (N, G) with N = {problem.A.shape[0]}, got {lam_host.shape}.")
    G, c, Gv, cv = _gram(problem, xp)
    d = G.shape[-1]
    grid = lam.ndim == 2
    if grid:  # broadcast the instance arrays over the G points
        G, c, Gv, cv = G[:, None, ...], c[:, None, ...], Gv[:, None, ...], cv[:, None, ...]
    t = xp.exp(lam)
    H = G + t[..., None, None] * xp.eye(d, dtype=G.dtype)
    X = _solve(H, c, xp)
    grad_g = _matvec(Gv, X) - cv
    bv2 = xp.sum(problem.bv * problem.bv, axis=-1)
    if grid:
        bv2 = bv2[:, None]
    f = 0.5 * (xp.sum(X * _matvec(Gv, X), axis=-1) - 2.0 * xp.sum(cv * X, axis=-1) + bv2)
    dX = -t[..., None] * _solve(H, X, xp)
    df = xp.sum(grad_g * dX, axis=-1)
    if not second:
        return Hypergradient(f=f, df=df, d2f=xp.full_like(df, float("nan")), X=X)
    d2X = dX - 2.0 * t[..., None] * _solve(H, dX, xp)
    d2f = xp.sum(dX * _matvec(Gv, dX), axis=-1) + xp.sum(grad_g * d2X, axis=-1)
    return Hypergradient(f=f, df=df, d2f=d2f, X=X)


@dataclass(frozen=True)
class _Spectral:
    """A^T A = V diag(sig) V^T per instance, with the data in its eigenbasis: c = V^T A^T b, Gv = V^T A_v^T A_v V,
    cv = V^T A_v^T b_v, bv2 = ||b_v||^2. Then H^-1 = V diag(1 / (sig + t)) V^T for every t at once."""

    sig: Any
    c: Any
    Gv: Any
    cv: Any
    bv2: Any


def _spectral(problem: RidgeBilevel, xp: Any) -> _Spectral:
    G, c, Gv, cv = _gram(problem, xp)
    sig, V = xp.linalg.eigh(G)
    Vt = xp.matrix_transpose(V)
    return _Spectral(sig=sig, c=_matvec(Vt, c), Gv=Vt @ Gv @ V, cv=_matvec(Vt, cv),
                     bv2=xp.sum(problem.bv * problem.bv, axis=-1))


def _spectral_hypergradient(spec: _Spectral, lam: Any, xp: Any, second: bool = True) -> Hypergradient:
    """:func:`hypergradient` in the eigenbasis of A^T A (X returned in that basis): no solves, any lam shape
    (N,) or (N, G)."""
    sig, c, Gv, cv, bv2 = spec.sig, spec.c, spec.Gv, spec.cv, spec.bv2
    if lam.ndim == 2:
        sig, c, Gv, cv, bv2 = sig[:, None, ...], c[:, None, ...], Gv[:, None, ...], cv[:, None, ...], bv2[:, None]
    t = xp.exp(lam)[..., None]
    inv = 1.0 / (sig + t)
    X = c * inv
    grad_g = _matvec(Gv, X) - cv
    f = 0.5 * (xp.sum(X * _matvec(Gv, X), axis=-1) - 2.0 * xp.sum(cv * X, axis=-1) + bv2)
    dX = -t * inv * X
    df = xp.sum(grad_g * dX, axis=-1)
    if not second:
        return Hypergradient(f=f, df=df, d2f=xp.full_like(df, float("nan")), X=X)
    d2X = dX - 2.0 * t * inv * dX
    d2f = xp.sum(dX * _matvec(Gv, dX), axis=-1) + xp.sum(grad_g * d2X, axis=-1)
    return Hypergradient(f=f, df=df, d2f=d2f, X=X)


def _grid(problem: RidgeBilevel, points: int, xp: Any) -> tuple[Any, _Spectral, Hypergradient]:
    if not (isinstance(points, int) and points >= 2):
        raise ValueError(f"points must be an integer >= 2, got {points!r}.")
    check_problem(problem)
    N = problem.A.shape[0]
    grid = xp.linspace(problem.lo, problem.hi, points, dtype=problem.A.dtype)
    spec = _spectral(problem, xp)
    return grid, spec, _spectral_hypergradient(spec, xp.broadcast_to(grid[None, :], (N, points)), xp)


def _lipschitz(values: Hypergradient, safety: float, xp: Any) -> Any:
    if not (np.isfinite(safety) and safety >= 1.0):
        raise ValueError(f"safety must be a finite number >= 1, got {safety!r}.")
    return safety * xp.max(xp.abs(values.d2f), axis=1)


def _stationary(problem: RidgeBilevel, spec: _Spectral, grid: Any, df: Any, xp: Any) -> tuple[Any, Any]:
    change = (df[:, :-1] < 0) != (df[:, 1:] < 0)
    count = xp.sum(xp.astype(change, xp.int64), axis=1)
    count = count + xp.astype(df[:, 0] >= 0, xp.int64) + xp.astype(df[:, -1] <= 0, xp.int64)
    first = xp.argmax(xp.astype(change, xp.int64), axis=1)
    left = xp.take(grid, first)
    right = xp.take(grid, first + 1)
    sign_left = xp.take_along_axis(df, first[:, None], axis=1)[:, 0] < 0
    for _ in range(BISECTIONS):
        mid = 0.5 * (left + right)
        move_left = (_spectral_hypergradient(spec, mid, xp, second=False).df < 0) == sign_left
        left = xp.where(move_left, mid, left)
        right = xp.where(move_left, right, mid)
    root = 0.5 * (left + right)
    boundary = xp.where(df[:, 0] >= 0, xp.full_like(root, problem.lo), xp.full_like(root, problem.hi))
    return count, xp.where(xp.any(change, axis=1), root, boundary)


def lipschitz_constant(problem: RidgeBilevel, points: int = 201, safety: float = 1.5, xp: Any | None = None) -> Any:
    """A Lipschitz constant of f' on D per instance (N,): ``safety`` times max |f''| over ``points`` equispaced
    points of D (f'' is smooth, so a fine grid's maximum is close to the supremum; the tests check it against a
    grid ten times finer)."""
    xp = xp or array_namespace(problem.A)
    return _lipschitz(_grid(problem, points, xp)[2], safety, xp)


def stationary_points(problem: RidgeBilevel, points: int = 201, xp: Any | None = None) -> tuple[Any, Any]:
    """The number of stationary points of f on D per instance (N,), and the first one (N,) to full precision.

    A stationary point of f on D is an interior root of f', or lo with f'(lo) >= 0, or hi with f'(hi) <= 0.
    Interior roots are located as sign changes of f' on ``points`` equispaced points and refined by
    ``BISECTIONS`` bisection steps (the bracket then lies below float64 spacing).
    """
    xp = xp or array_namespace(problem.A)
    grid, spec, values = _grid(problem, points, xp)
    return _stationary(problem, spec, grid, values.df, xp)


def reference(problem: RidgeBilevel, points: int = 201, safety: float = 1.5, xp: Any | None = None
              ) -> tuple[Any, Any, Any]:
    """:func:`stationary_points` and :func:`lipschitz_constant` from one evaluation of the grid: (count, first
    stationary point, L)."""
    xp = xp or array_namespace(problem.A)
    grid, spec, values = _grid(problem, points, xp)
    count, root = _stationary(problem, spec, grid, values.df, xp)
    return count, root, _lipschitz(values, safety, xp)


def gradient_mapping(problem: RidgeBilevel, lam: Any, L: Any, xp: Any | None = None) -> Any:
    """|L (lam - P_D(lam - f'(lam) / L))|: zero exactly at the stationary points of f on D."""
    xp = xp or array_namespace(problem.A)
    df = hypergradient(problem, lam, xp).df
    return xp.abs(L * (lam - xp.clip(lam - df / L, problem.lo, problem.hi)))


def hoag(problem: RidgeBilevel, lam0: Any, L: Any, tolerances: Callable[[int], float], iterations: int,
         max_inner: int = 100_000, xp: Any | None = None) -> HoagRun:
    """``iterations`` HOAG steps from lam0 (N,) with step 1/L (L (N,) > 0) and tolerance eps_k = tolerances(k),
    k = 1, 2, ...: inner gradient descent to ||x - X(lam_k)|| <= eps_k, CG to residual <= eps_k, projected step.

    Gradient descent and CG run on the whole batch and freeze the instances that already meet their tolerance.
    An instance that does not meet it within ``max_inner`` steps raises RuntimeError (nothing is silently
    inexact)."""
    xp = xp or array_namespace(problem.A)
    check_problem(problem)
    if not (isinstance(iterations, int) and iterations >= 0):
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}.")
    if not (isinstance(max_inner, int) and max_inner >= 1):
        raise ValueError(f"max_inner must be an integer >= 1, got {max_inner!r}.")
    N, _, d = problem.A.shape
    L_host, lam_host = _finite(L, "L"), _finite(lam0, "lam0")
    if L_host.shape != (N,) or np.any(L_host <= 0):
        raise ValueError(f"L must have shape ({N},) with every entry > 0 (step size 1/L), got {L_host.shape}.")
    if lam_host.shape != (N,) or np.any(lam_host < problem.lo) or np.any(lam_host > problem.hi):
        raise ValueError(f"lam0 must have shape ({N},) and lie in D = [{problem.lo}, {problem.hi}].")
    G, c, Gv, cv = _gram(problem, xp)
    eig = xp.linalg.eigvalsh(G)
    sig_min, sig_max = eig[:, 0], eig[:, -1]
    eye = xp.eye(d, dtype=G.dtype)
    lam = xp.asarray(lam0, dtype=G.dtype, copy=True)
    x = xp.zeros((N, d), dtype=G.dtype)
    q = xp.zeros((N, d), dtype=G.dtype)
    inner_total = cg_total = 0
    for k in range(1, iterations + 1):
        eps = float(tolerances(k))
        if not (np.isfinite(eps) and eps > 0):
            raise ValueError(f"tolerances(k) must be a finite number > 0, got {eps!r} at k = {k}.")
        t = xp.exp(lam)
        H = G + t[:, None, None] * eye
        step = 1.0 / (sig_max + t)
        target = (sig_min + t) * eps  # ||grad h|| <= mu_in eps  =>  ||x - X(lam)|| <= eps
        for _ in range(max_inner):
            grad = _matvec(H, x) - c
            active = xp.linalg.vector_norm(grad, axis=-1) > target
            if not bool(xp.any(active)):
                break
            x = xp.where(active[:, None], x - step[:, None] * grad, x)
            inner_total += 1
        else:
            raise RuntimeError(f"inner gradient descent did not reach eps = {eps:g} in {max_inner} steps (k = {k}).")
        rhs = _matvec(Gv, x) - cv
        r = rhs - _matvec(H, q)
        direction = r
        for _ in range(max_inner):
            rr = xp.sum(r * r, axis=-1)
            active = xp.sqrt(rr) > eps  # the true residual, recomputed every step (no drift of the recursion)
            if not bool(xp.any(active)):
                break
            Hp = _matvec(H, direction)
            curvature = xp.where(active, xp.sum(direction * Hp, axis=-1), 1.0)
            alpha = xp.where(active, rr / curvature, 0.0)
            q = q + alpha[:, None] * direction
            r_new = rhs - _matvec(H, q)
            beta = xp.where(active, xp.sum(r_new * r_new, axis=-1) / xp.where(active, rr, 1.0), 0.0)
            direction = xp.where(active[:, None], r_new + beta[:, None] * direction, direction)
            r = r_new
            cg_total += 1
        else:
            raise RuntimeError(f"CG did not reach eps = {eps:g} in {max_inner} steps (k = {k}).")
        p = -t * xp.sum(x * q, axis=-1)
        lam = xp.clip(lam - p / L, problem.lo, problem.hi)
    return HoagRun(lam=lam, x=x, q=q, inner_iterations=inner_total, cg_iterations=cg_total)
