"""Monte Carlo for sparsity-constrained optimal transport (Liu, Puigcerver, Blondel, ICLR 2023).

Instances: point clouds X ~ N(0, I_2) (m points) and Y ~ N(0.5, I_2) (n points), cost = squared distance
divided by its largest entry, marginals uniform or Dirichlet(2). Our batched solvers (solvers.sparse_ot) run on
all replicates at once; the exact references (SCIP, CLARABEL, POT's network simplex) run one instance at a time,
which is inherent to them. Every measurement that returns a plan also returns its feasibility gap.

The references import cvxpy, POT and SCIP, which take about a second to import, so they are imported inside
the functions that use them: loading the theorem module (``boundlab list``) does not pay for them. The cache
keys still cover them: boundlab.closure follows imports inside functions too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.spaces import Box, Product, Sampler, Simplex, Space
from solvers.sparse_ot import SparseOTPolishWarning, solve_dual, solve_semi_dual

Params = Mapping[str, Any]


def costs_from_points(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared Euclidean costs (B, m, n) of point clouds X (B, m, 2), Y (B, n, 2), each scaled to max 1."""
    C = np.sum((X[:, :, None, :] - Y[:, None, :, :]) ** 2, axis=-1)
    return C / np.max(C, axis=(1, 2), keepdims=True)


def marginals(rng: np.random.Generator, count: int, size: int, kind: str) -> np.ndarray:
    """``count`` marginals of ``size`` entries: uniform, or Dirichlet(2) draws."""
    if kind == "uniform":
        return np.full((count, size), 1.0 / size)
    if kind == "dirichlet":
        return rng.dirichlet(np.full(size, 2.0), size=count)
    raise ValueError(f"marginals must be 'uniform' or 'dirichlet', got {kind!r}")


def instances(rng: np.random.Generator, count: int, m: int, n: int, kind: str) -> tuple[np.ndarray, ...]:
    """``count`` random instances: a (B, m), b (B, n), C (B, m, n)."""
    X = rng.standard_normal((count, m, 2))
    Y = rng.standard_normal((count, n, 2)) + 0.5
    return marginals(rng, count, m, kind), marginals(rng, count, n, kind), costs_from_points(X, Y)


def instance(m: int, n: int, seed: int, kind: str = "uniform") -> tuple[np.ndarray, ...]:
    """One instance a (m,), b (n,), C (m, n) of :func:`instances`, from a seed (for solver tests and benchmarks)."""
    a, b, C = instances(np.random.default_rng(seed), 1, m, n, kind)
    return a[0], b[0], C[0]


# The instance space of the adversarial search of sure claims (boundlab.spaces): point coordinates in a box
# [-4, 4]^2, and, unless the marginals are uniform, marginals as softmaxes of logits in [-6, 2] (the interior of
# the simplex). Its samplers reproduce :func:`instances` (Gaussian points clipped to the box, Dirichlet(2)
# marginals encoded as clipped log-probabilities), drawn in the same order from the same generator.
COORDINATE_BOX = 4.0
LOGIT_BOX = (-6.0, 2.0)


def _with_logits(params: Params) -> bool:
    return params["marginals"] != "uniform"


def _gaussian_points(count: int, shift: float) -> Sampler:
    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        points = rng.standard_normal((n, count, 2)) + shift
        return np.clip(points.reshape(n, -1), -COORDINATE_BOX, COORDINATE_BOX)

    return sample


def _dirichlet_logits(size: int) -> Sampler:
    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.clip(np.log(marginals(rng, n, size, "dirichlet") * size), *LOGIT_BOX)

    return sample


def instance_space(params: Params) -> Product:
    """Point clouds X (m, 2), Y (n, 2) in a box and, for non-uniform marginals, a and b in the simplex."""
    m, n = int(params["m"]), int(params["n"])
    parts: dict[str, Space] = {
        "X": Box(-COORDINATE_BOX, COORDINATE_BOX, shape=(m, 2), sampler=_gaussian_points(m, 0.0)),
        "Y": Box(-COORDINATE_BOX, COORDINATE_BOX, shape=(n, 2), sampler=_gaussian_points(n, 0.5)),
    }
    if _with_logits(params):
        parts["a"] = Simplex(m, *LOGIT_BOX, sampler=_dirichlet_logits(m))
        parts["b"] = Simplex(n, *LOGIT_BOX, sampler=_dirichlet_logits(n))
    return Product(**parts)


