"""The Monge gap solver and instances: the enumeration assignment against scipy's linear_sum_assignment and POT's
ot.emd2 (1e-12), the entropic cost against POT's log-domain Sinkhorn (1e-10), the map families against slow
per-point formulas, bad inputs, and array-api-strict against NumPy."""

from __future__ import annotations

import math

import array_api_strict as xps
import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment

from simulations import monge_gap as sim
from solvers import uniform_ot


def _clouds(seed: int, N: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (N, n, d)), 2.0 * rng.uniform(-1, 1, (N, n, d))


@pytest.mark.parametrize("n", [1, 2, 4, 7])
@pytest.mark.parametrize("cost", uniform_ot.COSTS)
def test_assignment_matches_scipy_and_pot(n: int, cost: str) -> None:
    X, Y = _clouds(n, 64, n, 3)
    C = uniform_ot.cost_matrix(X, Y, cost)
    ours = uniform_ot.assignment_cost(C)
    a = np.full(n, 1.0 / n)
    for b in range(C.shape[0]):
        slow = np.array([[np.sum((x - y) ** 2) if cost == "sqeuclidean" else np.linalg.norm(x - y)
                          for y in Y[b]] for x in X[b]])
        np.testing.assert_allclose(C[b], slow, rtol=1e-13, atol=1e-13)
        rows, cols = linear_sum_assignment(C[b])
        assert abs(ours[b] - C[b][rows, cols].mean()) < 1e-12
        assert abs(ours[b] - ot.emd2(a, a, C[b])) < 1e-12


def test_monge_gap_definition_and_sign() -> None:
    X, Y = _clouds(1, 128, 5, 2)
    r = uniform_ot.monge_gap(X, Y)
    disp = np.mean(np.sum((X - Y) ** 2, axis=2), axis=1)
    np.testing.assert_allclose(r.displacement, disp, rtol=1e-14)
    np.testing.assert_allclose(r.gap, r.displacement - r.transport, rtol=0, atol=0)
    assert np.all(r.gap >= -1e-12)
    assert np.any(r.gap > 1e-3)  # random pairs of clouds are not optimally matched: the check can fail
    # a map that permutes the cloud has W = 0, so its gap is its whole displacement cost
    perm = np.roll(X, 1, axis=1)
    p = uniform_ot.monge_gap(X, perm)
    np.testing.assert_allclose(p.gap, p.displacement, atol=1e-12)


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_entropic_cost_matches_pot_sinkhorn(eps: float) -> None:
    X, Y = _clouds(2, 16, 5, 2)
    C = uniform_ot.cost_matrix(X, Y)
    res = uniform_ot.entropic_cost(C, eps)
    assert float(np.max(res.marginal_error)) <= 1e-13
    a = np.full(5, 0.2)
    for b in range(C.shape[0]):
        P = ot.sinkhorn(a, a, C[b], eps, method="sinkhorn_log", stopThr=1e-15, numItermax=100000)
        primal = float(np.sum(P * C[b]) + eps * np.sum(P * np.log(P / np.outer(a, a))))
        assert abs(res.value[b] - primal) < 1e-10
    exact = uniform_ot.assignment_cost(C)
    assert np.all(res.value >= exact - 1e-10)
    assert np.all(res.value <= exact + eps * math.log(5) + 1e-10)


def test_best_swap_gain_is_a_slow_pair_loop() -> None:
    X, Y = _clouds(3, 20, 4, 2)
    C = uniform_ot.cost_matrix(X, Y)
    fast = sim.best_swap_gain(C, np)
    for b in range(20):
        best = max(C[b, i, i] + C[b, j, j] - C[b, i, j] - C[b, j, i] for i in range(4) for j in range(4))
        assert abs(fast[b] - max(best, 0.0) / 4) < 1e-13


def _decoded(space_fn, params: dict, seed: int = 0, count: int = 8) -> dict:
    space = space_fn(params)
    return space.decode(space.sample(np.random.default_rng(seed), count))


