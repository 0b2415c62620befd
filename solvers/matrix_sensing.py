r"""Symmetric matrix sensing with the factorisation X = U U^T, batched over replicates (leading axis), array API.

The loss over m measurements (A_i symmetric d x d, y_i = <A_i, X*>):

    f(U) = 1/(2m) sum_i (<A_i, U U^T> - y_i)^2 = F(U U^T),   F(X) = 1/2 (X - X*) : H : (X - X*),

where H = (1/m) sum_i A_i (x) A_i is the measurement Gram operator, stored as a (D, D) matrix (D = d(d+1)/2) in
the coordinates of the orthonormal basis ``sym_basis(d)`` of the symmetric matrices (``gram_operator``).
grad F(X) = H : (X - X*) and grad f(U) = 2 grad F(U U^T) U, so gradient descent with step eta is

    U_{t+1} = U_t - 2 eta (H : (U_t U_t^T - X*)) U_t.

Near U = 0 this is U_{t+1} = (I + 2 eta M) U_t with M = H : X* (the spectral matrix (1/m) sum_i y_i A_i), so the
component along the k-th eigenvector of M is multiplied by 1 + 2 eta mu_k per step (mu_k -> lambda_k(X*) as the
Gram operator tends to the identity).

Also here: the best rank-k PSD solution argmin_{rank X <= k, X >= 0} F(X) (``best_rank_k``), the minimum-Frobenius
-norm solution of A(X) = y (``min_frobenius_solution``) and a dual certificate that X* is the unique
minimum-nuclear-norm PSD solution of A(X) = y (``nuclear_norm_certificate``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from boundlab.errors import UsageError

Array = Any


def sym_basis(d: int) -> np.ndarray:
    """An orthonormal basis (Frobenius inner product) of the symmetric d x d matrices, shape (d(d+1)/2, d, d):
    E_jj, then (E_jk + E_kj) / sqrt(2) for j < k."""
    _positive_int("d", d)
    out = []
    for j in range(d):
        e = np.zeros((d, d))
        e[j, j] = 1.0
        out.append(e)
    for j in range(d):
        for k in range(j + 1, d):
            e = np.zeros((d, d))
            e[j, k] = e[k, j] = 1.0 / math.sqrt(2.0)
            out.append(e)
    return np.stack(out)


@functools.lru_cache(maxsize=32)
def _basis_np(d: int, transposed: bool) -> np.ndarray:
    """The flattened basis (D, d^2), or its transpose, as a C-contiguous read-only array (BLAS-friendly)."""
    E = sym_basis(d).reshape(-1, d * d)
    E = np.ascontiguousarray(E.T if transposed else E)
    E.setflags(write=False)
    return E


def _basis(d: int, xp: Any, dtype: Any, transposed: bool = False) -> Array:
    return xp.asarray(_basis_np(d, transposed), dtype=dtype)


def to_coordinates(X: Array, xp: Any) -> Array:
    """Coordinates of symmetric matrices X (R, d, d) in ``sym_basis(d)``, shape (R, D)."""
    R, d, _ = X.shape
    return xp.matmul(xp.reshape(X, (R, d * d)), _basis(d, xp, X.dtype, transposed=True))


def from_coordinates(v: Array, d: int, xp: Any) -> Array:
    """The symmetric matrices (R, d, d) with coordinates v (R, D) in ``sym_basis(d)``."""
    return xp.reshape(xp.matmul(v, _basis(d, xp, v.dtype)), (v.shape[0], d, d))


def gram_operator(A: Array, xp: Any) -> Array:
    """H = (1/m) sum_i a_i a_i^T with a_i the ``sym_basis`` coordinates of A_i: A (R, m, d, d) -> (R, D, D)."""
    if A.ndim != 4 or A.shape[2] != A.shape[3]:
        raise UsageError(f"A must have shape (replicates, m, d, d), got {tuple(A.shape)}.")
    R, m, d, _ = A.shape
    a = xp.reshape(to_coordinates(xp.reshape(A, (R * m, d, d)), xp), (R, m, -1))
    return xp.matmul(xp.permute_dims(a, (0, 2, 1)), a) / m


def _positive_int(name: str, value: Any) -> None:
    if not (isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1):
        raise UsageError(f"{name} must be a positive integer, got {value!r}.")


def _check_problem(H: Array, Xstar: Array, xp: Any) -> tuple[int, int]:
    if Xstar.ndim != 3 or Xstar.shape[1] != Xstar.shape[2]:
        raise UsageError(f"Xstar must have shape (replicates, d, d), got {tuple(Xstar.shape)}.")
    R, d, _ = Xstar.shape
    D = d * (d + 1) // 2
    if tuple(H.shape) != (R, D, D):
        raise UsageError(f"H must have shape (replicates, D, D) = {(R, D, D)} (D = d(d+1)/2), got {tuple(H.shape)}.")
    for name, a in (("H", H), ("Xstar", Xstar)):
        if not bool(xp.all(xp.isfinite(a))):
            raise UsageError(f"{name} must be finite (no NaN or inf).")
    return R, d


def _check_eta(eta: float) -> None:
    if not (isinstance(eta, int | float) and math.isfinite(eta) and eta > 0):
        raise UsageError(f"eta (the step size) must be a finite number > 0, got {eta!r}.")


def _residual_gradient(H: Array, X: Array, Xstar: Array, xp: Any) -> Array:
    """grad F(X) = H : (X - X*), shape (R, d, d)."""
    d = X.shape[1]
    diff = to_coordinates(X - Xstar, xp)
    return from_coordinates(xp.matmul(H, diff[:, :, None])[:, :, 0], d, xp)


def _gram(U: Array, xp: Any) -> Array:
    return xp.matmul(U, xp.permute_dims(U, (0, 2, 1)))


@dataclass
class Trajectory:
    """A gradient-descent run: ``times[r, k]`` is the (log-interpolated, fractional) first step at which the k-th
    largest eigenvalue of U U^T exceeds ``thresholds[k]`` (NaN if never), ``U`` the final iterate, ``X`` the list
    of U_t U_t^T for t = 0 .. steps (only when kept), ``grad_norm`` the final ||grad f(U)||_F."""

    times: Array
    U: Array
    X: list[Array] | None
    grad_norm: Array


def gradient_descent(H: Array, Xstar: Array, U0: Array, eta: float, steps: int, thresholds: Array | None, xp: Any,
                     keep: bool = False) -> Trajectory:
    """``steps`` steps of GD on f(U) = F(U U^T) from U0 (R, d, r'), batched over replicates.

    ``thresholds`` (R, K) or (K,): the crossing levels of the K largest eigenvalues of U U^T (K <= r'); the
    crossing step is interpolated linearly in log(eigenvalue) between the two steps around it. None: no times
    (``times`` has shape (R, 0)).
    """
    R, d = _check_problem(H, Xstar, xp)
    _check_eta(eta)
    _positive_int("steps", steps)
    if U0.ndim != 3 or tuple(U0.shape[:2]) != (R, d):
        raise UsageError(f"U0 must have shape (replicates, d, r') = ({R}, {d}, r'), got {tuple(U0.shape)}.")
    if not bool(xp.all(xp.isfinite(U0))):
        raise UsageError("U0 must be finite (no NaN or inf).")
    thr = xp.asarray(thresholds if thresholds is not None else np.zeros((R, 0)), dtype=H.dtype)
    if thr.ndim == 1:
        thr = xp.broadcast_to(thr[None, :], (R, thr.shape[0]))
    K = thr.shape[1]
    if K > U0.shape[2] or (K > 0 and not bool(xp.all(thr > 0))):
        raise UsageError(f"thresholds must be positive and at most r' = {U0.shape[2]} per replicate, got {K}.")
    log_thr = xp.log(thr)
    U = U0
    times = xp.full((R, K), xp.nan, dtype=H.dtype)
    kept: list[Array] | None = [] if keep else None
    prev = None
    for t in range(steps + 1):
        X = _gram(U, xp)
        if kept is not None:
            kept.append(X)
        if K > 0:
            ev = xp.flip(xp.linalg.eigvalsh(xp.matmul(xp.permute_dims(U, (0, 2, 1)), U)), axis=1)[:, :K]
            ev = xp.maximum(ev, xp.asarray(1e-300, dtype=H.dtype))
        if K > 0 and prev is not None:
            crossed = xp.isnan(times) & (ev > thr) & (prev <= thr)
            lp, le = xp.log(prev), xp.log(ev)
            frac = (log_thr - lp) / xp.where(crossed, le - lp, xp.ones_like(lp))
            times = xp.where(crossed, (t - 1) + frac, times)
        if K > 0:
            prev = ev
        G = _residual_gradient(H, X, Xstar, xp)
        step = 2.0 * eta * xp.matmul(G, U)
        if t < steps:
            U = U - step
    if not bool(xp.all(xp.isfinite(U))):
        raise UsageError(f"gradient descent diverged (eta = {eta:g} too large for this problem).")
    grad_norm = xp.sqrt(xp.sum((step / eta) ** 2, axis=(1, 2)))
    return Trajectory(times=times, U=U, X=kept, grad_norm=grad_norm)


def snapshots(X: list[Array], times: Array, xp: Any) -> Array:
    """U U^T at step floor(times[r]) of replicate r, from a kept trajectory (steps beyond the end take the last)."""
    if not X:
        raise UsageError("snapshots need a kept trajectory (gradient_descent(..., keep=True)).")
    if not bool(xp.all(xp.isfinite(times))):
        raise UsageError("times must be finite (a plateau that was never reached has no snapshot).")
    idx = xp.minimum(xp.floor(times), xp.asarray(float(len(X) - 1), dtype=times.dtype))
    out = xp.zeros_like(X[0])
    for t, Xt in enumerate(X):
        out = xp.where((idx == t)[:, None, None], Xt, out)
    return out


def best_rank_k(H: Array, Xstar: Array, U0: Array, xp: Any, eta: float | None = None, tol: float = 1e-11,
                max_steps: int = 20000) -> tuple[Array, Array]:
    """argmin_{rank X <= k, X >= 0} F(X) by gradient descent on U (R, d, k) from U0 (a start near the
    minimiser, e.g. the rank-k truncation of X*), run until ||grad f(U)||_F <= tol on every replicate.

    Returns X_k = U U^T and the final gradient norms. The step defaults to 1 / (4 ||H|| ||X*||) (well inside the
    stability limit of the quartic loss near X*). Raises UsageError if the tolerance is not met in max_steps.
    """
    R, d = _check_problem(H, Xstar, xp)
    if eta is None:
        h = float(xp.max(xp.linalg.matrix_norm(H, ord=2)))
        x = float(xp.max(xp.linalg.matrix_norm(Xstar, ord=2)))
        eta = 1.0 / (4.0 * h * x)
    _check_eta(eta)
    if not (tol > 0 and math.isfinite(tol)):
        raise UsageError(f"tol must be a finite number > 0, got {tol!r}.")
    U = U0
    gn = xp.full((R,), xp.inf, dtype=H.dtype)
    for _ in range(max_steps):
        G = xp.matmul(_residual_gradient(H, _gram(U, xp), Xstar, xp), U)
        gn = 2.0 * xp.sqrt(xp.sum(G * G, axis=(1, 2)))
        if bool(xp.all(gn <= tol)):
            break
        U = U - 2.0 * eta * G
    else:
        raise UsageError(f"best_rank_k: gradient norm {float(xp.max(gn)):.3g} > tol = {tol:g} after "
                         f"{max_steps} steps.")
    return _gram(U, xp), gn


def min_frobenius_solution(A: Array, y: Array, xp: Any) -> Array:
    """The minimum-Frobenius-norm symmetric X with <A_i, X> = y_i (least squares / pseudo-inverse), (R, d, d).

    For symmetric A_i it is a combination sum_i c_i A_i with the Gram system (<A_i, A_j>) c = y.
    """
    if A.ndim != 4 or A.shape[2] != A.shape[3]:
        raise UsageError(f"A must have shape (replicates, m, d, d), got {tuple(A.shape)}.")
    R, m, d, _ = A.shape
    if tuple(y.shape) != (R, m):
        raise UsageError(f"y must have shape (replicates, m) = {(R, m)}, got {tuple(y.shape)}.")
    if m > d * (d + 1) // 2:
        raise UsageError(f"min_frobenius_solution needs m <= d(d+1)/2 = {d * (d + 1) // 2} (an under-determined "
                         f"system), got m = {m}.")
    flat = xp.reshape(A, (R, m, d * d))
    K = xp.matmul(flat, xp.permute_dims(flat, (0, 2, 1)))
    c = xp.linalg.solve(K, y[:, :, None])
    return xp.reshape(xp.matmul(xp.permute_dims(flat, (0, 2, 1)), c), (R, d, d))


def nuclear_norm_certificate(A: Array, V: Array, xp: Any) -> Array:
    """The dual certificate that X* (any PSD matrix with range spanned by the orthonormal columns of V, (R, d, r))
    is the unique solution of  min tr(X) = ||X||_*  s.t.  <A_i, X> = <A_i, X*>,  X >= 0.

    Construction (least-squares certificate): Y = sum_i nu_i A_i of least ||nu|| with P_T(Y) = V V^T, where T is
    the tangent space {V B^T + B V^T}. If A is injective on T and lambda_max(P_perp Y P_perp) < 1, then Z = I - Y
    is PSD with Z X* = 0, and for every feasible X >= 0, tr X - tr X* = <Z, X> > 0 unless X = X*.

    Returns lambda_max(P_perp Y P_perp) per replicate (certified when < 1); +inf where A is not injective on T.
    """
    if A.ndim != 4 or V.ndim != 3 or A.shape[0] != V.shape[0] or A.shape[2] != V.shape[1]:
        raise UsageError(f"A (replicates, m, d, d) and V (replicates, d, r) do not match: {tuple(A.shape)}, "
                         f"{tuple(V.shape)}.")
    R, m, d, _ = A.shape
    r = V.shape[2]
    if r >= d:
        raise UsageError(f"V must have fewer columns than d = {d}, got {r}.")
    # orthonormal complement of range(V): the eigenvectors of I - V V^T with eigenvalue 1
    P = xp.matmul(V, xp.permute_dims(V, (0, 2, 1)))
    _, vecs = xp.linalg.eigh(xp.eye(d, dtype=V.dtype)[None, :, :] - P)
    W = vecs[:, :, r:]
    basis = []
    for i in range(r):
        vi = V[:, :, i]
        for j in range(i, r):
            vj = V[:, :, j]
            B = vi[:, :, None] * vj[:, None, :]
            B = B + xp.permute_dims(B, (0, 2, 1))
            basis.append(B / xp.sqrt(xp.sum(B * B, axis=(1, 2)))[:, None, None])
        for j in range(d - r):
            wj = W[:, :, j]
            B = vi[:, :, None] * wj[:, None, :]
            basis.append((B + xp.permute_dims(B, (0, 2, 1))) / math.sqrt(2.0))
    Tb = xp.reshape(xp.stack(basis, axis=1), (R, len(basis), d * d))           # orthonormal basis of T
    flat = xp.reshape(A, (R, m, d * d))
    AT = xp.matmul(flat, xp.permute_dims(Tb, (0, 2, 1)))                       # (R, m, dim T): A restricted to T
    K = xp.matmul(xp.permute_dims(AT, (0, 2, 1)), AT)
    target = xp.matmul(Tb, xp.reshape(P, (R, d * d, 1)))                       # coordinates of V V^T in T
    eig_min = xp.linalg.eigvalsh(K)[:, 0]
    injective = eig_min > 1e-10 * xp.max(xp.linalg.eigvalsh(K), axis=1)
    safe = xp.where(injective[:, None, None], K, xp.eye(K.shape[1], dtype=K.dtype)[None, :, :])
    nu = xp.matmul(AT, xp.linalg.solve(safe, target))                          # (R, m, 1)
    Y = xp.reshape(xp.matmul(xp.permute_dims(flat, (0, 2, 1)), nu), (R, d, d))
    Yperp = xp.matmul(xp.matmul(xp.permute_dims(W, (0, 2, 1)), Y), W)
    top = xp.linalg.eigvalsh(0.5 * (Yperp + xp.permute_dims(Yperp, (0, 2, 1))))[:, -1]
    return xp.where(injective, top, xp.full_like(top, xp.inf))
