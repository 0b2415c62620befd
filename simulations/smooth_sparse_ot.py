"""Instances and measurements for smooth and sparse optimal transport (Blondel, Seguy, Rolet, AISTATS 2018).

Instances: costs C = s C0 with C0 in [0, 1]^{m x n} and a scale s in [0, 1] (so the search can move the ratio of
the regularisation to the cost spread), marginals a, b in the interior of the simplex (softmaxes of logits in
[-3, 3]), and, for the smoothness claims, a pair of dual points (see :func:`potential_space`). Random draws: C0
and s uniform, the logits uniform in their box (the default samplers of :mod:`boundlab.spaces`). Every instance is
valid by construction.

Our batched solver (:mod:`solvers.smooth_ot`) solves each batch in one call; the references (cvxpy with CLARABEL
for the squared-l2 primal, POT's log-domain Sinkhorn for the entropic one, POT's network simplex ``ot.emd`` for
unregularised OT) run one instance at a time, which is inherent to them. They are imported inside the functions
that use them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.spaces import Box, Product, Simplex
from solvers import smooth_ot

Params = Mapping[str, Any]
LOGITS = (-3.0, 3.0)
POTENTIALS = 1.0
_SOLVING = threading.Lock()


def instance_space(params: Params) -> Product:
    """Cost C0 (m, n) in [0, 1], its scale s in [0, 1], and marginals a, b in the simplex."""
    m, n = int(params["m"]), int(params["n"])
    return Product(C=Box(0.0, 1.0, shape=(m, n)), scale=Box(0.0, 1.0, shape=(1,)), a=Simplex(m, *LOGITS),
                   b=Simplex(n, *LOGITS))


def potential_space(params: Params) -> Product:
    """:func:`instance_space`, a point (alpha, beta) in [-1, 1]^{m + n} and a second one at (alpha, beta) + r u,
    with u in [-1, 1]^{m + n} and r in [1e-3, 1] (so that near pairs, which probe one piece of the piecewise
    quadratic objectives, are as easy to reach as far ones)."""
    m, n = int(params["m"]), int(params["n"])
    box = {name: Box(-POTENTIALS, POTENTIALS, shape=(size,))
           for name, size in (("alpha", m), ("beta", n), ("u_alpha", m), ("u_beta", n))}
    return Product(C=Box(0.0, 1.0, shape=(m, n)), scale=Box(0.0, 1.0, shape=(1,)), a=Simplex(m, *LOGITS),
                   b=Simplex(n, *LOGITS), r=Box(1e-3, 1.0, shape=(1,)), **box)


def instance_arrays(instances: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a (B, m), b (B, n), C (B, m, n) from decoded instances."""
    C = instances["C"] * instances["scale"].reshape(-1, 1, 1)
    return instances["a"], instances["b"], C


def random_instances(rng: np.random.Generator, count: int, m: int, n: int) -> tuple[np.ndarray, ...]:
    """``count`` instances drawn like the random draws of :func:`instance_space` (for tests and benchmarks)."""
    space = instance_space({"m": m, "n": n})
    return instance_arrays(space.decode(space.sample(rng, count)))


# ----------------------------------------------------------------------------------------------------------------
# references
# ----------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _primal_problem(m: int, n: int, gamma: float, reg: str):
    import cvxpy as cp

    a, b, C = cp.Parameter(m, nonneg=True), cp.Parameter(n, nonneg=True), cp.Parameter((m, n))
    T = cp.Variable((m, n), nonneg=True)
    reg_term = gamma / 2 * cp.sum_squares(T) if reg == "l2" else -gamma * cp.sum(cp.entr(T))
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(T, C)) + reg_term),
                      [cp.sum(T, axis=1) == a, cp.sum(T, axis=0) == b])
    return prob, T, a, b, C


