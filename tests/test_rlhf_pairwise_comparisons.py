"""The batched choice-model MLE (solvers/choice_mle.py) and the RLHF simulations
(simulations/rlhf_pairwise_comparisons.py): the MLE against cvxpy's exponential-cone solve (CLARABEL) for BTL
pairs (interior and on the sphere ||theta|| = B) and Plackett-Luce rankings, all on the unnormalised likelihood;
the ranking decompositions against slow loops; the four-action bandit's policies against their derivation; the
measurements on array-api-strict; and bad inputs."""

from __future__ import annotations

import math

import array_api_compat.numpy as xp_np
import array_api_strict
import cvxpy as cp
import numpy as np
import pytest
import sympy as sp

from boundlab.errors import UsageError
from simulations.rlhf_pairwise_comparisons import (
    ACTIONS,
    THETA_STAR,
    btl_comparisons,
    counterexample_counts,
    measure_btl_error,
    measure_counterexample,
    measure_kwise_error,
    pl_rankings,
    sum_zero_directions,
)
from solvers.choice_mle import (
    choice_nll,
    fit_btl_mle,
    fit_choice_mle,
    ranking_events,
    ranking_pairs,
    sum_zero_basis,
)

CLARABEL = {"solver": "CLARABEL", "tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def _random_btl(seed: int, R: int, m: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta_star = 1.5 * sum_zero_directions(rng, R, d)
    return btl_comparisons(rng, theta_star, m), theta_star


def _cvxpy_btl(x: np.ndarray, w: np.ndarray, radius: float) -> tuple[np.ndarray, float]:
    v = cp.Variable(x.shape[1])
    problem = cp.Problem(cp.Minimize(w @ cp.logistic(-x @ v)), [cp.sum(v) == 0, cp.norm(v) <= radius])
    problem.solve(**CLARABEL)
    return np.asarray(v.value), float(problem.value)


def test_sum_zero_basis_is_orthonormal_and_orthogonal_to_ones() -> None:
    for d in (2, 3, 7):
        U = sum_zero_basis(d)
        np.testing.assert_allclose(U.T @ U, np.eye(d - 1), atol=1e-14)
        np.testing.assert_allclose(np.ones(d) @ U, 0.0, atol=1e-14)


@pytest.mark.parametrize(("m", "d"), [(50, 3), (200, 5)])
def test_btl_mle_against_cvxpy_interior(m: int, d: int) -> None:
    """Interior minimisers (B = 10): ours is at least as good in objective (to 1e-9 relative) and within 1e-4 of
    cvxpy's point (measured: 3e-6 and below; CLARABEL stops at its own gap)."""
    x, _ = _random_btl(m + d, 6, m, d)
    fit = fit_btl_mle(x, radius=10.0, basis=sum_zero_basis(d))
    assert bool(np.all(fit.converged)) and not bool(np.any(fit.on_boundary))
    theta = np.asarray(fit.theta)
    np.testing.assert_allclose(theta.sum(axis=1), 0.0, atol=1e-12)
    for r in range(6):
        ref, value = _cvxpy_btl(x[r], np.ones(m), 10.0)
        assert float(fit.nll[r]) <= value + 1e-9 * (1 + abs(value))
        np.testing.assert_allclose(theta[r], ref, atol=1e-4)


def test_btl_mle_stationary_inside_the_ball() -> None:
    """KKT without an active constraint: the gradient of the NLL, projected on <1, theta> = 0, vanishes."""
    x, _ = _random_btl(3, 4, 300, 4)
    fit = fit_btl_mle(x, radius=10.0, basis=sum_zero_basis(4))
    theta = np.asarray(fit.theta)
    p = 1.0 / (1.0 + np.exp(np.einsum("rmd,rd->rm", x, theta)))       # sigmoid(-x^T theta)
    grad = -np.einsum("rm,rmd->rd", p, x)
    grad -= grad.mean(axis=1, keepdims=True)
    assert np.max(np.abs(grad)) < 1e-8 * 300


def test_btl_mle_on_the_sphere_against_cvxpy() -> None:
    """The four-action bandit's counts at n = 1000: the MLE lies on ||theta|| = B = 2. Objective at least as good
    as cvxpy's and points within 1e-4 (measured 6e-6)."""
    rows = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    x = np.broadcast_to(rows, (4, 4, 3)).copy()
    w = np.array([[600, 399, 1, 0], [600, 399, 0, 1], [999, 0, 1, 0], [0, 999, 0, 1]], float)
    fit = fit_btl_mle(x, w, radius=2.0, basis=sum_zero_basis(3))
    assert bool(np.all(fit.on_boundary)) and bool(np.all(fit.converged))
    theta = np.asarray(fit.theta)
    np.testing.assert_allclose(np.linalg.norm(theta, axis=1), 2.0, rtol=1e-8)
    for r in range(4):
        ref, value = _cvxpy_btl(x[r], w[r], 2.0)
        assert float(fit.nll[r]) <= value + 1e-9 * (1 + abs(value))
        np.testing.assert_allclose(theta[r], ref, atol=1e-4)


def test_plackett_luce_mle_against_cvxpy_log_sum_exp() -> None:
    """MLE_K over Theta_B against cvxpy with one log_sum_exp per choice event (CLARABEL); 1e-4 as above."""
    rng = np.random.default_rng(8)
    d, K, N = 4, 4, 40
    theta_star = sum_zero_directions(rng, 3, d)
    feats, ranks = pl_rankings(rng, theta_star, 50, K)
    feats, ranks = feats[:, :N], ranks[:, :N]
    rivals, mask = ranking_events(feats, ranks)
    fit = fit_choice_mle(rivals, mask=mask, radius=5.0, basis=sum_zero_basis(d))
    theta = np.asarray(fit.theta)
    for r in range(3):
        v = cp.Variable(d)
        terms = [cp.log_sum_exp(cp.hstack([0.0, *[rivals[r, j, k] @ v for k in range(K - 1) if mask[r, j, k]]]))
                 for j in range(rivals.shape[1])]
        problem = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms))), [cp.sum(v) == 0, cp.norm(v) <= 5.0])
        problem.solve(**CLARABEL)
        assert float(fit.nll[r]) <= problem.value + 1e-9 * (1 + abs(problem.value))
        np.testing.assert_allclose(theta[r], v.value, atol=1e-4)


