"""The convex program of two-layer ReLU networks (solvers/convex_relu.py) and its simulation
(simulations/convex_relu_networks.py): the arrangement enumeration against dense random sampling of h (the sets
coincide) and against all 2^n patterns (same program value); the batched block cvxpy solve against a per-instance,
per-pattern formulation solved by SCS; the rebuilt network against the program's value; the program's value
against scipy L-BFGS-B on the network objective (never below, and reached); batched GD and the network objective
against slow per-run loops; array-api-strict; and bad inputs."""

from __future__ import annotations

import itertools

import array_api_strict
import cvxpy as cp
import numpy as np
import pytest
import scipy.optimize

from boundlab.errors import UsageError
from simulations import convex_relu_networks as sim
from solvers import convex_relu as cr


def _data(seed: int, count: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return sim.random_data(np.random.default_rng(seed), count, n)


def _as_set(patterns: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in col) for col in patterns.T}


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_enumeration_coincides_with_dense_random_sampling(n: int) -> None:
    X = _data(n, 1, n)[0][0]
    exact = _as_set(cr.arrangement_patterns(X))
    sampled = _as_set(cr.sampled_patterns(X, 400_000, np.random.default_rng(0)))
    assert sampled == exact
    assert len(exact) == n * n - n + 2          # cells of n planes in general position through 0 in R^3


def test_enumeration_contains_every_sampled_pattern_at_n_12() -> None:
    X = _data(3, 1, 12)[0][0]
    exact = _as_set(cr.arrangement_patterns(X))
    assert _as_set(cr.sampled_patterns(X, 200_000, np.random.default_rng(1))) <= exact
    assert len(exact) == 12 * 12 - 12 + 2


def test_enumeration_in_two_and_four_dimensions() -> None:
    rng = np.random.default_rng(5)
    for p in (2, 4):
        X = rng.standard_normal((6, p))
        exact = _as_set(cr.arrangement_patterns(X))
        sampled = _as_set(cr.sampled_patterns(X, 400_000, np.random.default_rng(2)))
        # without a bias column the all-ones pattern is h = 0 only, which random directions never hit
        assert sampled | {(1,) * 6} == exact


def test_degenerate_data_get_a_superset() -> None:
    points = np.array([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [0.5, -0.3], [-0.2, 0.7]])  # three collinear
    X = sim.design(points[None])[0]
    exact = _as_set(cr.arrangement_patterns(X))
    assert _as_set(cr.sampled_patterns(X, 400_000, np.random.default_rng(3))) <= exact


def _per_pattern_program(X: np.ndarray, y: np.ndarray, D: np.ndarray, beta: float) -> float:
    """The program written pattern by pattern (one variable pair per D_i), solved by SCS at high accuracy."""
    terms, penalty, constraints = 0, 0, []
    for i in range(D.shape[1]):
        v, w = cp.Variable(X.shape[1]), cp.Variable(X.shape[1])
        Di = np.diag(D[:, i])
        terms = terms + Di @ X @ (v - w)
        penalty = penalty + cp.norm(v, 2) + cp.norm(w, 2)
        constraints += [(2 * Di - np.eye(len(y))) @ X @ v >= 0, (2 * Di - np.eye(len(y))) @ X @ w >= 0]
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(terms - y) + beta * penalty), constraints)
    problem.solve(solver="SCS", eps=1e-10, max_iters=200_000)
    return float(problem.value)


@pytest.mark.parametrize("beta", [0.01, 0.1])
def test_batched_program_against_per_pattern_scs(beta: float) -> None:
    X, y = _data(11, 3, 5)
    D = cr.pad_patterns([cr.arrangement_patterns(x) for x in X])
    batched = cr.solve_convex_programs(X, y, D, beta)
    for b in range(3):
        np.testing.assert_allclose(batched.value[b], _per_pattern_program(X[b], y[b], D[b], beta), rtol=1e-5)


def test_all_2_to_the_n_patterns_give_the_same_value() -> None:
    """Extra (unrealisable) patterns cannot lower the value; a missing realisable one could raise it."""
    X, y = _data(12, 2, 4)
    exact = cr.pad_patterns([cr.arrangement_patterns(x) for x in X])
    every = np.array(list(itertools.product((0.0, 1.0), repeat=4))).T
    allp = np.repeat(every[None], 2, axis=0)
    a = cr.solve_convex_programs(X, y, exact, 0.05).value
    b = cr.solve_convex_programs(X, y, allp, 0.05).value
    np.testing.assert_allclose(a, b, rtol=1e-6)
    fewer = cr.solve_convex_programs(X, y, exact[:, :, ::2], 0.05).value  # a subset: never below
    assert np.all(fewer >= a * (1 - 1e-7))


