r"""Instances for block coordinate descent (Nutini, Laradji, Schmidt, JMLR 2022): ridge-regularised least squares
and Lasso problems, evaluated with the batched solvers of :mod:`solvers.block_coordinate_descent`.

Every problem is the quadratic f(x) = 1/2 ||A x - y||^2 + rho/2 ||x||^2 = 1/2 x^T Q x - c^T x + const with
Q = A^T A + rho I (rho = ``RIDGE``; least squares with sqrt(rho) I appended to A, so Q is positive definite and
every L_b >= rho by construction), A with entries in [-1, 1].

* ``progress_space`` / ``evaluate_progress``: one BCD step from a point x. Outputs the GSL step's decrease
  ``dec`` = f(x) - f(x+), the bound ``prog`` = max_b ||g_b||^2 / (2 L_b), and the decrease ``dec_gs`` of the
  GS-selected block with the same step 1/L_b, and two guarantees: ``prog_gs`` = max_b ||g_b||^2 / (2 L) with
  L = max_b L_b (the GS rule's) and ``prog_rand`` = mean_b ||g_b||^2 / (2 L_b) (the uniform random rule's
  expected one). The decrease is computed from the step actually taken,
  f(x) - f(x + delta) = -g^T delta - 1/2 delta^T Q delta (exact algebra for a quadratic, no cancellation
  between two values of f).
* ``rate_space`` / ``evaluate_rate``: single-coordinate blocks, k GSL steps and k cyclic steps from x0 with the
  minimiser x* given (c = Q x*). Outputs ``gap`` = f(x_k) - f*, ``gap0``, ``gap_cyc``, ``mu`` = mu_GSL
  (exact, vertex enumeration), ``mu_gs`` = mu_1 / L (mu_1 in the l1 norm, L = max_i L_i: the GS rule's
  constant) and ``mu_rand`` = mu / sum_i L_i (the uniform random rule's constant, mu = lambda_min(Q)).
* ``lasso_space`` / ``evaluate_identification``: Lasso instances F = f + lam ||x||_1 built with a known
  minimiser and a known nondegeneracy margin (below), K cyclic proximal BCD steps. Outputs ``k_id`` (the first
  iteration from which every iterate up to K has exactly the optimal support) and ``k_bd`` (the identification
  bound derived in :mod:`theorems.block_coordinate_descent`).

Lasso instances by construction. The support S is the first coordinate of every block; x*_S has magnitudes in
[0.2, 1.5] and free signs, and z_i in [-0.9, 0.9] for i outside S. With c = Q x* + lam zeta, zeta_S = sign(x*_S),
zeta_{S^c} = z, the optimality condition -grad f(x*) = lam zeta in lam d||x*||_1 holds, so x* is the (unique,
Q > 0) minimiser, and the nondegeneracy margins are delta_i = lam - |grad_i f(x*)| = lam (1 - |z_i|) >= 0.1 lam.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy
from solvers.block_coordinate_descent import (
    bcd,
    diagonal,
    gsl_strong_convexity,
    l1_strong_convexity,
    proximal_bcd,
    quadratic_gap,
)

RIDGE = 0.1


def gram(A: Any, xp: Any) -> Any:
    """Q = A^T A + RIDGE I for A (N, m, d)."""
    d = A.shape[2]
    return xp.matmul(xp.permute_dims(A, (0, 2, 1)), A) + RIDGE * xp.eye(d, dtype=xp.float64)[None, :, :]


def progress_space(params: Mapping[str, Any]) -> Product:
    """(A, y, x) for one step: A (m, d) in [-1, 1], y in [-1, 1]^m, x in [-2, 2]^d."""
    m, d = int(params["m"]), int(params["d"])
    return Product(A=Box(-1.0, 1.0, (m, d)), y=Box(-1.0, 1.0, m), x=Box(-2.0, 2.0, d))


def evaluate_progress(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                      ) -> dict[str, np.ndarray]:
    """Per instance: ``dec`` (GSL step), ``prog`` = max_b ||g_b||^2 / (2 L_b), ``dec_gs`` (GS step)."""
    s = int(params["s"])
    A, y, x = (xp.asarray(instances[k]) for k in ("A", "y", "x"))
    Q = gram(A, xp)
    c = xp.squeeze(xp.matmul(xp.permute_dims(A, (0, 2, 1)), y[:, :, None]), axis=2)
    g = xp.squeeze(Q @ x[:, :, None], axis=2) - c
    out: dict[str, np.ndarray] = {}
    for rule, name in (("gsl", "dec"), ("gs", "dec_gs")):
        traj = bcd(Q, c, x, s, rule, 1)
        delta = traj.x[:, 1, :] - traj.x[:, 0, :]
        Qdelta = xp.squeeze(Q @ delta[:, :, None], axis=2)
        out[name] = to_numpy(-xp.sum(g * delta, axis=1) - 0.5 * xp.sum(delta * Qdelta, axis=1))
        L = traj.L
    n, d = g.shape
    gb = xp.reshape(g, (n, d // s, s))
    ratio = xp.sum(gb * gb, axis=2) / (2.0 * L)
    out["prog"] = to_numpy(xp.max(ratio, axis=1))
    out["prog_rand"] = to_numpy(xp.mean(ratio, axis=1))
    out["prog_gs"] = to_numpy(xp.max(xp.sum(gb * gb, axis=2), axis=1) / (2.0 * xp.max(L, axis=1)))
    return out


def rate_space(params: Mapping[str, Any]) -> Product:
    """(A, x_star, x0): A (m, d) in [-1, 1], the minimiser in [-1, 1]^d, the start in [-2, 2]^d."""
    m, d = int(params["m"]), int(params["d"])
    return Product(A=Box(-1.0, 1.0, (m, d)), x_star=Box(-1.0, 1.0, d), x0=Box(-2.0, 2.0, d))


def evaluate_rate(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                  ) -> dict[str, np.ndarray]:
    """Per instance, single-coordinate blocks: ``gap`` after k GSL steps, ``gap_cyc`` after k cyclic steps,
    ``gap0`` and ``mu`` = mu_GSL."""
    k = int(params["k"])
    A, x_star, x0 = (xp.asarray(instances[key]) for key in ("A", "x_star", "x0"))
    Q = gram(A, xp)
    c = xp.squeeze(Q @ x_star[:, :, None], axis=2)
    gsl = bcd(Q, c, x0, 1, "gsl", k)
    cyc = bcd(Q, c, x0, 1, "cyclic", k)
    return {
        "gap": to_numpy(quadratic_gap(Q, gsl.x[:, k:k + 1, :], x_star)[:, 0]),
        "gap_cyc": to_numpy(quadratic_gap(Q, cyc.x[:, k:k + 1, :], x_star)[:, 0]),
        "gap0": to_numpy(quadratic_gap(Q, x0[:, None, :], x_star)[:, 0]),
        "mu": to_numpy(gsl_strong_convexity(Q)),
        "mu_gs": to_numpy(l1_strong_convexity(Q, xp.ones_like(x0)) / xp.max(diagonal(Q), axis=1)),
        "mu_rand": to_numpy(xp.linalg.eigvalsh(Q)[:, 0] / xp.sum(diagonal(Q), axis=1)),
    }


def lasso_space(params: Mapping[str, Any]) -> Product:
    """(A, u, z, x0): A (m, d); u in [-1, 1]^B gives x*_S = sign(u) (0.2 + 1.3 |u|); z in [-0.9, 0.9]^(d - B)
    the scaled gradients off the support; x0 in [-2, 2]^d."""
    m, d, s = int(params["m"]), int(params["d"]), int(params["s"])
    B = d // s
    return Product(A=Box(-1.0, 1.0, (m, d)), u=Box(-1.0, 1.0, B), z=Box(-0.9, 0.9, d - B), x0=Box(-2.0, 2.0, d))


def lasso_instances(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, Any]:
    """Q, c, the minimiser x*, the sign/subgradient vector zeta and the support mask (1 on S) of each instance."""
    d, s, lam = int(params["d"]), int(params["s"]), float(params["lam"])
    B = d // s
    A, u, z, x0 = (xp.asarray(instances[key]) for key in ("A", "u", "z", "x0"))
    n = A.shape[0]
    sign = 2.0 * xp.astype(u >= 0.0, xp.float64) - 1.0
    on = sign * (0.2 + 1.3 * xp.abs(u))  # (N, B): the first coordinate of every block
    rest = xp.reshape(z, (n, B, s - 1))
    x_star = xp.reshape(xp.concat([on[:, :, None], xp.zeros((n, B, s - 1), dtype=xp.float64)], axis=2), (n, d))
    zeta = xp.reshape(xp.concat([sign[:, :, None], rest], axis=2), (n, d))
    support = xp.reshape(xp.concat([xp.ones((n, B, 1), dtype=xp.float64),
                                    xp.zeros((n, B, s - 1), dtype=xp.float64)], axis=2), (n, d))
    Q = gram(A, xp)
    c = xp.squeeze(Q @ x_star[:, :, None], axis=2) + lam * zeta
    return {"Q": Q, "c": c, "x_star": x_star, "zeta": zeta, "support": support, "x0": x0}


def identification_radius(Q: Any, L: Any, x_star: Any, zeta: Any, support: Any, lam: float, s: int,
                          xp: Any) -> Any:
    """r: within ||x - x*||_2 <= r (strictly below), one proximal step on a block puts each of its coordinates
    on the optimal side (0 off S, nonzero on S). Off S: r (L_b + ||Q_i||_2) < delta_i; on S:
    r (1 + ||Q_i||_2 / L_b) < |x*_i|."""
    n, d = x_star.shape
    Lx = xp.reshape(xp.broadcast_to(L[:, :, None], (n, d // s, s)), (n, d))
    row = xp.sqrt(xp.sum(Q * Q, axis=2))  # ||Q_i||_2
    delta = lam * (1.0 - xp.abs(zeta))
    off = xp.where(support > 0.5, xp.inf, delta / (Lx + row))
    on = xp.where(support > 0.5, xp.abs(x_star) / (1.0 + row / Lx), xp.inf)
    return xp.min(xp.minimum(off, on), axis=1)


def evaluate_identification(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                            ) -> dict[str, np.ndarray]:
    """Per instance: ``k_id`` and ``k_bd`` for K cyclic proximal BCD steps (K + 1 when not reached within K)."""
    d, s, lam, K = int(params["d"]), int(params["s"]), float(params["lam"]), int(params["K"])
    B = d // s
    p = lasso_instances(params, instances, xp)
    traj = proximal_bcd(p["Q"], p["c"], p["x0"], lam, s, "cyclic", K)
    # support mismatch of every iterate x^0..x^K
    nonzero = xp.astype(traj.x != 0.0, xp.float64)
    mismatch = xp.any(nonzero != p["support"][:, None, :], axis=2)  # (N, K+1)
    steps = xp.reshape(xp.arange(K + 1, dtype=xp.float64), (1, K + 1))
    k_id = xp.max(xp.where(mismatch, steps + 1.0, xp.zeros_like(steps)), axis=1)
    # F(x^k) - F* = -lam zeta^T e + 1/2 e^T Q e + lam (||x^k||_1 - ||x*||_1), e = x^k - x*
    e = traj.x - p["x_star"][:, None, :]
    gap = (-lam * xp.sum(p["zeta"][:, None, :] * e, axis=2) + 0.5 * xp.sum(e * xp.matmul(e, p["Q"]), axis=2)
           + lam * (xp.sum(xp.abs(traj.x), axis=2) - xp.sum(xp.abs(p["x_star"]), axis=1)[:, None]))
    mu = xp.linalg.eigvalsh(p["Q"])[:, 0]
    r = identification_radius(p["Q"], traj.L, p["x_star"], p["zeta"], p["support"], lam, s, xp)
    eps = 0.5 * mu * r * r * (1.0 - 1e-6) - 1e-13  # a rounding margin below the radius
    inside = gap <= eps[:, None]
    never = xp.full_like(gap, float(K + 1))
    first = xp.min(xp.where(inside, steps + xp.zeros_like(gap), never), axis=1)
    k_bd = xp.where(first + B <= K, first + B, never[:, 0])
    return {"k_id": to_numpy(k_id), "k_bd": to_numpy(k_bd)}