def _pl_loglik_loop(theta: np.ndarray, feats: np.ndarray, ranks: np.ndarray) -> float:
    total = 0.0
    for q in range(feats.shape[0]):
        u = feats[q, ranks[q]] @ theta
        for j in range(len(u) - 1):
            total += u[j] - math.log(np.sum(np.exp(u[j:])))
    return total


def test_ranking_events_give_the_plackett_luce_likelihood() -> None:
    rng = np.random.default_rng(2)
    feats, ranks = pl_rankings(rng, sum_zero_directions(rng, 2, 3), 50, 5)
    rivals, mask = ranking_events(feats, ranks)
    theta = rng.standard_normal((2, 3))
    nll = np.asarray(choice_nll(theta, rivals, mask=mask))
    for r in range(2):
        assert nll[r] == pytest.approx(-_pl_loglik_loop(theta[r], feats[r], ranks[r]), rel=1e-12)


def test_ranking_pairs_are_every_ordered_pair() -> None:
    rng = np.random.default_rng(4)
    feats, ranks = pl_rankings(rng, sum_zero_directions(rng, 1, 3), 50, 4)
    pairs = ranking_pairs(feats, ranks)
    expected = [feats[0, q, ranks[0, q, i]] - feats[0, q, ranks[0, q, j]]
                for q in range(50) for i in range(4) for j in range(i + 1, 4)]
    np.testing.assert_allclose(pairs[0], np.array(expected), atol=1e-15)


def test_separable_data_unconstrained_runs_off_and_the_radius_makes_the_mle_exist() -> None:
    """The same winner every time: without a radius F has no minimiser (the iterates grow until F is within tol of
    its infimum 0); with one the MLE is on the sphere, at the point that maximises the margin."""
    x = np.ones((1, 5, 2))
    free = fit_btl_mle(x)
    assert float(free.nll[0]) < 1e-10 and float(np.linalg.norm(free.theta[0])) > 10.0
    ball = fit_btl_mle(x, radius=1.5)
    assert bool(ball.on_boundary[0]) and bool(ball.converged[0])
    np.testing.assert_allclose(ball.theta[0], [1.5 / math.sqrt(2)] * 2, rtol=1e-8)


