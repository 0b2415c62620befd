"""The sparse-interpolation solvers (solvers/sparse_interpolation.py) and the paper's simulation: basis pursuit
against cvxpy (CLARABEL) and scipy's HiGHS linear program on random instances, the minimum-l2 interpolator against
numpy's pseudo-inverse, the same code on array-api-strict, bad inputs, and the measure functions."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest

from boundlab.errors import UsageError
from simulations.sparse_benign_overfitting import measure_interpolators, measure_min_l2, sparse_regression
from solvers.sparse_interpolation import basis_pursuit, min_l2_interpolator

SIZES = [(5, 12, 1), (10, 40, 2), (20, 160, 3)]  # (n, d, s)


def _instances(n: int, d: int, s: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = sparse_regression(np.random.default_rng(seed), count, n, d, s, 0.5)
    return X, y


def _cvxpy_bp(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    import cvxpy as cp

    beta = cp.Variable(X.shape[1])
    cp.Problem(cp.Minimize(cp.norm1(beta)), [X @ beta == y]).solve(solver=cp.CLARABEL)
    return np.asarray(beta.value)


def _linprog_bp(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import linprog

    d = X.shape[1]
    res = linprog(np.ones(2 * d), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None), method="highs")
    assert res.status == 0
    return res.x[:d] - res.x[d:]


@pytest.mark.parametrize(("n", "d", "s"), SIZES)
def test_basis_pursuit_against_cvxpy_and_highs(n: int, d: int, s: int) -> None:
    X, y = _instances(n, d, s, 4, seed=n)
    res = basis_pursuit(X, y)
    assert bool(np.all(res.certified))
    np.testing.assert_allclose(np.einsum("rnd,rd->rn", X, res.beta), y, atol=1e-9)  # feasible
    for r in range(X.shape[0]):
        lp = _linprog_bp(X[r], y[r])
        conic = _cvxpy_bp(X[r], y[r])
        # the optimal value: HiGHS is exact to ~1e-9; CLARABEL (interior point, default tolerances ~1e-8) to ~1e-6
        assert abs(np.abs(res.beta[r]).sum() - np.abs(lp).sum()) <= 1e-8 * (1 + np.abs(lp).sum())
        assert abs(np.abs(res.beta[r]).sum() - np.abs(conic).sum()) <= 1e-6 * (1 + np.abs(conic).sum())
        # the minimiser is unique for Gaussian designs: the certified vertex is HiGHS's vertex
        np.testing.assert_allclose(res.beta[r], lp, atol=1e-7)
        np.testing.assert_allclose(res.beta[r], conic, atol=1e-5)


def test_basis_pursuit_recovers_a_sparse_vector_without_noise() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 30, 120))
    beta = np.zeros(120)
    beta[[4, 50, 99]] = [1.5, -2.0, 0.7]
    res = basis_pursuit(X, X @ beta)
    np.testing.assert_allclose(res.beta, np.broadcast_to(beta, (3, 120)), atol=1e-7)


def test_min_l2_against_pseudo_inverse() -> None:
    X, y = _instances(8, 30, 2, 5, seed=1)
    fast = min_l2_interpolator(X, y)
    for r in range(5):
        np.testing.assert_allclose(fast[r], np.linalg.pinv(X[r]) @ y[r], rtol=1e-10, atol=1e-12)


def test_same_code_on_array_api_strict() -> None:
    X, y = _instances(6, 20, 1, 3, seed=2)
    Xs, ys = array_api_strict.asarray(X), array_api_strict.asarray(y)
    np.testing.assert_allclose(np.asarray(min_l2_interpolator(Xs, ys)), min_l2_interpolator(X, y), rtol=1e-12)
    strict = basis_pursuit(Xs, ys)
    np.testing.assert_allclose(np.asarray(strict.beta), basis_pursuit(X, y).beta, atol=1e-10)
    assert bool(np.all(np.asarray(strict.certified)))


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        (np.zeros((4, 5)), np.zeros((4,)), {}, "X must have shape"),
        (np.ones((2, 6, 5)), np.zeros((2, 6)), {}, "under-determined"),
        (np.ones((2, 3, 5)), np.zeros((2, 4)), {}, "y must have shape"),
        (np.full((2, 3, 5), np.nan), np.zeros((2, 3)), {}, "finite"),
        (np.ones((2, 3, 5)), np.zeros((2, 3)), {"tol": 0.0}, "tol must be"),
        (np.ones((2, 3, 5)), np.zeros((2, 3)), {"residual_tol": -1.0}, "residual_tol must be"),
        (np.ones((2, 3, 5)), np.zeros((2, 3)), {"max_iter": 0}, "max_iter must be"),
        (np.ones((2, 3, 5)), np.zeros((2, 3)), {"certificate_tol": float("inf")}, "certificate_tol must be"),
    ],
)
def test_bad_input_is_rejected(X: np.ndarray, y: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        basis_pursuit(X, y, **kwargs)


def test_min_l2_bad_input_is_rejected() -> None:
    with pytest.raises(UsageError, match="under-determined"):
        min_l2_interpolator(np.ones((1, 4, 4)), np.zeros((1, 4)))


def test_measure_functions() -> None:
    out = measure_interpolators({"n": 12, "kappa": 4, "s": 2, "sigma": 1.0}, np.random.default_rng(0), 6, np)
    assert {k: v.shape for k, v in out.items()} == {k: (6,) for k in ("excess_l1", "excess_l2", "certified",
                                                                       "guarantee")}
    assert np.all(out["certified"] == 1.0)
    np.testing.assert_allclose(out["guarantee"], 2 * np.log(48 / 2) / 12)
    # the minimum-l2 interpolator's excess against its closed form (1/2)[(1 - n/d) s + sigma^2 n / (d - n - 1)]
    errors = measure_min_l2({"n": 10, "d": 50, "s": 3, "sigma": 0.8}, np.random.default_rng(1), 20000, np)["excess_l2"]
    expected = 0.5 * ((1 - 10 / 50) * 3 + 0.64 * 10 / 39)
    assert abs(errors.mean() - expected) < 4 * errors.std() / np.sqrt(errors.size)
    with pytest.raises(ValueError, match="s <= d"):
        sparse_regression(np.random.default_rng(0), 2, 5, 10, 11, 1.0)
