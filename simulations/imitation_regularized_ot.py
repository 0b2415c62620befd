"""Instances for imitation-regularised optimal transport on networks (Oishi, Hashizume, Jimbo, Kaji, Kashima,
arXiv:2402.17967): small random networks, Markov priors, edge costs, end-point marginals, cost perturbations and
competing path measures, with the I-OT solution from ``solvers.network_ot`` (Sinkhorn on the end-point kernel,
batched over instances) and the path-level quantities on the enumerated paths.

The network of a sweep point is fixed by its ``N`` and ``graph`` (a seed): a path 0 - 1 - .. - (N-1) with
self-loops plus ``(N - 2) // 2`` random chords (undirected, strongly connected, irregular degrees, so the simple
random walk is not the Ruelle-Bowen walk). ``T`` is at least its diameter, so every end-point pair is joined by
a path and any marginals are feasible. Every space keeps its instances valid by construction:

* prior ``Q``: softmax of logits in [-2, 2] over each node's edges (row-stochastic, zero off the edges);
  initial law ``q0`` and marginals ``nu0``, ``nuT``: softmaxes of logits in [-3, 3] (interior of the simplex);
* edge costs ``c`` in [0, 1] (time-homogeneous, additive over the steps of a path);
* a cost perturbation ``D(x)`` in [-2, 2] per path (any function of the path, not only additive ones), shifted so
  that the perturbed cost ``C~ = C + D - s`` lies on the boundary of the cost set,
  ``alpha log sum_x Q(x) e^{(C~(x) - C(x))/alpha} = eps``;
* a competing path measure: path log-weights in [-3, 3] scaled (path-level Sinkhorn) to the marginals nu0, nuT,
  so it is feasible for I-OT.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, Simplex, to_numpy
from solvers import network_ot as net

Params = Mapping[str, Any]
ALPHA_NEAR = 1.003  # the cvxpy claims' near-resolution mutants solve I-OT at alpha * ALPHA_NEAR
ALPHA_TINY = 1.0 + 1e-9  # the enumeration claim's: at alpha * ALPHA_TINY
RB_MIX = 1e-9  # the near-resolution prior: (1 - RB_MIX) Q_RB + RB_MIX Q_SRW


@functools.lru_cache(maxsize=64)
def network(N: int, seed: int) -> np.ndarray:
    """The 0/1 adjacency of the sweep point's network: a path with self-loops plus (N - 2) // 2 random chords
    (more while the degrees are all equal)."""
    rng = np.random.default_rng(1000 + 17 * int(seed) + int(N))
    A = np.eye(N)
    for i in range(N - 1):
        A[i, i + 1] = A[i + 1, i] = 1.0
    missing = [(i, j) for i in range(N) for j in range(i + 2, N)]
    order = list(rng.permutation(len(missing)))
    for k in order[: (N - 2) // 2]:
        A[missing[k]] = A[missing[k][::-1]] = 1.0
    for k in order[(N - 2) // 2:]:
        if len(set(A.sum(axis=1))) > 1:
            break
        A[missing[k]] = A[missing[k][::-1]] = 1.0
    A.flags.writeable = False
    return A


def diameter(A: np.ndarray) -> int:
    """The number of steps after which every node reaches every node (self-loops: then also for any longer T)."""
    R = np.eye(A.shape[0])
    for t in range(1, A.shape[0] + 1):
        R = np.minimum(R @ A, 1.0)
        if np.all(R > 0):
            return t
    raise ValueError("the network is not strongly connected")


def _graph(params: Params) -> tuple[np.ndarray, int, np.ndarray]:
    N, T = int(params["N"]), int(params["T"])
    A = network(N, int(params.get("graph", 0)))
    if T < diameter(A):
        raise ValueError(f"T = {T} is below the network's diameter {diameter(A)}: some marginals are infeasible")
    return A, T, _paths(N, int(params.get("graph", 0)), T)


@functools.lru_cache(maxsize=64)
def _paths(N: int, seed: int, T: int) -> np.ndarray:
    paths = net.enumerate_paths(network(N, seed), T)
    paths.flags.writeable = False
    return paths


def n_paths(params: Params) -> int:
    return int(_graph(params)[2].shape[0])


def _network_parts(N: int, prior: bool = True) -> dict[str, Any]:
    parts: dict[str, Any] = {"costs": Box(0.0, 1.0, (N, N)), "q0": Simplex(N, -3.0, 3.0),
                             "nu0": Simplex(N, -3.0, 3.0), "nuT": Simplex(N, -3.0, 3.0)}
    if prior:
        parts["logits"] = Box(-2.0, 2.0, (N, N))
    return parts


def reference_space(params: Params) -> Product:
    """A prior, costs and marginals on the sweep point's network."""
    return Product(**_network_parts(int(params["N"])))


def worst_case_space(params: Params) -> Product:
    """A network instance and a perturbation D(x) of the cost of every path."""
    return Product(**_network_parts(int(params["N"])), D=Box(-2.0, 2.0, n_paths(params)))


def minimax_space(params: Params) -> Product:
    """A network instance and the log-weights of a competing path measure (scaled to the marginals)."""
    return Product(**_network_parts(int(params["N"])), r=Box(-3.0, 3.0, n_paths(params)))