def test_rebuilt_network_attains_the_value_and_lies_in_its_patterns() -> None:
    X, y = _data(13, 4, 7)
    D = cr.pad_patterns([cr.arrangement_patterns(x) for x in X])
    sol = cr.solve_convex_programs(X, y, D, 0.1)
    U, alpha = cr.network_from_convex(sol.V, sol.W)
    f = cr.network_objective(X, y, U[:, None], alpha[:, None], 0.1)[:, 0]
    np.testing.assert_allclose(f, sol.value, rtol=1e-6)
    relax = cr.solve_convex_programs(X, y, D, 0.1, cone=False).value
    half = cr.solve_convex_programs(X, y, D, 0.05).value
    double = cr.solve_convex_programs(X, y, D, 0.2).value
    assert np.all(relax < sol.value) and np.all(half < sol.value) and np.all(double > sol.value)


def test_scipy_lbfgs_on_networks_never_beats_and_reaches_the_program() -> None:
    X, y = _data(14, 1, 4)
    beta, m, p = 0.1, 5, 3
    D = cr.pad_patterns([cr.arrangement_patterns(X[0])])
    p_cvx = float(cr.solve_convex_programs(X, y, D, beta).value[0])

    def f(theta: np.ndarray) -> float:
        U, a = theta[: p * m].reshape(1, 1, p, m), theta[p * m:].reshape(1, 1, m)
        return float(cr.network_objective(X, y, U, a, beta)[0, 0])

    rng = np.random.default_rng(0)
    values = [scipy.optimize.minimize(f, rng.standard_normal(p * m + m), method="L-BFGS-B",
                                      options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12}).fun
              for _ in range(30)]
    assert min(values) >= p_cvx * (1 - 1e-7)
    assert min(values) <= p_cvx * (1 + 1e-4)


def _slow_objective(X: np.ndarray, y: np.ndarray, U: np.ndarray, a: np.ndarray, beta: float) -> float:
    out = np.zeros(len(y))
    for j in range(U.shape[1]):
        for k in range(len(y)):
            out[k] += max(0.0, float(X[k] @ U[:, j])) * a[j]
    return 0.5 * float(np.sum((out - y) ** 2)) + beta / 2 * float(np.sum(U**2) + np.sum(a**2))


def _slow_gd(X: np.ndarray, y: np.ndarray, U: np.ndarray, a: np.ndarray, beta: float, steps: int, eta: float,
             decay: float) -> tuple[np.ndarray, np.ndarray]:
    U, a = U.copy(), a.copy()
    for t in range(steps):
        step = eta * decay ** (t / steps)
        z = X @ U
        r = np.maximum(z, 0) @ a - y
        gU, ga = beta * U.copy(), beta * a.copy()
        for j in range(U.shape[1]):
            for k in range(len(y)):
                if z[k, j] > 0:
                    gU[:, j] += r[k] * a[j] * X[k]
                    ga[j] += r[k] * z[k, j]
        U, a = U - step * gU, a - step * ga
    return U, a


