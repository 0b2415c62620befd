"""Instances for *Continual Learning in Linear Classification on Separable Data* (Evron, Moroshko, Buzaglo, Khriesh,
Marjieh, Srebro, Soudry, ICML 2023): weakly regularised sequential logistic regression against the sequential
max-margin (SMM) projections it reduces to.

One replicate is a sequence of T binary classification tasks in d dimensions, each with n samples (x_i, y_i),
jointly separable by one teacher w* (so every task and every union of tasks is separable). The model only sees
the rows a_i = y_i x_i; the margin of w on sample i is a_i . w.

* Regularised continual learning (the learner): w_0 = 0 and, for t = 1 .. T,
      w_t(lam) = argmin_w  sum_{i in task t} log(1 + exp(-a_i . w)) + (lam / 2) ||w - w_{t-1}(lam)||^2.
* Sequential max-margin (the limit object): w_0 = 0 and
      w_t^SMM = argmin_w ||w - w_{t-1}^SMM||^2   s.t.  a_i . w >= 1 for i in task t,
  the projection of the previous iterate onto the task's feasible polyhedron W_t
  (:func:`solvers.polyhedral_projection.project_onto_polyhedron`).

The regularised problem is solved in the scaled variable u = w / ln(1/lam). Dividing the objective by
lam ln(1/lam)^2 = e^{-L} L^2 (L = ln(1/lam)) gives

      F_L(u) = sum_i e^L softplus(-L a_i . u) / L^2 + 1/2 ||u - u_{t-1}||^2,

whose loss terms are evaluated in log space (log e^L softplus(-L m) = L + log softplus(-L m)), so L can be far
beyond the range where e^{-L} is representable next to 1; its Hessian is the identity plus a positive
semidefinite term, so Newton systems stay well conditioned near the minimiser. Newton with Armijo backtracking runs
batched over replicates (converged replicates are frozen by a mask), along a continuation in L (L/2^k, ..., L/2,
L, from the largest L/2^k <= 8), each stage started from the previous stage's minimiser; the last stage is
iterated until the Newton decrement is below ``decrement_tol`` for every replicate. The minimiser is unique
(strong convexity), so the continuation only changes the starting points, never the answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.errors import MeasurementError, UsageError
from solvers.polyhedral_projection import project_onto_halfspace, project_onto_polyhedron

Array = Any

_EXP_MAX = 700.0  # exponents of the scaled loss beyond this overflow float64 (e^709)
_CONTINUATION_START = 8.0
_FULL_STEP = 1e-10  # squared Newton decrement below which no line search is done


def task_sequences(rng: np.random.Generator, replicates: int, tasks: int, per_task: int, d: int,
                   gamma: float = 0.2) -> np.ndarray:
    """Rows a_i = y_i x_i of ``replicates`` jointly separable task sequences, shape (replicates, tasks, per_task, d).

    A teacher w* is uniform on the unit sphere; x ~ N(0, I_d), y = sign(w*.x), and x is then moved by gamma y w*
    away from the teacher's hyperplane, so every sample has teacher margin y w*.x >= gamma (the union of all
    tasks is separable with margin gamma; its max-margin solution has norm at most 1/gamma).
    """
    for name, value in (("replicates", replicates), ("tasks", tasks), ("per_task", per_task), ("d", d)):
        if not (isinstance(value, int | np.integer) and value >= 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}.")
    if not (gamma > 0 and math.isfinite(gamma)):
        raise UsageError(f"gamma must be a positive finite number, got {gamma!r}.")
    teacher = rng.standard_normal((replicates, d))
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    x = rng.standard_normal((replicates, tasks, per_task, d))
    y = np.where(np.einsum("rtnd,rd->rtn", x, teacher) >= 0, 1.0, -1.0)
    x = x + gamma * y[..., None] * teacher[:, None, None, :]
    return y[..., None] * x


def _check_rows(A: Array, xp: Any) -> None:
    if A.ndim != 4:
        raise UsageError(f"A must have shape (replicates, tasks, per_task, d), got {tuple(A.shape)}.")
    if not bool(xp.all(xp.isfinite(A))):
        raise UsageError("A must be finite (no NaN or inf).")


def _softplus(t: Array, xp: Any) -> Array:
    return xp.logaddexp(xp.zeros_like(t), t)


def _log_softplus(t: Array, xp: Any) -> Array:
    """log(log(1 + e^t)), stable for very negative t (where it is t - e^t / 2 to within e^{2t})."""
    low = t < -30.0
    safe = xp.where(low, xp.zeros_like(t), t)
    tiny = xp.where(low, t, xp.full_like(t, -30.0))
    return xp.where(low, tiny - 0.5 * xp.exp(tiny), xp.log(_softplus(safe, xp)))


def _matvec(M: Array, v: Array) -> Array:
    return (M @ v[:, :, None])[:, :, 0]


def _scaled_objective(A: Array, u: Array, u_prev: Array, L: float, xp: Any) -> tuple[Array, Array]:
    """F_L(u) per replicate, and the largest loss exponent (overflow guard)."""
    m = _matvec(A, u)
    expo = L + _log_softplus(-L * m, xp) - 2.0 * math.log(L)
    loss = xp.sum(xp.exp(xp.minimum(expo, _EXP_MAX)), axis=1)
    diff = u - u_prev
    return loss + 0.5 * xp.sum(diff * diff, axis=1), xp.max(expo, axis=1)


def _newton_stage(A: Array, u: Array, u_prev: Array, L: float, xp: Any, decrement_tol: float, max_iter: int
                  ) -> Array:
    """Minimise F_L from u for every replicate (Newton, Armijo backtracking, converged replicates frozen)."""
    R, _, d = A.shape
    At = xp.permute_dims(A, (0, 2, 1))
    eye = xp.eye(d, dtype=A.dtype)
    f, top = _scaled_objective(A, u, u_prev, L, xp)
    for _ in range(max_iter):
        if bool(xp.any(top > _EXP_MAX)):
            raise MeasurementError(f"the scaled logistic loss overflows at L = {L:g} (a margin far below 1).")
        m = _matvec(A, u)
        lm = L * m
        grad_w = -xp.exp(L - _softplus(lm, xp)) / L                      # phi'(m): e^L sigma(-L m) / L
        curv = xp.exp(L - _softplus(lm, xp) - _softplus(-lm, xp))        # phi''(m): e^L sigma(L m) sigma(-L m)
        g = _matvec(At, grad_w) + (u - u_prev)
        H = At @ (curv[:, :, None] * A) + eye
        step = -xp.linalg.solve(H, g[:, :, None])[:, :, 0]
        dec = -xp.sum(g * step, axis=1)                                  # squared Newton decrement
        active = dec > decrement_tol
        if not bool(xp.any(active)):
            return u
        t = xp.where(active, xp.ones_like(dec), xp.zeros_like(dec))
        # Inside the quadratic-convergence region (decrement <= _FULL_STEP) the full step is taken: the decrease
        # it certifies there is below the rounding of F itself.
        full = dec <= _FULL_STEP
        for _ in range(80):
            f_new, _ = _scaled_objective(A, u + t[:, None] * step, u_prev, L, xp)
            ok = (f_new <= f - 0.25 * t * dec) | (t == 0) | full
            if bool(xp.all(ok)):
                break
            t = xp.where(ok, t, 0.5 * t)
        if bool(xp.any(active & ~ok)):
            raise MeasurementError(f"Newton's line search stalled at L = {L:g} "
                                   f"(decrement {float(xp.max(dec)):.3g}).")
        u = u + t[:, None] * step
        f, top = _scaled_objective(A, u, u_prev, L, xp)
    raise MeasurementError(f"Newton did not converge in {max_iter} iterations at L = {L:g}.")


def regularised_continual(A: Array, lam: float, *, xp: Any = np, decrement_tol: float = 1e-22,
                          max_iter: int = 200) -> Array:
    """The scaled regularised iterates u_t = w_t(lam) / ln(1/lam), t = 1 .. T, shape (replicates, T, d).

    ``A``: rows a_i = y_i x_i, shape (replicates, T, per_task, d); ``lam`` in (0, 1).
    """
    if not (isinstance(lam, float | int) and 0 < lam < 1):
        raise UsageError(f"lam must be a number in (0, 1) (the regularisation strength), got {lam!r}.")
    if not (decrement_tol > 0):
        raise UsageError(f"decrement_tol must be positive, got {decrement_tol!r}.")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise UsageError(f"max_iter must be a positive integer, got {max_iter!r}.")
    _check_rows(A, xp)
    L = math.log(1.0 / lam)
    stages = [L]
    while stages[0] > _CONTINUATION_START:
        stages.insert(0, stages[0] / 2.0)
    R, T, _, d = A.shape
    u = xp.zeros((R, d), dtype=A.dtype)
    out = []
    for t in range(T):
        u_prev = u
        for k, Lk in enumerate(stages):
            final = k == len(stages) - 1
            u = _newton_stage(A[:, t, :, :], u, u_prev, Lk, xp, decrement_tol if final else 1e-12, max_iter)
        out.append(u)
    return xp.stack(out, axis=1)


def regularised_continual_unscaled(A: Array, lam: float, *, xp: Any = np, **kwargs: Any) -> Array:
    """The regularised iterates w_t(lam) themselves: ln(1/lam) times :func:`regularised_continual`."""
    return math.log(1.0 / lam) * regularised_continual(A, lam, xp=xp, **kwargs)


def sequential_max_margin(A: Array, *, margin: float = 1.0, xp: Any = np) -> Array:
    """w_t^SMM: the previous iterate projected onto task t's polyhedron {w : a_i.w >= margin} (margin 1 in the
    paper), shape (replicates, T, d). By homogeneity the margin-c sequence is exactly c times the margin-1 one."""
    if not (margin > 0 and math.isfinite(margin)):
        raise UsageError(f"margin must be a positive finite number, got {margin!r}.")
    _check_rows(A, xp)
    R, T, _, d = A.shape
    w = xp.zeros((R, d), dtype=A.dtype)
    out = []
    for t in range(T):
        w = project_onto_polyhedron(A[:, t, :, :], w, margin, xp=xp)
        out.append(w)
    return xp.stack(out, axis=1)


def task_max_margin(A: Array, *, xp: Any = np) -> Array:
    """Mutant: each task's own max-margin solution (projection of 0 onto W_t: the past forgotten entirely)."""
    _check_rows(A, xp)
    R, T, _, d = A.shape
    zero = xp.zeros((R, d), dtype=A.dtype)
    return xp.stack([project_onto_polyhedron(A[:, t, :, :], zero, 1.0, xp=xp) for t in range(T)], axis=1)


