"""The diagonal-network solvers (solvers/diagonal_networks.py) and the large-step SGD simulation
(simulations/large_step_sgd_sparse_features.py): basis pursuit (cvxpy, HiGHS) against scipy's linprog (HiGHS) on
the split LP; the minimum-l2 interpolator against numpy's lstsq; batched SGD against a slow per-replicate loop on
the same sample indices; the exact gradient-flow end point against long small-step gradient descent; the step
scale against the exact linear-stability threshold; the measurement on array-api-strict; and bad inputs."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest
import scipy.optimize

from boundlab.errors import UsageError
from simulations.large_step_sgd_sparse_features import measure_schedule, sparse_instances, step_scale
from solvers.diagonal_networks import (
    balanced_gradients,
    basis_pursuit,
    gradient_descent,
    gradient_flow_limit,
    loss,
    min_l2_interpolator,
    sgd,
)
from solvers.linear_stability import threshold


def _linprog_bp(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, d = X.shape
    res = scipy.optimize.linprog(np.ones(2 * d), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None), method="highs")
    assert res.status == 0
    return res.x[:d] - res.x[d:]


def test_basis_pursuit_against_linprog() -> None:
    """Both are HiGHS LPs (one block-diagonal through cvxpy, one per replicate through scipy); the minimiser is
    unique on Gaussian designs, so the solutions agree to the LP's feasibility tolerance (1e-7 allowed)."""
    X, y, beta = sparse_instances(np.random.default_rng(0), 6, 12, 30, 4)   # n = 12: recovery not guaranteed
    B = basis_pursuit(X, y, np)
    for r in range(6):
        ref = _linprog_bp(X[r], y[r])
        np.testing.assert_allclose(B[r], ref, atol=1e-7)
        assert np.sum(np.abs(B[r])) <= np.sum(np.abs(beta[r])) + 1e-9          # beta* is feasible
    np.testing.assert_allclose(np.einsum("rnd,rd->rn", X, B), y, atol=1e-8)


def test_min_l2_against_lstsq() -> None:
    X, y, _ = sparse_instances(np.random.default_rng(1), 4, 10, 25, 3)
    B = min_l2_interpolator(X, y, np)
    for r in range(4):
        np.testing.assert_allclose(B[r], np.linalg.lstsq(X[r], y[r], rcond=None)[0], atol=1e-12)