def test_batched_gd_and_objective_against_slow_loops() -> None:
    rng = np.random.default_rng(21)
    X, y = _data(21, 2, 5)
    U0, a0 = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((2, 3, 4))
    U, a = cr.gradient_descent(X, y, U0, a0, 0.1, 40, 0.05, 0.1)
    f = cr.network_objective(X, y, U, a, 0.1)
    for b in range(2):
        for r in range(3):
            Us, as_ = _slow_gd(X[b], y[b], U0[b, r], a0[b, r], 0.1, 40, 0.05, 0.1)
            np.testing.assert_allclose(U[b, r], Us, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(a[b, r], as_, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(f[b, r], _slow_objective(X[b], y[b], Us, as_, 0.1), rtol=1e-12)


def test_gd_descends_to_the_program_from_some_start() -> None:
    X, y = _data(22, 2, 6)
    D = cr.pad_patterns([cr.arrangement_patterns(x) for x in X])
    p_cvx = cr.solve_convex_programs(X, y, D, 0.1).value
    rng = np.random.default_rng(0)
    U0, a0 = rng.standard_normal((2, 16, 3, 16)) / np.sqrt(3), rng.standard_normal((2, 16, 16)) / 4
    U, a = cr.gradient_descent(X, y, U0, a0, 0.1, 6000, 0.1, 1e-3)
    f = cr.network_objective(X, y, U, a, 0.1)
    assert np.all(f >= p_cvx[:, None] * (1 - 1e-7))
    assert np.all(f.min(axis=1) <= p_cvx * (1 + 2e-3))


def test_array_api_strict_matches_numpy() -> None:
    xp = array_api_strict
    rng = np.random.default_rng(31)
    X, y = _data(31, 2, 5)
    U0, a0 = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((2, 3, 4))
    U, a = cr.gradient_descent(X, y, U0, a0, 0.1, 25, 0.05, 0.5)
    Us, as_ = cr.gradient_descent(xp.asarray(X), xp.asarray(y), xp.asarray(U0), xp.asarray(a0), 0.1, 25, 0.05,
                                  0.5, xp)
    np.testing.assert_allclose(np.asarray(Us), U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(as_), a, rtol=1e-12, atol=1e-14)
    f = cr.network_objective(xp.asarray(X), xp.asarray(y), Us, as_, 0.1, xp)
    np.testing.assert_allclose(np.asarray(f), cr.network_objective(X, y, U, a, 0.1), rtol=1e-12)
    V, W = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 3, 6))
    for got, want in zip(cr.network_from_convex(xp.asarray(V), xp.asarray(W), xp), cr.network_from_convex(V, W),
                         strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    params = {"R": 2, "pool": 3, "T": 30, "n": 5, "m": 4, "beta": 0.1}
    a_np = sim.measure_gd(params, np.random.default_rng(4), 2, np)
    a_st = sim.measure_gd(params, np.random.default_rng(4), 2, xp)
    for k in a_np:
        np.testing.assert_allclose(a_st[k], a_np[k], rtol=1e-10)
    net = {"n": 8, "m": 3, "beta": 0.1, "instance": 0}
    z = {"first": rng.uniform(-1, 1, (4, 3, 3)), "second": rng.uniform(-1, 1, (4, 3))}
    for k, v in sim.evaluate_networks(net, z, xp).items():
        np.testing.assert_allclose(v, sim.evaluate_networks(net, z, np)[k], rtol=1e-12)


def test_measure_gd_is_nested_in_R() -> None:
    base = {"pool": 4, "T": 200, "n": 5, "m": 6, "beta": 0.1}
    best = [sim.measure_gd({**base, "R": R}, np.random.default_rng(9), 3, np)["best"] for R in (1, 2, 4)]
    assert np.all(best[1] <= best[0]) and np.all(best[2] <= best[1])


def test_network_sampler_and_evaluator() -> None:
    params = {"n": 8, "m": 4, "beta": 0.1, "instance": 1}
    space = sim.network_space(params)
    z = space.sample(np.random.default_rng(0), 3)
    out = sim.evaluate_networks(params, space.decode(z), np)
    assert np.all(out["objective"] >= out["p_cvx"] * (1 - 1e-7))
    assert np.all(out["p_double"] > out["p_cvx"])


def test_bad_inputs() -> None:
    X, y = _data(41, 2, 5)
    U, a = np.zeros((2, 1, 3, 2)), np.zeros((2, 1, 2))
    D = cr.pad_patterns([cr.arrangement_patterns(x) for x in X])
    with pytest.raises(UsageError, match="beta"):
        cr.solve_convex_programs(X, y, D, 0.0)
    with pytest.raises(UsageError, match="beta"):
        cr.network_objective(X, y, U, a, -1.0)
    with pytest.raises(UsageError, match="eta"):
        cr.gradient_descent(X, y, U, a, 0.1, 10, 0.0)
    with pytest.raises(UsageError, match="steps"):
        cr.gradient_descent(X, y, U, a, 0.1, 0, 0.1)
    with pytest.raises(UsageError, match="decay"):
        cr.gradient_descent(X, y, U, a, 0.1, 10, 0.1, 1.5)
    with pytest.raises(UsageError, match="U must"):
        cr.gradient_descent(X, y, np.zeros((2, 1, 2, 2)), a, 0.1, 10, 0.1)
    with pytest.raises(UsageError, match="alpha must"):
        cr.network_objective(X, y, U, np.zeros((2, 1, 3)), 0.1)
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="finite"):
        cr.arrangement_patterns(bad[0])
    with pytest.raises(UsageError, match="finite"):
        cr.solve_convex_programs(bad, y, D, 0.1)
    with pytest.raises(UsageError, match="y must"):
        cr.solve_convex_programs(X, y[:, :3], D, 0.1)
    with pytest.raises(UsageError, match="D must"):
        cr.solve_convex_programs(X, y, 0.5 * D, 0.1)
    with pytest.raises(UsageError, match="full column rank"):
        cr.arrangement_patterns(np.ones((5, 3)))
    with pytest.raises(UsageError, match="directions"):
        cr.sampled_patterns(X[0], 0, np.random.default_rng(0))
    with pytest.raises(UsageError, match="R must"):
        sim.measure_gd({"R": 5, "pool": 4, "T": 10, "n": 5, "m": 3, "beta": 0.1}, np.random.default_rng(0), 2, np)