def test_four_action_bandit_policies_follow_the_derivation() -> None:
    """Replaying the counts: when a2 beat a3 the MLE picks a1 or a2 (suboptimality >= 1); when a3 won and a1
    beat a2 in most comparisons it picks the optimal a4. The pessimistic policy never picks a1 or a2."""
    params = {"n": 1000, "B": 2.0, "delta": 0.05}
    out = measure_counterexample(params, np.random.default_rng(11), 400, xp_np)
    k, y = counterexample_counts(np.random.default_rng(11), 400, 1000)
    assert np.all(out["subopt_mle"][y == 1] >= 1.0 - 1e-12)
    majority = (y == 0) & (k > 999 / 2)
    np.testing.assert_array_equal(out["subopt_mle"][majority], 0.0)
    assert set(np.round(out["subopt_pe"], 12)) <= {0.0, 0.1}
    r = ACTIONS @ THETA_STAR
    np.testing.assert_allclose(r, [-0.9, -1.0, 0.0, 0.1])


def test_pessimism_bound_matches_the_theorem_module_expression() -> None:
    from theorems.rlhf_pairwise_comparisons import RADIUS, B, delta, n

    for N in (100, 10**5):
        out = measure_counterexample({"n": N, "B": 2.0, "delta": 0.05}, np.random.default_rng(0), 4, xp_np)
        expected = float((2 * RADIUS).subs({n: N, B: 2.0, delta: 0.05}).evalf())
        np.testing.assert_allclose(out["pe_bound"], expected, rtol=1e-12)
    assert isinstance(RADIUS, sp.Expr)


@pytest.mark.parametrize(("measure", "params"), [
    (measure_btl_error, {"n": 100, "d": 4, "B": 3.0}),
    (measure_kwise_error, {"n": 50, "d": 3, "K": 3, "B": 3.0}),
    (measure_counterexample, {"n": 1000, "B": 2.0, "delta": 0.05}),
])
def test_measurements_on_array_api_strict(measure, params) -> None:
    ref = measure(params, np.random.default_rng(5), 6, xp_np)
    strict = measure(params, np.random.default_rng(5), 6, array_api_strict)
    assert ref.keys() == strict.keys()
    for key in ref:
        np.testing.assert_allclose(strict[key], ref[key], rtol=1e-9, atol=1e-12)


def test_bad_inputs_are_usage_errors() -> None:
    x, _ = _random_btl(0, 2, 50, 3)
    U = sum_zero_basis(3)
    with pytest.raises(UsageError, match="differences must be a 3-D"):
        fit_btl_mle(x[0])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="rivals must be finite"):
        fit_btl_mle(bad)
    with pytest.raises(UsageError, match="weights must be >= 0"):
        fit_btl_mle(x, -np.ones((2, 50)))
    with pytest.raises(UsageError, match="weights must have shape"):
        fit_btl_mle(x, np.ones((2, 49)))
    for radius in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(UsageError, match="radius must be a finite number > 0"):
            fit_btl_mle(x, radius=radius)
    with pytest.raises(UsageError, match="basis must have orthonormal columns"):
        fit_btl_mle(x, basis=2.0 * U)
    with pytest.raises(UsageError, match="basis must have shape"):
        fit_btl_mle(x, basis=np.eye(4)[:, :2])
    with pytest.raises(UsageError, match="tol must be a finite number > 0"):
        fit_btl_mle(x, tol=0.0)
    with pytest.raises(UsageError, match="max_iter must be an integer >= 1"):
        fit_btl_mle(x, max_iter=0)
    with pytest.raises(UsageError, match="mask must be a boolean array"):
        fit_choice_mle(-x[:, :, None, :], mask=np.ones((2, 50, 1)))
    with pytest.raises(UsageError, match="d must be an integer >= 2"):
        sum_zero_basis(1)
    feats = np.zeros((1, 2, 3, 2))
    with pytest.raises(UsageError, match="rankings must be permutations"):
        ranking_events(feats, np.array([[[0, 0, 1], [0, 1, 2]]]))
    with pytest.raises(UsageError, match="rankings must be an integer array"):
        ranking_pairs(feats, np.zeros((1, 2, 3)))
    with pytest.raises(UsageError, match="theta must have shape"):
        choice_nll(np.zeros((2, 4)), -x[:, :, None, :])