def ruelle_bowen_space(params: Params) -> Product:
    """Costs and marginals on the sweep point's network (the prior is the Ruelle-Bowen walk)."""
    return Product(**_network_parts(int(params["N"]), prior=False))


def prior_from_logits(A: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Row-stochastic priors on the edges of A: softmax of the logits over each node's edges, (B, N, N)."""
    w = np.where(A[None] > 0, np.exp(logits - logits.max(axis=2, keepdims=True)), 0.0)
    return w / w.sum(axis=2, keepdims=True)


def _instance(params: Params, inst: Mapping[str, np.ndarray], Q: np.ndarray | None = None) -> dict[str, Any]:
    A, T, paths = _graph(params)
    alpha = float(params["alpha"])
    Q = prior_from_logits(A, np.asarray(inst["logits"], float)) if Q is None else Q
    c = np.asarray(inst["costs"], float) * A[None]
    q0, nu0, nuT = (np.asarray(inst[k], float) for k in ("q0", "nu0", "nuT"))
    sol = net.solve_iot(q0, Q, c, nu0, nuT, alpha, T)
    lq = net.path_log_prior(paths, q0, Q)
    C = net.path_cost(paths, c)
    P = net.path_measure(sol, paths, lq, C, alpha)
    return {"A": A, "T": T, "paths": paths, "alpha": alpha, "Q": Q, "c": c, "q0": q0, "nu0": nu0, "nuT": nuT,
            "sol": sol, "lq": lq, "C": C, "P": P}


def _objective(P: np.ndarray, lq: np.ndarray, C: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(E_P C, KL(P || Q)) on the enumerated paths."""
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.sum(np.where(P > 0, P * (np.log(np.where(P > 0, P, 1.0)) - lq), 0.0), axis=1)
    return np.sum(P * C, axis=1), kl


def _solve_at(x: Mapping[str, Any], alpha: float, Q: np.ndarray | None = None) -> np.ndarray:
    Q = x["Q"] if Q is None else Q
    sol = net.solve_iot(x["q0"], Q, x["c"], x["nu0"], x["nuT"], alpha, x["T"])
    return net.path_measure(sol, x["paths"], net.path_log_prior(x["paths"], x["q0"], Q), x["C"], alpha)


def _cvxpy(x: Mapping[str, Any], b: int) -> np.ndarray | None:
    """cvxpy's path measure for instance b (CLARABEL at 1e-10; once more at 1e-9 with 'optimal_inaccurate'
    allowed), or None when CLARABEL fails both times."""
    args = (x["lq"][b], x["C"][b], x["paths"], x["nu0"][b], x["nuT"][b], x["alpha"])
    try:
        return net.iot_cvxpy(*args)[0]
    except Exception:  # a status other than 'optimal', or cvxpy's SolverError
        try:
            return net.iot_cvxpy(*args, tol=1e-9, accept_inaccurate=True)[0]
        except Exception:
            return None


def _l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(np.abs(a - b), axis=1)


def evaluate_reference(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: the Sinkhorn value ``J`` = E C + alpha KL and the I-OT objective ``J_cvx`` of cvxpy's path
    measure on the enumerated paths (CLARABEL; entries clipped at 0; NaN where CLARABEL failed twice, an instance
    that then says nothing), its end-point marginal error ``cvx_marginal`` and its l1 distance to ours
    ``dist_cvx``; and the objectives of two wrong solutions (the mutants): the solution at alpha * 1.003
    (``J_alpha_off``) and MaxEnt OT on paths, without the prior (``J_no_prior``)."""
    x = _instance(params, instances)
    alpha, P = x["alpha"], x["P"]
    B, n = P.shape
    refs = [_cvxpy(x, b) for b in range(B)]
    P_cvx = np.stack([np.full(n, np.nan) if r is None else np.maximum(r, 0.0) for r in refs])
    EC_cvx, KL_cvx = _objective(P_cvx, x["lq"], x["C"], alpha)
    S0, ST = net.endpoint_indicators(x["paths"], x["nu0"].shape[1])
    cvx_marginal = _l1(P_cvx @ S0, x["nu0"]) + _l1(P_cvx @ ST, x["nuT"])
    P_off = _solve_at(x, alpha * ALPHA_NEAR)
    P_flat = net.fit_path_marginals(-x["C"] / alpha, x["paths"], x["nu0"], x["nuT"])  # uniform prior on paths
    EC_off, KL_off = _objective(P_off, x["lq"], x["C"], alpha)
    EC_flat, KL_flat = _objective(P_flat, x["lq"], x["C"], alpha)
    out = {"J": x["sol"].value, "J_cvx": EC_cvx + alpha * KL_cvx, "dist_cvx": _l1(P, P_cvx),
           "cvx_marginal": cvx_marginal, "J_alpha_off": EC_off + alpha * KL_off,
           "J_no_prior": EC_flat + alpha * KL_flat, "marginal": x["sol"].marginal_error}
    return {k: to_numpy(np.asarray(v)) for k, v in out.items()}


def evaluate_enumeration(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: the l1 distance of the bridge from the end-point kernel to the path-level Sinkhorn's on the
    enumerated paths (``dist_enum``), and that of the bridge at alpha (1 + 1e-9) (``dist_enum_alpha_tiny``)."""
    x = _instance(params, instances)
    P_enum = net.fit_path_marginals(x["lq"] - x["C"] / x["alpha"], x["paths"], x["nu0"], x["nuT"])
    P_tiny = _solve_at(x, x["alpha"] * ALPHA_TINY)
    out = {"dist_enum": _l1(x["P"], P_enum), "dist_enum_alpha_tiny": _l1(P_tiny, P_enum),
           "marginal": x["sol"].marginal_error}
    return {k: to_numpy(np.asarray(v)) for k, v in out.items()}


def evaluate_worst_case(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance, with P* the I-OT solution: ``ECt`` = E_{P*} C~ for C~ = C + D - s on the boundary of the cost
    set; ``EC`` = E_{P*} C and ``KL`` = KL(P* || Q) on the enumerated paths; ``ECt_star`` = E_{P*} C~* for the
    candidate worst case C~* = C + alpha log(P*/Q), shifted to the boundary; ``constraint`` and
    ``constraint_star``: alpha log sum_x Q e^{(C~ - C)/alpha} of both (eps by construction)."""
    x = _instance(params, instances)
    alpha, eps, P, lq, C = x["alpha"], float(params["eps"]), x["P"], x["lq"], x["C"]
    EC, KL = _objective(P, lq, C, alpha)

    def on_boundary(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = lq + D / alpha
        m = z.max(axis=1, keepdims=True)
        log_mgf = alpha * (m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1)))
        Dt = D - (log_mgf - eps)[:, None]
        z = lq + Dt / alpha
        m = z.max(axis=1, keepdims=True)
        return np.sum(P * (C + Dt), axis=1), alpha * (m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1)))

    ECt, constraint = on_boundary(np.asarray(instances["D"], float))
    with np.errstate(divide="ignore"):
        ECt_star, constraint_star = on_boundary(alpha * (np.log(P) - lq))
    out = {"ECt": ECt, "EC": EC, "KL": KL, "ECt_star": ECt_star, "constraint": constraint,
           "constraint_star": constraint_star}
    return {k: to_numpy(np.asarray(v)) for k, v in out.items()}