def _slow_sgd(X: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray, eta: float, rows: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """One replicate, the authors' update written out: error = x_i.(u v) - y_i, u -= eta error x_i v, ..."""
    u, v = u.copy(), v.copy()
    for i in rows:
        error = X[i] @ (u * v) - y[i]
        grad_u, grad_v = error * X[i] * v, error * X[i] * u
        u, v = u - eta * grad_u, v - eta * grad_v
    return u, v


def test_sgd_against_slow_loop() -> None:
    R, n, d = 5, 8, 12
    X, y, _ = sparse_instances(np.random.default_rng(2), R, n, d, 2)
    rows = np.random.default_rng(3).integers(0, n, (R, 700))
    eta = np.linspace(0.05, 0.2, R)
    u0, v0 = 0.1 * np.ones((R, d)), np.zeros((R, d))
    run = sgd(X, y, u0, v0, eta, rows, np, every=100, chunk=64)
    for r in range(R):
        u, v = _slow_sgd(X[r], y[r], u0[r], v0[r], eta[r], rows[r])
        np.testing.assert_allclose(run.u[r], u, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(run.v[r], v, rtol=1e-10, atol=1e-13)
    assert run.record_steps.tolist() == list(range(0, 700, 100)) + [700]
    np.testing.assert_allclose(run.losses[:, -1], loss(X, y, run.u, run.v, np))
    assert not np.any(run.diverged)


def test_sgd_flags_divergence_instead_of_nan() -> None:
    X, y, _ = sparse_instances(np.random.default_rng(4), 3, 8, 12, 2)
    rows = np.random.default_rng(5).integers(0, 8, (3, 300))
    run = sgd(X, y, np.ones((3, 12)), np.ones((3, 12)), np.array([1e-3, 50.0, 1e-3]), rows, np)
    assert run.diverged.tolist() == [False, True, False]
    assert np.all(np.isfinite(run.u))


def test_gradient_flow_limit_against_small_step_gd() -> None:
    """From the initialisation and from an SGD iterate, GD run to a loss of 1e-18 ends within O(step) of the
    Newton solve's flow limit: the gap shrinks four-fold when the step does (measured 3.9x), and the Richardson
    extrapolation (4 beta(step / 4) - beta(step)) / 3 is within 2e-4 of it (measured 9e-3 -> 2.3e-3 gaps)."""
    R, n, d = 4, 10, 20
    X, y, _ = sparse_instances(np.random.default_rng(6), R, n, d, 2)
    u0, v0 = 0.3 * np.ones((R, d)), np.zeros((R, d))
    run = sgd(X, y, u0, v0, 0.05, np.random.default_rng(7).integers(0, n, (R, 200)), np)
    for u, v in ((u0, v0), (run.u, run.v)):
        flow = gradient_flow_limit(X, y, u, v, np)
        np.testing.assert_allclose(np.einsum("rnd,rd->rn", X, flow.beta), y, atol=1e-9)
        coarse, fine = (gradient_descent(X, y, u, v, np, tol=1e-18, scale=sc, max_steps=400000)
                        for sc in (0.2, 0.05))
        gap_coarse = np.max(np.abs(coarse.u * coarse.v - flow.beta))
        gap_fine = np.max(np.abs(fine.u * fine.v - flow.beta))
        assert 3.0 < gap_coarse / gap_fine < 5.0
        richardson = (4 * fine.u * fine.v - coarse.u * coarse.v) / 3
        assert np.max(np.abs(richardson - flow.beta)) < 2e-4


def test_step_scale_against_linear_stability_threshold() -> None:
    """eta_ref is within [1, 1.6] times the exact mean-square threshold (measured 1.02 .. 1.48)."""
    X, y, _ = sparse_instances(np.random.default_rng(9), 8, 20, 40, 3)
    B = basis_pursuit(X, y, np)
    exact = threshold(balanced_gradients(X, B, np), 1, True)
    ratio = step_scale(X, B, np) / exact
    assert np.all(ratio >= 1 - 1e-9) and np.all(ratio <= 1.6)


PARAMS = {"T1": 200, "horizon": 400, "shorter": 4, "n": 12, "d": 24, "s": 2, "alpha": 0.1}


def test_measure_on_array_api_strict() -> None:
    ref = measure_schedule(PARAMS, np.random.default_rng(10), 4, np)
    strict = measure_schedule(PARAMS, np.random.default_rng(10), 4, array_api_strict)
    assert ref.keys() == strict.keys()
    for name in ref:
        np.testing.assert_allclose(strict[name], ref[name], rtol=1e-6, atol=1e-10, err_msg=name)


def test_measure_prefix_runs_agree_across_T1() -> None:
    """Under common random numbers, T1 / shorter at one point is the same run as T1 at another."""
    long = measure_schedule({**PARAMS, "T1": 400}, np.random.default_rng(11), 4, np)
    short = measure_schedule({**PARAMS, "T1": 100}, np.random.default_rng(11), 4, np)
    np.testing.assert_allclose(long["dist_bp_shorter"], short["dist_bp"], rtol=1e-9)
    np.testing.assert_allclose(long["dist_bp_small"], short["dist_bp_small"], rtol=1e-12)


def test_bad_inputs() -> None:
    X, y, _ = sparse_instances(np.random.default_rng(12), 2, 6, 10, 2)
    u, v = np.ones((2, 10)), np.zeros((2, 10))
    rows = np.zeros((2, 5), dtype=int)
    with pytest.raises(UsageError, match="eta"):
        sgd(X, y, u, v, 0.0, rows, np)
    with pytest.raises(UsageError, match="eta"):
        sgd(X, y, u, v, np.array([0.1, np.nan]), rows, np)
    with pytest.raises(UsageError, match="rows must lie"):
        sgd(X, y, u, v, 0.1, rows + 6, np)
    with pytest.raises(UsageError, match="rows must be integer"):
        sgd(X, y, u, v, 0.1, rows.astype(float), np)
    with pytest.raises(UsageError, match="u must have shape"):
        sgd(X, y, np.ones((2, 11)), v, 0.1, rows, np)
    with pytest.raises(UsageError, match="y must have shape"):
        gradient_flow_limit(X, y[:, :-1], u, v, np)
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="X must be finite"):
        min_l2_interpolator(bad, y, np)
    with pytest.raises(UsageError, match="n <= d"):
        min_l2_interpolator(np.ones((1, 5, 3)), np.ones((1, 5)), np)
    with pytest.raises(UsageError, match="scale"):
        gradient_descent(X, y, u, v, np, scale=2.5)
    with pytest.raises(UsageError, match="s <= n < d"):
        sparse_instances(np.random.default_rng(0), 2, 10, 8, 2)
    with pytest.raises(UsageError, match="T1"):
        measure_schedule({**PARAMS, "T1": 800}, np.random.default_rng(0), 2, np)
    with pytest.raises(UsageError, match="alpha"):
        measure_schedule({**PARAMS, "alpha": -1.0}, np.random.default_rng(0), 2, np)
