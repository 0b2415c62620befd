r"""Instances for *Ghosts of Softmax* (Sao, 2026): logits and directional logit derivatives of one sample along a
step direction, and the measured geometry of the partition function's complex zeros.

Under logit linearisation along a unit direction v, the logits at step t are z_k + a_k t (a_k = grad z_k . v),
the cross-entropy loss is l(t) = -(z_y + a_y t) + log F(t) with the partition function

    F(t) = sum_k exp(z_k + a_k t),

and the radius of convergence of the Taylor series of l at t = 0 is the modulus of the nearest complex zero of
F (the term -z_y - a_y t is entire; the singularities are the branch points of log F). An instance is one
sample: logits z in [-LOGIT, LOGIT]^K and derivatives a in [-1, 1]^K (the radius times the spread
max a - min a does not depend on the scale of a). ``evaluate_radius`` measures, per instance, the nearest zero
by :func:`solvers.complex_zeros.nearest_zero` (argument-principle certified Newton), and the quantities the
paper's formulas use.

The KL part (the paper's Appendix 4): for softmax distributions p(t) = softmax(z + t a), the measured
distances KL(p(t) || p(0)), the Bregman divergence K(t) - K(0) - t K'(0) of the log-partition K (which is
KL(p(0) || p(t))), and the quadratic term t^2 Var_{p(0)}(a) / 2. An instance there carries the normalised step
x = t (max a - min a) in [X_MIN, X_MAX] instead of t, so that rounding stays far below the cubic remainder
(the remainder is of order x^3, rounding of order 1e-16 x).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy
from solvers.complex_zeros import nearest_zero

LOGIT = 8.0  # logits in [-8, 8]
SLOPE = 1.0  # directional logit derivatives in [-1, 1]
X_MIN, X_MAX = 1e-3, 4.0  # normalised steps t * spread of the KL instances


def radius_space(params: Mapping[str, Any]) -> Product:
    """One sample with K classes: logits z in [-8, 8]^K and directional derivatives a in [-1, 1]^K."""
    K = int(params["K"])
    return Product(z=Box(-LOGIT, LOGIT, K), a=Box(-SLOPE, SLOPE, K))


def evaluate_radius(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                    ) -> dict[str, np.ndarray]:
    """Per instance: ``radius`` = |t0| for the nearest zero t0 of F, ``imag`` = |Im t0|, ``spread`` = max a -
    min a, ``margin`` = z_1 - z_2 (the logit gap delta of the two-class formula), and the top-2 reduction of
    the paper's Eq. (13): ``top2_margin`` = z_y - z_c and ``top2_spread`` = |a_y - a_c| for the largest and
    second-largest logits y and c. ``solved`` is 1 where the solver certified its zero (NaN radius otherwise)."""
    z, a = xp.asarray(instances["z"], dtype=xp.float64), xp.asarray(instances["a"], dtype=xp.float64)
    found = nearest_zero(z, a)
    order = xp.argsort(-z, axis=1)[:, :2]
    z_top = xp.take_along_axis(z, order, axis=1)
    a_top = xp.take_along_axis(a, order, axis=1)
    return {
        "radius": to_numpy(found.radius),
        "imag": to_numpy(xp.abs(xp.imag(found.zero))),
        "spread": to_numpy(xp.max(a, axis=1) - xp.min(a, axis=1)),
        "margin": to_numpy(z[:, 0] - z[:, 1]),
        "top2_margin": to_numpy(z_top[:, 0] - z_top[:, 1]),
        "top2_spread": to_numpy(xp.abs(a_top[:, 0] - a_top[:, 1])),
        "solved": to_numpy(xp.astype(found.converged, xp.float64)),
    }


def kl_space(params: Mapping[str, Any]) -> Product:
    """Logits z in [-8, 8]^K, derivatives a in [-1, 1]^K and the normalised step x = t * spread in [1e-3, 4]."""
    K = int(params["K"])
    return Product(z=Box(-LOGIT, LOGIT, K), a=Box(-SLOPE, SLOPE, K), x=Box(X_MIN, X_MAX, 1))


def softmax_step_divergences(z: Any, u: Any, xp: Any) -> dict[str, Any]:
    """For p(t) = softmax(z + u) with u = t a (rows, K): forward KL(p(t) || p(0)), the Bregman divergence
    K(t) - K(0) - t K'(0) = KL(p(0) || p(t)), and t^2 Var_{p(0)}(a) / 2, all from u directly.

    Rounding is kept relative to the size of u: u is centred, log(sum p0 e^u) is log1p(sum p0 expm1(u)), and
    KL(p(t) || p(0)) = E_t[u] - log E_0[e^u]."""
    u = u - xp.mean(u, axis=1, keepdims=True)
    p0 = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    p0 = p0 / xp.sum(p0, axis=1, keepdims=True)
    log_mgf = xp.log1p(xp.sum(p0 * xp.expm1(u), axis=1))  # K(t) - K(0)
    pt = p0 * xp.exp(u - xp.max(u, axis=1, keepdims=True))
    pt = pt / xp.sum(pt, axis=1, keepdims=True)
    mean0 = xp.sum(p0 * u, axis=1)
    return {
        "kl_forward": xp.sum(pt * u, axis=1) - log_mgf,
        "kl_reverse": log_mgf - mean0,
        "quadratic": xp.sum(p0 * (u - mean0[:, None]) ** 2, axis=1) / 2.0,
    }


def evaluate_kl(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance (t = x / spread): ``kl_remainder`` = |KL(p(t) || p(0)) - t^2 Var_{p(0)}(a) / 2|,
    ``bregman_remainder`` = |K(t) - K(0) - t K'(0) - t^2 Var_{p(0)}(a) / 2|, ``step`` = t and ``spread``."""
    z, a = xp.asarray(instances["z"], dtype=xp.float64), xp.asarray(instances["a"], dtype=xp.float64)
    x = xp.asarray(instances["x"], dtype=xp.float64)[:, 0]
    spread = xp.max(a, axis=1) - xp.min(a, axis=1)
    flat = spread == 0
    t = xp.where(flat, 0.0, x / xp.where(flat, 1.0, spread))
    d = softmax_step_divergences(z, t[:, None] * a, xp)
    return {
        "kl_remainder": to_numpy(xp.abs(d["kl_forward"] - d["quadratic"])),
        "bregman_remainder": to_numpy(xp.abs(d["kl_reverse"] - d["quadratic"])),
        "step": to_numpy(t),
        "spread": to_numpy(spread),
    }