def evaluate_minimax(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: the worst-case cost over the cost set, W(P) = E_P C + alpha KL(P || Q) + eps, of a competing
    feasible path measure P (``W_P``, with its expected cost ``EC_P``) and of the I-OT solution P* (``W_star``,
    ``EC_star``); KL(P || P*) (``KL_to_star``) and KL(P* || P) (``KL_from_star``)."""
    x = _instance(params, instances)
    alpha, eps = x["alpha"], float(params["eps"])
    P_alt = net.fit_path_marginals(np.asarray(instances["r"], float), x["paths"], x["nu0"], x["nuT"])
    EC_P, KL_P = _objective(P_alt, x["lq"], x["C"], alpha)
    EC_s, KL_s = _objective(x["P"], x["lq"], x["C"], alpha)
    log_star = np.log(x["P"])
    _, KL_to_star = _objective(P_alt, log_star, np.zeros_like(log_star), alpha)
    _, KL_from_star = _objective(x["P"], np.log(P_alt), np.zeros_like(log_star), alpha)
    out = {"W_P": EC_P + alpha * KL_P + eps, "EC_P": EC_P, "W_star": EC_s + alpha * KL_s + eps, "EC_star": EC_s,
           "KL_to_star": KL_to_star, "KL_from_star": KL_from_star}
    return {k: to_numpy(np.asarray(v)) for k, v in out.items()}


def evaluate_ruelle_bowen(params: Params, instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: l1 distances between MaxEnt OT on paths (the path-level Sinkhorn with weights e^{-C/alpha},
    the counting measure as prior) and I-OT with the Ruelle-Bowen prior (``dist_rb``), the simple random walk
    (``dist_srw``), and the Ruelle-Bowen walk mixed with 1e-9 of the simple random walk (``dist_near``)."""
    A, T, paths = _graph(params)
    B = int(np.asarray(instances["q0"]).shape[0])
    Q_rb = np.broadcast_to(net.ruelle_bowen(A), (B, *A.shape)).copy()
    Q_srw = np.broadcast_to(net.simple_random_walk(A), (B, *A.shape)).copy()
    x = _instance(params, instances, Q=Q_rb)
    P_maxent = net.fit_path_marginals(-x["C"] / x["alpha"], paths, x["nu0"], x["nuT"])
    l1 = lambda a, b: np.sum(np.abs(a - b), axis=1)  # noqa: E731
    out = {"dist_rb": l1(x["P"], P_maxent), "dist_srw": l1(_solve_at(x, x["alpha"], Q_srw), P_maxent),
           "dist_near": l1(_solve_at(x, x["alpha"], (1 - RB_MIX) * Q_rb + RB_MIX * Q_srw), P_maxent)}
    return {k: to_numpy(np.asarray(v)) for k, v in out.items()}
