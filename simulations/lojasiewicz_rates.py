"""Gradient flow on losses with a known Lojasiewicz exponent, for *From Optimization Dynamics to Generalization
Bounds via Lojasiewicz Gradient Inequality* (Liu, Yang, Hayou, Li, TMLR 2022).

Every problem is written in coordinates z = w - w* in which the unique minimiser is z = 0 and L* = 0, with
``gap(z) = L - L*`` and a constant c for which ||grad L(z)|| >= c gap(z)^alpha holds everywhere (derived below,
not fitted):

* ``quartic-norm``: gap = ||z||^4 / 4, grad = ||z||^2 z, so ||grad|| = ||z||^3 = 4^{3/4} gap^{3/4} exactly:
  alpha = 3/4, c = 4^{3/4}. Closed-form flow: z(t) = z0 / sqrt(1 + 2 ||z0||^2 t), a straight line, so the path
  length is ||z0||.
* ``power-sum`` (degree 2k): gap = sum_j z_j^{2k}, alpha = 1 - 1/(2k). With a_j = z_j^2, ||grad||^2 = 4 k^2
  sum a_j^{2k-1} >= 4 k^2 d^{-(k-1)/k} (sum a_j^k)^{(2k-1)/k} by the power-mean inequality M_{2k-1} >= M_k, so
  c = 2k d^{-(k-1)/(2k)}, with equality when all |z_j| are equal. Closed-form flow per coordinate:
  |z_j(t)| = |z_j0| (1 + 2k(2k-2) z_j0^{2k-2} t)^{-1/(2k-2)}.
* ``linear-regression``: gap = z^T H z / 2 with H = X^T X / n, drawn directly as a symmetric matrix with
  spectrum in [eig_low, eig_high] (boundlab.spaces.PSD; a least-squares loss (1/2n)||Xw - y||^2 has exactly
  this gap). ||H z||^2 >= mu z^T H z = 2 mu gap: alpha = 1/2, c = sqrt(2 mu), mu = the smallest eigenvalue.
  Closed-form flow: z(t) = Q exp(-Lambda t) Q^T z0.
* ``quartic-regression``: gap = (1/4n) sum_i (x_i^T z)^4 (realisable data y = X w*), X = [I_d; B] with B in
  [-1, 1]^{(n-d) x d} (so sigma_min(X) >= 1 by construction). With u = X z: <grad, z> = 4 gap, and
  ||z|| <= ||u||_2 / sigma_min <= n^{1/4} ||u||_4 / sigma_min = (4 n^2 gap)^{1/4} / sigma_min, so
  ||grad|| >= 4 gap / ||z|| >= 4^{3/4} sigma_min n^{-1/2} gap^{3/4}: alpha = 3/4, c = 4^{3/4} sigma_min(X) /
  sqrt(n). No closed form: integrated with solvers.gradient_flow.

Loss at time t uses the closed forms or, for quartic regression, the adaptive flow in log(1 + t). The path
length int ||z'|| dt uses the closed form for quartic-norm and otherwise the flow in the loss clock lambda =
log(gap_0 / gap) up to lambda = 12 p (p the homogeneous degree of the gap), plus the chord ||z(lambda)|| to the
minimiser: the remaining length is at least that chord and, for p-homogeneous losses, exceeds it only by the
residual turning of a trajectory whose direction has converged (measured against solve_ivp to lambda = 30 p in
the tests: relative error below 1e-8).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import PSD, Box, Product, to_numpy
from solvers.gradient_flow import flow_log_time, flow_loss_time

FLOW_RTOL = 1e-10  # local error control of the adaptive integrator
LOG10_T = (-2.0, 3.0)  # the instance's time t = 10^u, u in this range
LOG10_T_EXPONENTIAL = (-2.0, 2.0)  # least squares: c^2 t <= 200 keeps e^{-c^2 t} far from float64 underflow
EIGS = (0.1, 1.0)  # spectrum of H for linear regression: condition number at most 10
DEPTH_PER_DEGREE = 12.0  # the loss clock runs to lambda = 12 p: ||z|| has fallen by about e^{-12}


# ----------------------------------------------------------------------------------------------- the losses
def _residuals(z: Any, X: Any, xp: Any) -> Any:
    return xp.sum(X * z[:, None, :], axis=2)  # (N, n): x_i^T z


def loss_gap(problem: str, z: Any, data: Mapping[str, Any], params: Mapping[str, Any], xp: Any) -> Any:
    """L(z) - L* per row of z (N, d)."""
    if problem == "quartic-norm":
        return xp.sum(z * z, axis=1) ** 2 / 4
    if problem == "power-sum":
        return xp.sum(z ** (2 * int(params["k"])), axis=1)
    if problem == "linear-regression":
        return xp.sum(z * xp.sum(data["H"] * z[:, None, :], axis=2), axis=1) / 2
    if problem == "quartic-regression":
        return xp.sum(_residuals(z, data["X"], xp) ** 4, axis=1) / (4 * data["X"].shape[1])
    raise ValueError(f"problem must be one of {sorted(DEGREE)}, got {problem!r}")


def loss_grad(problem: str, z: Any, data: Mapping[str, Any], params: Mapping[str, Any], xp: Any) -> Any:
    """grad L(z) per row of z (N, d)."""
    if problem == "quartic-norm":
        return xp.sum(z * z, axis=1, keepdims=True) * z
    if problem == "power-sum":
        k = int(params["k"])
        return 2 * k * z ** (2 * k - 1)
    if problem == "linear-regression":
        return xp.sum(data["H"] * z[:, None, :], axis=2)
    if problem == "quartic-regression":
        X = data["X"]
        return xp.sum(X * (_residuals(z, X, xp) ** 3)[:, :, None], axis=1) / X.shape[1]
    raise ValueError(f"problem must be one of {sorted(DEGREE)}, got {problem!r}")


DEGREE = {"quartic-norm": 4, "power-sum": None, "linear-regression": 2, "quartic-regression": 4}


def degree(params: Mapping[str, Any]) -> int:
    """The homogeneous degree p of the gap (2k for the power sum)."""
    problem = params["problem"]
    if problem not in DEGREE:
        raise ValueError(f"problem must be one of {sorted(DEGREE)}, got {problem!r}")
    return 2 * int(params["k"]) if problem == "power-sum" else int(DEGREE[problem])  # type: ignore[arg-type]


def exponent(params: Mapping[str, Any]) -> float:
    """The Lojasiewicz exponent alpha = 1 - 1/p of a p-homogeneous gap (1/2 for least squares)."""
    return 1.0 - 1.0 / degree(params)


def lojasiewicz_constant(params: Mapping[str, Any], data: Mapping[str, Any], xp: Any) -> Any:
    """The derived c of ||grad L|| >= c (L - L*)^alpha, per instance (see the module docstring)."""
    problem, d = params["problem"], int(params["d"])
    n_rows = next(iter(data.values())).shape[0]
    ones = xp.ones((n_rows,), dtype=xp.float64)
    if problem == "quartic-norm":
        return 4.0 ** 0.75 * ones
    if problem == "power-sum":
        k = int(params["k"])
        return 2.0 * k * d ** (-(k - 1) / (2 * k)) * ones
    if problem == "linear-regression":
        return xp.sqrt(2.0 * xp.min(xp.linalg.eigvalsh(data["H"]), axis=1))
    if problem == "quartic-regression":
        X = data["X"]
        return 4.0 ** 0.75 * xp.min(xp.linalg.svdvals(X), axis=1) / math.sqrt(X.shape[1])
    raise ValueError(f"problem must be one of {sorted(DEGREE)}, got {problem!r}")


# ----------------------------------------------------------------------------------------------- instance spaces
def _problem_parts(params: Mapping[str, Any]) -> dict[str, Any]:
    problem, d = params["problem"], int(params["d"])
    parts: dict[str, Any] = {"z0": Box(-1.0, 1.0, d)}
    if problem == "linear-regression":
        parts["H"] = PSD(d, *EIGS)
    elif problem == "quartic-regression":
        n = int(params["n"])
        if n <= d:
            raise ValueError(f"quartic-regression needs n > d rows (X = [I_d; B]), got n={n}, d={d}")
        parts["B"] = Box(-1.0, 1.0, (n - d, d))
    else:
        degree(params)
    return parts


def loss_space(params: Mapping[str, Any]) -> Product:
    """An initial point (and the problem's data), and the time t = 10^u at which the loss is compared."""
    span = LOG10_T_EXPONENTIAL if params["problem"] == "linear-regression" else LOG10_T
    return Product(**_problem_parts(params), log10_t=Box(*span, 1))


def path_space(params: Mapping[str, Any]) -> Product:
    """An initial point and the problem's data."""
    return Product(**_problem_parts(params))


def problem_data(params: Mapping[str, Any], instances: Mapping[str, Any], xp: Any) -> dict[str, Any]:
    """The decoded instance as backend arrays: z0 (N, d) and H (N, d, d) or X = [I_d; B] (N, n, d)."""
    z0 = xp.asarray(np.asarray(instances["z0"], dtype=float))
    data: dict[str, Any] = {"z0": z0}
    if "H" in instances:
        data["H"] = xp.asarray(np.asarray(instances["H"], dtype=float))
    if "B" in instances:
        B = np.asarray(instances["B"], dtype=float)
        eye = np.broadcast_to(np.eye(B.shape[2]), (B.shape[0], B.shape[2], B.shape[2]))
        data["X"] = xp.asarray(np.concatenate([eye, B], axis=1))
    return data


def _nonstationary(z0: np.ndarray) -> np.ndarray:
    """z0 = 0 is the minimiser itself (nothing to bound): move such rows to a tiny nonzero point."""
    tiny = np.max(np.abs(z0), axis=1, keepdims=True) < 1e-8
    return np.where(tiny, np.full_like(z0, 1e-8), z0)


# ----------------------------------------------------------------------------------------------- measurements
def gap_at(params: Mapping[str, Any], data: Mapping[str, Any], t: Any, xp: Any) -> Any:
    """L(z(t)) - L* for the gradient flow from data["z0"], at per-instance times t (N,)."""
    problem, z0 = params["problem"], data["z0"]
    if problem == "quartic-norm":
        r2 = xp.sum(z0 * z0, axis=1)
        return r2**2 / (4 * (1 + 2 * r2 * t) ** 2)
    if problem == "power-sum":
        k = int(params["k"])
        m = 2 * k - 2
        a = xp.abs(z0)
        zt = a * (1 + 2 * k * m * a**m * t[:, None]) ** (-1.0 / m)
        return xp.sum(zt ** (2 * k), axis=1)
    if problem == "linear-regression":
        lam, Q = xp.linalg.eigh(data["H"])
        y0 = xp.sum(Q * z0[:, :, None], axis=1)  # Q^T z0
        return xp.sum(lam * y0**2 * xp.exp(-2 * lam * t[:, None]), axis=1) / 2
    if problem == "quartic-regression":
        zt = flow_log_time(lambda z: loss_grad(problem, z, data, params, xp), z0, t, xp, rtol=FLOW_RTOL)
        return loss_gap(problem, zt, data, params, xp)
    raise ValueError(f"problem must be one of {sorted(DEGREE)}, got {problem!r}")


def path_length(params: Mapping[str, Any], data: Mapping[str, Any], xp: Any) -> Any:
    """int_0^inf ||z'(t)|| dt for the gradient flow from data["z0"] (see the module docstring)."""
    problem, z0 = params["problem"], data["z0"]
    if problem == "quartic-norm":
        return xp.sqrt(xp.sum(z0 * z0, axis=1))
    depth = DEPTH_PER_DEGREE * degree(params) * xp.ones((z0.shape[0],), dtype=z0.dtype)
    z, _, s = flow_loss_time(lambda z: loss_grad(problem, z, data, params, xp),
                             lambda z: loss_gap(problem, z, data, params, xp), z0, depth, xp, rtol=FLOW_RTOL)
    return s + xp.sqrt(xp.sum(z * z, axis=1))


def evaluate_loss(params: Mapping[str, Any], instances: Mapping[str, Any], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: gap_0 = L(z0) - L*, the gap at the instance's time t, t itself and the constant c."""
    inst = dict(instances, z0=_nonstationary(np.asarray(instances["z0"], dtype=float)))
    data = problem_data(params, inst, xp)
    t = xp.asarray(10.0 ** np.asarray(instances["log10_t"], dtype=float)[:, 0])
    return {
        "gap_t": to_numpy(gap_at(params, data, t, xp)),
        "gap_0": to_numpy(loss_gap(params["problem"], data["z0"], data, params, xp)),
        "time": to_numpy(t),
        "c": to_numpy(lojasiewicz_constant(params, data, xp)),
    }


def evaluate_path(params: Mapping[str, Any], instances: Mapping[str, Any], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: the path length of the whole trajectory, gap_0 and the constant c."""
    inst = dict(instances, z0=_nonstationary(np.asarray(instances["z0"], dtype=float)))
    data = problem_data(params, inst, xp)
    return {
        "length": to_numpy(path_length(params, data, xp)),
        "gap_0": to_numpy(loss_gap(params["problem"], data["z0"], data, params, xp)),
        "c": to_numpy(lojasiewicz_constant(params, data, xp)),
    }


def measure_gap(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any) -> dict[str, np.ndarray]:
    """``gap`` = L(z(t)) - L* at the sweep's time t, for ``count`` random instances of the problem: data as in the
    instance space, initial coordinates z_j0 = +-(1 + u_j) / 2 with u_j uniform in [0, 1] (|z_j0| in [1/2, 1],
    so no coordinate starts near its minimiser and sits out the asymptotic regime for a long time). Replicate r is
    the same instance at every t under common random numbers: one trajectory seen at several times."""
    space = path_space(params)
    data = problem_data(params, space.decode(space.sample(rng, count)), xp)
    z0 = to_numpy(data["z0"])
    data["z0"] = xp.asarray(np.where(z0 < 0, -1.0, 1.0) * (0.5 + 0.5 * np.abs(z0)))
    t = float(params["t"]) * xp.ones((count,), dtype=xp.float64)
    return {"gap": to_numpy(gap_at(params, data, t, xp))}