def joint_max_margin(A: Array, *, xp: Any = np) -> Array:
    """Mutant: the offline max-margin solution of tasks 1 .. t together (projection of 0 onto W_1 cap .. cap W_t)."""
    _check_rows(A, xp)
    R, T, n, d = A.shape
    zero = xp.zeros((R, d), dtype=A.dtype)
    return xp.stack([project_onto_polyhedron(xp.reshape(A[:, : t + 1, :, :], (R, (t + 1) * n, d)), zero, 1.0, xp=xp)
                     for t in range(T)], axis=1)


def remembering_projections(A: Array, *, xp: Any = np) -> Array:
    """Mutant: a learner that never forgets, h_t = projection of h_{t-1} onto W_1 cap .. cap W_t."""
    _check_rows(A, xp)
    R, T, n, d = A.shape
    h = xp.zeros((R, d), dtype=A.dtype)
    out = []
    for t in range(T):
        h = project_onto_polyhedron(xp.reshape(A[:, : t + 1, :, :], (R, (t + 1) * n, d)), h, 1.0, xp=xp)
        out.append(h)
    return xp.stack(out, axis=1)


def samplewise_projections(A: Array, *, xp: Any = np) -> Array:
    """Mutant: POCS over single samples, one pass per task: the halfspaces {a_i.w >= 1} projected onto in turn."""
    _check_rows(A, xp)
    R, T, n, d = A.shape
    w = xp.zeros((R, d), dtype=A.dtype)
    out = []
    for t in range(T):
        for i in range(n):
            w = project_onto_halfspace(A[:, t, i, :], w, 1.0, xp=xp)
        out.append(w)
    return xp.stack(out, axis=1)