def test_maps_match_per_point_formulas() -> None:
    params = {"n": 4, "d": 3}
    inst = _decoded(sim.mlp_space, params)
    T = sim.mlp_map({k: np.asarray(v) for k, v in inst.items()}, np)
    for b in range(8):
        for i in range(4):
            x = inst["points"][b, i]
            want = inst["A"][b] @ x + inst["b"][b] + inst["U"][b] @ np.tanh(inst["V"][b] @ x + inst["w"][b])
            np.testing.assert_allclose(T[b, i], want, atol=1e-13)
    conv = _decoded(sim.convex_space, params)
    G = sim.convex_gradient_map(conv, np)
    for b in range(8):
        S = conv["S"][b]
        assert np.all(np.linalg.eigvalsh(S) >= -1e-12) and np.all(conv["a"][b] >= 0)

        def phi(x: np.ndarray, b: int = b, S: np.ndarray = S) -> float:
            z = conv["u"][b] @ x + conv["c"][b]
            return 0.5 * x @ S @ x + conv["b"][b] @ x + float(np.sum(conv["a"][b] * np.logaddexp(0, z)))

        for i in range(4):
            x = conv["points"][b, i]
            h = 1e-6
            grad = np.array([(phi(x + h * e) - phi(x - h * e)) / (2 * h) for e in np.eye(3)])
            np.testing.assert_allclose(G[b, i], grad, atol=1e-7)
    rot = _decoded(sim.rotation_space, {"n": 3})
    R = sim.rotation_map(rot, np)
    for b in range(8):
        t = rot["theta"][b, 0]
        M = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        np.testing.assert_allclose(R[b], rot["points"][b] @ M.T + rot["b"][b], atol=1e-14)


def test_convex_gradients_have_zero_gap_and_rotations_do_not() -> None:
    params = {"n": 6, "d": 2}
    out = sim.evaluate_convex(params, _decoded(sim.convex_space, params, count=64), np)
    assert np.max(np.abs(out["gap"])) < 1e-12
    rot = sim.evaluate_rotation({"n": 6}, _decoded(sim.rotation_space, {"n": 6}, count=64), np)
    assert np.all(rot["gap"] >= -2 * rot["ctheta"] * rot["diam2"] / 6 - 1e-12)
    assert np.min(rot["gap"][rot["ctheta"] < -0.1]) > 0


def test_bad_inputs_raise_naming_the_parameter() -> None:
    X, Y = _clouds(4, 2, 3, 2)
    C = uniform_ot.cost_matrix(X, Y)
    with pytest.raises(ValueError, match="C must be an"):
        uniform_ot.assignment_cost(C[:, :2, :])
    with pytest.raises(ValueError, match=r"n must be in \[1, 7\]"):
        uniform_ot.assignment_cost(np.zeros((1, 8, 8)))
    bad = C.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="C must be finite"):
        uniform_ot.assignment_cost(bad)
    for eps in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="eps must be a finite number > 0"):
            uniform_ot.entropic_cost(C, eps)
    with pytest.raises(ValueError, match="max_iter"):
        uniform_ot.entropic_cost(C, 1.0, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        uniform_ot.entropic_cost(C, 1.0, tol=-1.0)
    with pytest.raises(ValueError, match="cost must be one of"):
        uniform_ot.cost_matrix(X, Y, "manhattan")
    with pytest.raises(ValueError, match="X and Y must both be"):
        uniform_ot.monge_gap(X, Y[:, :2])
    nan_y = Y.copy()
    nan_y[1, 2, 0] = np.inf
    with pytest.raises(ValueError, match="Y must be finite"):
        uniform_ot.monge_gap(X, nan_y)
    with pytest.raises(ValueError, match="n must be an integer"):
        uniform_ot.permutation_matrices(0)


@pytest.mark.parametrize("family", ["mlp", "affine", "convex", "rotation"])
def test_array_api_strict_matches_numpy(family: str) -> None:
    params = {"n": 5, "d": 2}
    space_fn = {"mlp": sim.mlp_space, "affine": sim.affine_space, "convex": sim.convex_space,
                "rotation": sim.rotation_space}[family]
    evaluate = getattr(sim, f"evaluate_{family}")
    inst = _decoded(space_fn, params, count=16)
    ref, strict = evaluate(params, inst, np), evaluate(params, inst, xps)
    for key in ref:
        np.testing.assert_allclose(strict[key], ref[key], rtol=1e-12, atol=1e-12)


def test_entropic_array_api_strict_matches_numpy() -> None:
    params = {"n": 4, "d": 2, "eps": 1.0}
    inst = _decoded(sim.pairs_space, params, count=16)
    ref, strict = sim.evaluate_entropic(params, inst, np), sim.evaluate_entropic(params, inst, xps)
    for key in ref:
        np.testing.assert_allclose(strict[key], ref[key], rtol=1e-12, atol=1e-12)
    assert np.all(ref["bias"] >= -1e-10) and np.all(ref["bias"] <= math.log(4) + 1e-10)
