"""solvers.network_ot (I-OT on networks) against independent references, and its input checks.

References and tolerances:
* cvxpy on the enumerated paths (``cp.rel_entr``, CLARABEL at 1e-10): values within 1e-7 relative (measured up to
  about 1e-8), path measures within 1e-4 in l1 (measured up to 2.2e-5; CLARABEL's exponential cone is the limit);
* the path-level Sinkhorn on the enumerated paths (no kernel): path measures within 1e-12 in l1 (round-off);
* brute-force sums over the enumerated paths for the kernel, the expected cost, the KL and the node marginals:
  1e-12 (sums of a few hundred O(1) terms);
* a loop over instances against one batched call: 1e-13;
* array-api-strict against NumPy: 1e-13.
"""

from __future__ import annotations

import numpy as np
import pytest

from boundlab.errors import UsageError
from simulations import imitation_regularized_ot as sim
from solvers import network_ot as net


def _instances(N: int, T: int, B: int, seed: int, graph: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    A = sim.network(N, graph)
    assert T >= sim.diameter(A)
    Q = sim.prior_from_logits(A, rng.uniform(-2, 2, (B, N, N)))
    c = rng.uniform(0, 1, (B, N, N)) * A
    q0, nu0, nuT = (rng.dirichlet(np.ones(N), B) for _ in range(3))
    return {"A": A, "T": T, "Q": Q, "c": c, "q0": q0, "nu0": nu0, "nuT": nuT, "paths": net.enumerate_paths(A, T)}


@pytest.mark.parametrize(("N", "T", "alpha"), [(3, 2, 0.5), (4, 3, 1.0), (5, 3, 0.3)])
def test_against_cvxpy(N: int, T: int, alpha: float) -> None:
    x = _instances(N, T, 6, seed=N * 10 + T)
    sol = net.solve_iot(x["q0"], x["Q"], x["c"], x["nu0"], x["nuT"], alpha, T)
    lq = net.path_log_prior(x["paths"], x["q0"], x["Q"])
    C = net.path_cost(x["paths"], x["c"])
    P = net.path_measure(sol, x["paths"], lq, C, alpha)
    for b in range(P.shape[0]):
        P_ref, value = net.iot_cvxpy(lq[b], C[b], x["paths"], x["nu0"][b], x["nuT"][b], alpha, accept_inaccurate=True)
        assert abs(sol.value[b] - value) <= 1e-7 * abs(value)
        assert np.abs(P[b] - P_ref).sum() <= 1e-4


@pytest.mark.parametrize(("N", "T", "graph"), [(4, 2, 0), (5, 4, 1), (6, 4, 2)])
def test_against_enumeration(N: int, T: int, graph: int) -> None:
    alpha = 0.7
    x = _instances(N, T, 8, seed=graph, graph=graph)
    sol = net.solve_iot(x["q0"], x["Q"], x["c"], x["nu0"], x["nuT"], alpha, T)
    paths = x["paths"]
    lq = net.path_log_prior(paths, x["q0"], x["Q"])
    C = net.path_cost(paths, x["c"])
    # the kernel is the sum of Q e^{-C/alpha} over paths with given end points
    w = np.exp(lq - C / alpha)
    K = np.zeros_like(sol.K)
    np.add.at(K, (slice(None), paths[:, 0], paths[:, -1]), w)
    np.testing.assert_allclose(sol.K, K, rtol=1e-12, atol=1e-15)
    P = net.path_measure(sol, paths, lq, C, alpha)
    P_enum = net.fit_path_marginals(lq - C / alpha, paths, x["nu0"], x["nuT"])
    assert np.abs(P - P_enum).sum(axis=1).max() <= 1e-12
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(sol.expected_cost, (P * C).sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(sol.kl, (P * (np.log(P) - lq)).sum(axis=1), atol=1e-12)
    for t in range(T + 1):
        marg = np.zeros((P.shape[0], N))
        np.add.at(marg, (slice(None), paths[:, t]), P)
        np.testing.assert_allclose(sol.node_marginals[:, t], marg, atol=1e-12)
    np.testing.assert_allclose(sol.node_marginals[:, 0], x["nu0"], atol=1e-12)
    np.testing.assert_allclose(sol.node_marginals[:, T], x["nuT"], atol=1e-12)


def test_time_varying_and_batched_equals_loop() -> None:
    N, T, alpha = 5, 3, 0.4
    x = _instances(N, T, 5, seed=3)
    rng = np.random.default_rng(4)
    Qt = np.stack([sim.prior_from_logits(x["A"], rng.uniform(-2, 2, (5, N, N))) for _ in range(T)], axis=1)
    ct = rng.uniform(0, 1, (5, T, N, N)) * x["A"]
    batch = net.solve_iot(x["q0"], Qt, ct, x["nu0"], x["nuT"], alpha, T)
    for b in range(5):
        one = net.solve_iot(x["q0"][b:b + 1], Qt[b:b + 1], ct[b:b + 1], x["nu0"][b:b + 1], x["nuT"][b:b + 1], alpha, T)
        np.testing.assert_allclose(one.value, batch.value[b:b + 1], rtol=1e-13)
        np.testing.assert_allclose(one.u * one.v[:, :1], batch.u[b:b + 1] * batch.v[b:b + 1, :1], rtol=1e-12)
    lq = net.path_log_prior(x["paths"], x["q0"], Qt)
    C = net.path_cost(x["paths"], ct)
    P = net.path_measure(batch, x["paths"], lq, C, alpha)
    P_enum = net.fit_path_marginals(lq - C / alpha, x["paths"], x["nu0"], x["nuT"])
    assert np.abs(P - P_enum).sum(axis=1).max() <= 1e-12


def test_ruelle_bowen_is_uniform_on_paths_with_fixed_end_points() -> None:
    A = sim.network(5, 0)
    Q = net.ruelle_bowen(A)
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-14)
    paths = net.enumerate_paths(A, 3)
    lq = net.path_log_prior(paths, np.full((1, 5), 0.2), Q[None])[0]
    for i in range(5):
        for j in range(5):
            sel = (paths[:, 0] == i) & (paths[:, -1] == j)
            assert np.ptp(lq[sel]) < 1e-12
    srw = net.simple_random_walk(A)
    assert np.abs(srw - Q).max() > 1e-3  # irregular graph: the two walks differ


def test_large_network_runs() -> None:
    rng = np.random.default_rng(0)
    N, T = 1500, 4
    A = np.eye(N)
    idx = np.arange(N)
    for k in (1, 7, 31):
        A[idx, (idx + k) % N] = A[(idx + k) % N, idx] = 1.0
    Q = (A / A.sum(axis=1, keepdims=True))[None]
    c = rng.uniform(0, 1, (1, N, N)) * A
    nu = np.full((1, N), 1.0 / N)
    sol = net.solve_iot(nu, Q, c, nu, nu, 5.0, T, tol=1e-10)
    np.testing.assert_allclose(sol.node_marginals[0, -1], nu[0], atol=1e-10)


def test_array_api_strict_matches_numpy() -> None:
    xps = pytest.importorskip("array_api_strict")
    x = _instances(4, 3, 3, seed=7)
    ref = net.solve_iot(x["q0"], x["Q"], x["c"], x["nu0"], x["nuT"], 0.5, 3)
    args = [xps.asarray(x[k]) for k in ("q0", "Q", "c", "nu0", "nuT")]
    got = net.solve_iot(*args, 0.5, 3)
    np.testing.assert_allclose(np.asarray(got.value), ref.value, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(got.expected_cost), ref.expected_cost, rtol=1e-13)


def test_bad_inputs_name_the_parameter() -> None:
    x = _instances(4, 2, 2, seed=1)
    good = (x["q0"], x["Q"], x["c"], x["nu0"], x["nuT"], 0.5, 2)

    def call(**change: object) -> None:
        names = ("q0", "Q", "c", "nu0", "nuT", "alpha", "T")
        args = dict(zip(names, good, strict=True))
        args.update(change)
        net.solve_iot(*(args[k] for k in names))

    bad_nu = x["nu0"].copy()
    bad_nu[0, 0] += 0.1
    with pytest.raises(UsageError, match="nu0"):
        call(nu0=bad_nu)
    with pytest.raises(UsageError, match="nuT"):
        call(nuT=-x["nuT"])
    nan_c = x["c"].copy()
    nan_c[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="c must be finite"):
        call(c=nan_c)
    with pytest.raises(UsageError, match="row-stochastic"):
        call(Q=x["Q"] * 0.9)
    with pytest.raises(UsageError, match="alpha"):
        call(alpha=0.0)
    with pytest.raises(UsageError, match="alpha"):
        call(alpha=float("nan"))
    with pytest.raises(UsageError, match="T must be"):
        call(T=0)
    with pytest.raises(UsageError, match="c must have"):
        call(c=x["c"][:, :3, :3])
    with pytest.raises(UsageError, match="q0"):
        call(q0=x["q0"][:, :3])
    # a node no path of length 1 reaches from anywhere the mass is: a zero column of K
    A = np.eye(3)
    A[0, 1] = A[1, 0] = 1.0
    A[1, 2] = 1.0
    A[2, 2] = 1.0
    Q = (A / A.sum(axis=1, keepdims=True))[None]
    with pytest.raises(UsageError, match="nuT"):
        net.solve_iot(np.array([[1.0, 0.0, 0.0]]), Q, np.zeros((1, 3, 3)), np.array([[1.0, 0.0, 0.0]]),
                      np.array([[0.0, 0.0, 1.0]]), 1.0, 1)
    with pytest.raises(UsageError, match="adjacency"):
        net.ruelle_bowen(np.array([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(UsageError, match="adjacency"):
        net.enumerate_paths(np.array([[0.5, 1.0], [1.0, 1.0]]), 2)
    with pytest.raises(UsageError, match="log_weights"):
        net.fit_path_marginals(np.zeros((2, 3)), x["paths"], x["nu0"], x["nuT"])
    with pytest.raises(UsageError, match="alpha"):
        net.iot_cvxpy(np.zeros(len(x["paths"])), np.zeros(len(x["paths"])), x["paths"], x["nu0"][0], x["nuT"][0], -1)


def test_worst_case_is_attained_and_not_exceeded() -> None:
    params = {"N": 4, "T": 2, "alpha": 0.5, "eps": 0.3, "graph": 0}
    space = sim.worst_case_space(params)
    out = sim.evaluate_worst_case(params, space.decode(space.sample(np.random.default_rng(0), 128)), np)
    bound = out["EC"] + 0.5 * out["KL"] + 0.3
    np.testing.assert_allclose(out["constraint"], 0.3, atol=1e-12)
    np.testing.assert_allclose(out["constraint_star"], 0.3, atol=1e-12)
    assert np.all(out["ECt"] <= bound + 1e-12)
    np.testing.assert_allclose(out["ECt_star"], bound, rtol=1e-12)
    assert np.any(out["ECt_star"] > out["EC"] + 0.3 + 1e-3)  # the KL term is needed