def instance_arrays(params: Params, instances: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """a (B, m), b (B, n), C (B, m, n) from decoded instances of :func:`instance_space`."""
    m, n = int(params["m"]), int(params["n"])
    X, Y = instances["X"], instances["Y"]
    count = X.shape[0]
    if not _with_logits(params):
        return np.full((count, m), 1.0 / m), np.full((count, n), 1.0 / n), costs_from_points(X, Y)
    return instances["a"], instances["b"], costs_from_points(X, Y)


def _solve(solver: Any, a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float, k: int, xp: Any,
           **options: Any) -> dict[str, np.ndarray]:
    # the claims read the polish outcome per instance from `polished` (and the feasibility gap), so the solver's
    # warning about instances without a polished plan, meant for a user calling it, is not repeated here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseOTPolishWarning)
        result = solver(xp.asarray(a), xp.asarray(b), xp.asarray(C), gamma, k, **options)
    return {
        "value": to_numpy(result.value),
        "plan": to_numpy(result.plan),
        "iterations": to_numpy(result.iterations).astype(float),
        "feasibility_gap": to_numpy(result.feasibility_gap),
        "certified_gap": to_numpy(result.primal_value) - to_numpy(result.value),
        "polished": to_numpy(result.polished).astype(float),
    }


def _nnz(plan: np.ndarray, axis: int) -> np.ndarray:
    return np.max(np.sum(plan > 0, axis=axis), axis=-1).astype(float)


def measure_structure(params: Params, rng: np.random.Generator, count: int, xp: Any) -> dict[str, np.ndarray]:
    """Largest column and row supports of the semi-dual plan, with its feasibility and certified gaps."""
    m, n, k, gamma = int(params["m"]), int(params["n"]), int(params["k"]), float(params["gamma"])
    a, b, C = instances(rng, count, m, n, params["marginals"])
    out = _solve(solve_semi_dual, a, b, C, gamma, k, xp)
    return {
        "nnz_col": _nnz(out["plan"], axis=1),
        "nnz_row": _nnz(out["plan"], axis=2),
        "feasibility_gap": out["feasibility_gap"],
        "certified_gap": out["certified_gap"],
        "polished": out["polished"],
    }


def measure_duality(params: Params, rng: np.random.Generator, count: int, xp: Any) -> dict[str, np.ndarray]:
    """Tiny instances: exact S_k (support enumeration, CLARABEL), exact P_k (MIQP, SCIP; +inf if infeasible),
    D_k from our dual solver (a lower bound on the dual optimum), S_k from our semi-dual solver."""
    from solvers.ot_references import primal_pk_miqp, semi_dual_sk_enumeration

    m, n, k, gamma = int(params["m"]), int(params["n"]), int(params["k"]), float(params["gamma"])
    a, b, C = instances(rng, count, m, n, params["marginals"])
    dual = _solve(solve_dual, a, b, C, gamma, k, xp)
    semi = _solve(solve_semi_dual, a, b, C, gamma, k, xp)
    exact_s = np.array([semi_dual_sk_enumeration(a[i], b[i], C[i], gamma, k) for i in range(count)])
    exact_p = np.array([primal_pk_miqp(a[i], b[i], C[i], gamma, k) for i in range(count)])
    return {
        "S_k": exact_s,
        "P_k": exact_p,
        "D_k": dual["value"],
        "S_k_solver": semi["value"],
        "b_sq": np.sum(b**2, axis=1),
        "feasibility_gap": semi["feasibility_gap"],
    }


def evaluate_k1(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """S_1 from our semi-dual solver, unregularised OT from POT's network simplex, and ||b||^2."""
    from solvers.ot_references import ot_exact

    gamma = float(params["gamma"])
    a, b, C = instance_arrays(params, instances)
    out = _solve(solve_semi_dual, a, b, C, gamma, 1, xp)
    ot_values = np.array([ot_exact(a[i], b[i], C[i])[0] for i in range(C.shape[0])])
    return {"S_1": out["value"], "OT": ot_values, "b_sq": np.sum(b**2, axis=1),
            "feasibility_gap": out["feasibility_gap"]}


def truncated_plan(plan: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest entries of every column and rescale each column back to its mass b_j."""
    order = np.argsort(-plan, axis=0, kind="stable")
    keep = np.zeros_like(plan, dtype=bool)
    np.put_along_axis(keep, order[:k], True, axis=0)
    cut = np.where(keep, plan, 0.0)
    sums = cut.sum(axis=0)
    return cut * np.where(sums > 0, b / np.where(sums > 0, sums, 1.0), 0.0)


def _gap(plan: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(plan.sum(axis=1) - a).sum() + np.abs(plan.sum(axis=0) - b).sum())


def evaluate_large_k(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """QROT (cvxpy) and its largest column support k*; our semi-dual at k = k* and k* - 1; the QROT plan
    truncated to its top (k* - 1) entries per column and renormalised."""
    from solvers.ot_references import qrot_cvxpy

    gamma = float(params["gamma"])
    a, b, C = instance_arrays(params, instances)
    count = C.shape[0]
    qrot = [qrot_cvxpy(a[i], b[i], C[i], gamma) for i in range(count)]
    qrot_value = np.array([value for value, _ in qrot])
    # interior-point zeros are ~1e-12: entries below 1e-9 max(b) count as zero
    qrot_plan = np.stack([np.where(plan > 1e-9 * b[i].max(), plan, 0.0) for i, (_, plan) in enumerate(qrot)])
    kstar = np.max(np.sum(qrot_plan > 0, axis=1), axis=1)
    below = np.maximum(kstar - 1, 1)
    at_value, at_plan, at_gap, below_value = (np.empty(count), np.empty_like(qrot_plan), np.empty(count),
                                              np.empty(count))
    for k in np.unique(np.concatenate([kstar, below])):  # one batched solve per distinct k (at most m)
        for rows, out in ((kstar == k, "at"), (below == k, "below")):
            if not rows.any():
                continue
            solved = _solve(solve_semi_dual, a[rows], b[rows], C[rows], gamma, int(k), xp)
            if out == "at":
                at_value[rows], at_plan[rows], at_gap[rows] = (solved["value"], solved["plan"],
                                                               solved["feasibility_gap"])
            else:
                below_value[rows] = solved["value"]
    return {
        "S_kstar": at_value,
        "S_below": below_value,
        "OT_gamma": qrot_value,
        "plan_distance": np.abs(at_plan - qrot_plan).sum(axis=(1, 2)),
        "trunc_gap": np.array([_gap(truncated_plan(qrot_plan[i], b[i], int(below[i])), a[i], b[i])
                               for i in range(count)]),
        "kstar": kstar.astype(float),
        "feasibility_gap": at_gap,
    }


def measure_limit_in_k(params: Params, rng: np.random.Generator, count: int, xp: Any) -> dict[str, np.ndarray]:
    """S_k at the point's k, with QROT's value OT_gamma and the unregularised OT value on the same instances."""
    from solvers.ot_references import ot_exact, qrot_cvxpy

    m, n, k, gamma = int(params["m"]), int(params["n"]), int(params["k"]), float(params["gamma"])
    a, b, C = instances(rng, count, m, n, params["marginals"])
    out = _solve(solve_semi_dual, a, b, C, gamma, k, xp)
    qrot = np.array([qrot_cvxpy(a[i], b[i], C[i], gamma)[0] for i in range(count)])
    exact = np.array([ot_exact(a[i], b[i], C[i])[0] for i in range(count)])
    return {"S_k": out["value"], "OT_gamma": qrot, "OT": exact, "feasibility_gap": out["feasibility_gap"]}


def measure_iterations(params: Params, rng: np.random.Generator, count: int, xp: Any) -> dict[str, np.ndarray]:
    """Quasi-Newton iterations of the semi-dual solver to its default tolerance."""
    m, n, k, gamma = int(params["m"]), int(params["n"]), int(params["k"]), float(params["gamma"])
    a, b, C = instances(rng, count, m, n, params["marginals"])
    out = _solve(solve_semi_dual, a, b, C, gamma, k, xp, polish=False)
    return {"iterations": out["iterations"]}