def _relative_distance(u: Array, ref: Array, xp: Any) -> Array:
    """max over tasks t of ||u_t - ref_t|| / ||ref_t||, per replicate."""
    num = xp.sqrt(xp.sum((u - ref) ** 2, axis=2))
    den = xp.sqrt(xp.sum(ref * ref, axis=2))
    return xp.max(num / den, axis=1)


def measure_limit(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Per replicate (one task sequence), the largest relative distance over tasks between w_t(lam) / ln(1/lam)
    and each candidate limit: ``dist_smm`` (the sequential max-margin projections), ``dist_forget`` (each task's
    own max-margin solution), ``dist_joint`` (the offline max-margin of the tasks so far), ``dist_remember``
    (projections onto the intersection of all tasks so far), ``dist_samplewise`` (one pass of single-sample
    halfspace projections per task) and ``dist_margin_1p1`` (the sequential projections with margin 1.1, i.e.
    1.1 w_t^SMM)."""
    A = xp.asarray(task_sequences(rng, n, int(params["T"]), int(params["n_t"]), int(params["d"]),
                                  float(params["gamma"])))
    u = regularised_continual(A, float(params["lam"]), xp=xp)
    refs = {
        "dist_smm": sequential_max_margin(A, xp=xp),
        "dist_forget": task_max_margin(A, xp=xp),
        "dist_joint": joint_max_margin(A, xp=xp),
        "dist_remember": remembering_projections(A, xp=xp),
        "dist_samplewise": samplewise_projections(A, xp=xp),
        "dist_margin_1p1": sequential_max_margin(A, margin=1.1, xp=xp),
    }
    return {name: to_numpy(_relative_distance(u, ref, xp)) for name, ref in refs.items()}