def primal_cvxpy(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, reg: str) -> tuple[float, np.ndarray]:
    """The regularised primal ``min_{T in U(a, b)} <T, C> + sum_j Omega(T[:, j])`` by cvxpy with CLARABEL (a QP for
    l2, an exponential-cone program for kl), tolerances 1e-12 (l2) and 1e-10 (kl): value and plan; RuntimeError
    unless the status is 'optimal' (the exponential cone ends 'optimal_inaccurate' on about 1 instance in 300 at
    gamma = 0.05: the duality claims use :func:`entropic_sinkhorn` for kl, and the tests compare the two)."""
    prob, T, a_par, b_par, C_par = _primal_problem(*C.shape, float(gamma), reg)
    with _SOLVING:
        a_par.value, b_par.value, C_par.value = a, b, C
        tol = 1e-12 if reg == "l2" else 1e-10  # the exponential cone ends 'optimal_inaccurate' at 1e-12
        prob.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, max_iter=500)
        if prob.status != "optimal":
            raise RuntimeError(f"cvxpy CLARABEL returned status {prob.status!r}")
        return float(prob.value), np.maximum(np.asarray(T.value), 0.0)


SINKHORN_GAP = 1e-11


def entropic_sinkhorn(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    """Entropic OT ``min_{T in U(a, b)} <T, C> + gamma sum_ij T_ij log T_ij`` by POT's log-domain Sinkhorn
    (``ot.bregman.sinkhorn_log``: the same minimiser, its entropy differs by a constant on U(a, b)), run until
    the column marginal error is below 1e-14 in l2 (at most 10^5 iterations): the objective at its plan and the
    plan; RuntimeError unless the plan's marginal gap ``||T 1 - a||_1 + ||T^T 1 - b||_1`` is at most
    ``SINKHORN_GAP`` (the objective at the plan is then within about max|potential| x gap of the optimum)."""
    import ot

    plan = ot.bregman.sinkhorn_log(a, b, C, gamma, numItermax=100_000, stopThr=1e-14, warn=False)
    gap = float(np.abs(plan.sum(axis=1) - a).sum() + np.abs(plan.sum(axis=0) - b).sum())
    if not gap <= SINKHORN_GAP:
        raise RuntimeError(f"ot.bregman.sinkhorn_log: marginal gap {gap:.1e} > {SINKHORN_GAP:g}")
    pos = plan > 0
    value = float((plan * C).sum() + gamma * np.sum(np.where(pos, plan * np.log(np.where(pos, plan, 1.0)), 0.0)))
    return value, plan


def primal_reference(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, reg: str) -> tuple[float, np.ndarray]:
    """The duality claims' reference for the regularised primal: cvxpy's QP (l2), POT's log-domain Sinkhorn (kl)."""
    return primal_cvxpy(a, b, C, gamma, reg) if reg == "l2" else entropic_sinkhorn(a, b, C, gamma)


def unregularised_ot(a: np.ndarray, b: np.ndarray, C: np.ndarray) -> tuple[float, np.ndarray]:
    """Unregularised OT by POT's network simplex: value and plan."""
    import ot

    plan, log = ot.emd(a, b, C, log=True)
    if log.get("warning"):
        raise RuntimeError(f"ot.emd: {log['warning']}")
    return float(log["cost"]), plan


def entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy along the last axis (0 log 0 = 0)."""
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=-1)


# ----------------------------------------------------------------------------------------------------------------
# evaluators
# ----------------------------------------------------------------------------------------------------------------
def _solve(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, reg: str, xp: Any) -> dict[str, np.ndarray]:
    res = smooth_ot.solve(xp.asarray(a), xp.asarray(b), xp.asarray(C), gamma, reg)
    return {name: to_numpy(getattr(res, name)) for name in ("plan", "alpha", "beta", "semi_dual_value",
                                                             "dual_value", "marginal_gap")}


def evaluate_duality(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Primal (:func:`primal_reference`), dual and semi-dual (ours) values; the plan formula at our dual potentials
    against the reference plan (and the formula's variant: without the positive part for l2, without the -1 for
    kl); unregularised OT and the regularised objective at its plan."""
    gamma, reg = float(params["gamma"]), str(params["reg"])
    a, b, C = instance_arrays(instances)
    ours = _solve(a, b, C, gamma, reg, xp)
    ref = [primal_reference(a[i], b[i], C[i], gamma, reg) for i in range(C.shape[0])]
    exact = [unregularised_ot(a[i], b[i], C[i]) for i in range(C.shape[0])]
    ref_plan = np.stack([plan for _, plan in ref])
    ot_plan = np.stack([plan for _, plan in exact])
    X = ours["alpha"][:, :, None] + ours["beta"][:, None, :] - C
    formula = to_numpy(smooth_ot.dual_plan(xp.asarray(ours["alpha"]), xp.asarray(ours["beta"]), xp.asarray(C),
                                           gamma, reg))
    variant = X / gamma if reg == "l2" else np.exp(X / gamma)
    return {
        "P": np.array([value for value, _ in ref]),
        "D": ours["dual_value"],
        "S": ours["semi_dual_value"],
        "OT": np.array([value for value, _ in exact]),
        "P_at_ot_plan": to_numpy(smooth_ot.primal_value(xp.asarray(ot_plan), xp.asarray(C), gamma, reg)),
        "plan_error": np.abs(formula - ref_plan).sum(axis=(1, 2)),
        "variant_plan_error": np.abs(variant - ref_plan).sum(axis=(1, 2)),
        "marginal_gap": ours["marginal_gap"],
    }


def evaluate_approximation(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """OT_Omega - OT (ours, semi-dual value, minus ot.emd's value), ||a||^2, ||b||^2 and the entropies H(a), H(b)."""
    gamma, reg = float(params["gamma"]), str(params["reg"])
    a, b, C = instance_arrays(instances)
    ours = _solve(a, b, C, gamma, reg, xp)
    exact = np.array([unregularised_ot(a[i], b[i], C[i])[0] for i in range(C.shape[0])])
    return {
        "gap": ours["semi_dual_value"] - exact,
        "a_sq": np.sum(a * a, axis=1),
        "b_sq": np.sum(b * b, axis=1),
        "H_a": entropy(a),
        "H_b": entropy(b),
        "marginal_gap": ours["marginal_gap"],
    }


def evaluate_smoothness(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Gradient-difference ratios ||grad F(x) - grad F(x')|| / ||x - x'|| of the l2 dual (x = (alpha, beta)) and
    semi-dual (x = alpha) at two points of the instance."""
    gamma = float(params["gamma"])
    a, b, C = (xp.asarray(v) for v in instance_arrays(instances))
    al, be, ua, ub, r = (xp.asarray(instances[k]) for k in ("alpha", "beta", "u_alpha", "u_beta", "r"))
    al2, be2 = al + r * ua, be + r * ub
    _, ga, gb = smooth_ot.dual_value_grad(al, be, a, b, C, gamma, "l2")
    _, ga2, gb2 = smooth_ot.dual_value_grad(al2, be2, a, b, C, gamma, "l2")
    num = xp.sqrt(xp.sum((ga - ga2) ** 2, axis=-1) + xp.sum((gb - gb2) ** 2, axis=-1))
    den = xp.sqrt(xp.sum((al - al2) ** 2, axis=-1) + xp.sum((be - be2) ** 2, axis=-1))
    _, gs = smooth_ot.semi_dual_value_grad(al, a, b, C, gamma, "l2")
    _, gs2 = smooth_ot.semi_dual_value_grad(al2, a, b, C, gamma, "l2")
    num_s = xp.sqrt(xp.sum((gs - gs2) ** 2, axis=-1))
    den_s = xp.sqrt(xp.sum((al - al2) ** 2, axis=-1))
    return {"dual_ratio": to_numpy(num / den), "semi_dual_ratio": to_numpy(num_s / den_s)}
