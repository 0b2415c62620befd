"""The continual max-margin simulation (simulations/continual_max_margin.py) and the polyhedral projection
(solvers/polyhedral_projection.py): the interior-point projection against cvxpy (CLARABEL), scipy SLSQP and the
closed form of a halfspace projection; the batched Newton solver of the regularised tasks against cvxpy's
exponential-cone solve (moderate lam) and scipy BFGS on an independently written scaled objective (tiny lam); the
whole measurement on array-api-strict; and bad inputs."""

from __future__ import annotations

import math

import array_api_strict
import cvxpy as cp
import numpy as np
import pytest
import scipy.optimize

from boundlab.errors import UsageError
from simulations.continual_max_margin import (
    measure_limit,
    regularised_continual,
    regularised_continual_unscaled,
    samplewise_projections,
    sequential_max_margin,
    task_max_margin,
    task_sequences,
)
from solvers.polyhedral_projection import ProjectionError, project_onto_halfspace, project_onto_polyhedron

PARAMS = {"T": 3, "n_t": 6, "d": 4, "gamma": 0.2, "lam": 1e-16}


def _cvxpy_projection(A: np.ndarray, w0: np.ndarray, b: float) -> np.ndarray:
    w = cp.Variable(w0.size)
    cp.Problem(cp.Minimize(cp.sum_squares(w - w0)), [A @ w >= b]).solve(
        solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return np.asarray(w.value)


@pytest.mark.parametrize("n", [1, 3, 12])
def test_projection_against_cvxpy_clarabel(n: int) -> None:
    rng = np.random.default_rng(n)
    A = task_sequences(rng, 8, 1, n, 5)[:, 0]                      # separable rows: a nonempty polyhedron
    w0 = 2.0 * rng.standard_normal((8, 5))
    w = project_onto_polyhedron(A, w0, 1.0)
    for i in range(8):
        np.testing.assert_allclose(w[i], _cvxpy_projection(A[i], w0[i], 1.0), rtol=0, atol=1e-7)


def test_projection_against_scipy_slsqp_and_kkt() -> None:
    rng = np.random.default_rng(7)
    A = task_sequences(rng, 4, 1, 9, 4)[:, 0]
    w0 = rng.standard_normal((4, 4))
    w = project_onto_polyhedron(A, w0, 1.0)
    for i in range(4):
        res = scipy.optimize.minimize(lambda v, i=i: 0.5 * np.sum((v - w0[i]) ** 2), w0[i],
                                      jac=lambda v, i=i: v - w0[i],
                                      constraints=[{"type": "ineq", "fun": lambda v, i=i: A[i] @ v - 1.0,
                                                    "jac": lambda v, i=i: A[i]}],
                                      method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
        np.testing.assert_allclose(w[i], res.x, atol=1e-6)
        assert np.min(A[i] @ w[i]) >= 1.0 - 1e-9                  # feasible


def test_projection_onto_one_halfspace_is_the_closed_form() -> None:
    rng = np.random.default_rng(3)
    a, w0 = rng.standard_normal((10, 6)), rng.standard_normal((10, 6))
    b = np.where(rng.random(10) < 0.5, 5.0, -5.0)                 # some already feasible, some not
    closed = w0 + np.maximum(b - np.sum(a * w0, axis=1), 0)[:, None] / np.sum(a * a, axis=1)[:, None] * a
    w = project_onto_polyhedron(a[:, None, :], w0, b[:, None])
    np.testing.assert_allclose(w, closed, atol=1e-10)
    np.testing.assert_allclose(project_onto_halfspace(a, w0, 1.0),
                               project_onto_polyhedron(a[:, None, :], w0, 1.0), atol=1e-10)


def test_sequential_max_margin_against_a_cvxpy_loop_and_homogeneity() -> None:
    A = task_sequences(np.random.default_rng(11), 3, 3, 7, 5)
    smm = sequential_max_margin(A)
    for r in range(3):
        w = np.zeros(5)
        for t in range(3):
            w = _cvxpy_projection(A[r, t], w, 1.0)
            np.testing.assert_allclose(smm[r, t], w, atol=1e-6)
    np.testing.assert_allclose(sequential_max_margin(A, margin=1.1), 1.1 * smm, atol=1e-9)
    np.testing.assert_allclose(task_max_margin(A)[:, 0], smm[:, 0], atol=1e-9)  # task 1 starts from 0 in both


def test_samplewise_pocs_equals_smm_with_one_sample_per_task() -> None:
    A = task_sequences(np.random.default_rng(4), 5, 4, 1, 3)
    np.testing.assert_allclose(samplewise_projections(A), sequential_max_margin(A), atol=1e-9)


def _original_objective(A: np.ndarray, prev: np.ndarray, lam: float, w: np.ndarray) -> float:
    return float(np.sum(np.logaddexp(0.0, -A @ w)) + lam / 2 * np.sum((w - prev) ** 2))


@pytest.mark.parametrize("lam", [0.1, 1e-2, 1e-4])
def test_regularised_tasks_against_cvxpy_exponential_cone(lam: float) -> None:
    """Task by task from our previous iterate, cvxpy (CLARABEL, exponential cone) solves the same problem. Ours must
    be at least as good, and within the distance that cvxpy's optimality gap allows by lam-strong convexity:
    ||w - w*||^2 <= 2 (f(w_cvxpy) - f(w*)) / lam (a gap of 1e-10 allows 1.4e-3 at lam = 1e-4)."""
    A = task_sequences(np.random.default_rng(5), 3, 3, 6, 4)
    w = regularised_continual_unscaled(A, lam)
    for r in range(3):
        for t in range(3):
            prev = w[r, t - 1] if t else np.zeros(4)
            v = cp.Variable(4)
            objective = cp.sum(cp.logistic(-A[r, t] @ v)) + lam / 2 * cp.sum_squares(v - prev)
            cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10,
                                                     tol_feas=1e-10)
            ours = _original_objective(A[r, t], prev, lam, w[r, t])
            theirs = _original_objective(A[r, t], prev, lam, np.asarray(v.value))
            assert ours <= theirs + 1e-12 * (1 + abs(theirs))
            allowed = math.sqrt(2 * max(theirs - ours, 0.0) / lam) + 1e-7
            assert np.linalg.norm(w[r, t] - v.value) <= allowed
            np.testing.assert_allclose(w[r, t], v.value, atol=2e-3)


def _independent_scaled_objective(A: np.ndarray, u_prev: np.ndarray, L: float):
    """F_L(u) = sum_i e^L log(1 + e^{-L a_i.u}) / L^2 + ||u - u_prev||^2 / 2, written directly (valid near the
    minimiser, where every margin is positive), with its gradient."""
    def f(u: np.ndarray) -> float:
        m = A @ u
        return float(np.sum(np.exp(L + np.log(np.log1p(np.exp(-L * m))) - 2 * np.log(L)))
                     + 0.5 * np.sum((u - u_prev) ** 2))

    def g(u: np.ndarray) -> np.ndarray:
        m = A @ u
        weight = np.exp(L - L * m - np.log1p(np.exp(-L * m))) / L    # e^L sigma(-L m) / L
        return -(weight @ A) + (u - u_prev)
    return f, g


@pytest.mark.parametrize("lam", [1e-8, 1e-32])
def test_regularised_tasks_at_tiny_lambda_against_scipy_bfgs(lam: float) -> None:
    A = task_sequences(np.random.default_rng(6), 4, 3, 6, 4)
    u = regularised_continual(A, lam)
    L = math.log(1 / lam)
    smm = sequential_max_margin(A)
    for r in range(4):
        for t in range(3):
            prev = u[r, t - 1] if t else np.zeros(4)
            f, g = _independent_scaled_objective(A[r, t], prev, L)
            start = smm[r, t] * (1 + 1.0 / L)                         # strictly feasible start, not our answer
            res = scipy.optimize.minimize(f, start, jac=g, method="BFGS", options={"gtol": 1e-11, "maxiter": 5000})
            np.testing.assert_allclose(u[r, t], res.x, atol=1e-6)


def test_unscaled_solution_is_stationary_for_the_original_objective() -> None:
    lam = 1e-8
    A = task_sequences(np.random.default_rng(9), 5, 2, 8, 5)
    w = regularised_continual_unscaled(A, lam)
    prev = np.zeros((5, 5))
    for t in range(2):
        m = np.einsum("rnd,rd->rn", A[:, t], w[:, t])
        grad = -np.einsum("rn,rnd->rd", 1 / (1 + np.exp(m)), A[:, t]) + lam * (w[:, t] - prev)
        scale = np.einsum("rn,rnd->rd", 1 / (1 + np.exp(m)), np.abs(A[:, t]))
        assert np.all(np.abs(grad) <= 1e-8 * scale + 1e-20)
        prev = w[:, t]


def test_same_code_on_array_api_strict() -> None:
    strict = measure_limit(PARAMS, np.random.default_rng(2), 4, array_api_strict)
    plain = measure_limit(PARAMS, np.random.default_rng(2), 4, np)
    assert set(strict) == set(plain)
    for name in plain:
        np.testing.assert_allclose(strict[name], plain[name], rtol=1e-10)


def test_bad_inputs_are_rejected() -> None:
    A = task_sequences(np.random.default_rng(0), 2, 2, 3, 3)
    for bad in (0.0, -1e-3, 1.0, 2.0, float("nan")):
        with pytest.raises(UsageError, match="lam"):
            regularised_continual(A, bad)
    with pytest.raises(UsageError, match="A must have shape"):
        regularised_continual(A[0], 1e-3)
    nan = A.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="finite"):
        regularised_continual(nan, 1e-3)
    with pytest.raises(UsageError, match="max_iter"):
        regularised_continual(A, 1e-3, max_iter=0)
    with pytest.raises(UsageError, match="margin"):
        sequential_max_margin(A, margin=0.0)
    with pytest.raises(UsageError, match="w0 must have shape"):
        project_onto_polyhedron(A[:, 0], np.zeros((2, 4)))
    with pytest.raises(UsageError, match="b must be"):
        project_onto_polyhedron(A[:, 0], np.zeros((2, 3)), np.ones((2, 5)))
    with pytest.raises(UsageError, match="tol"):
        project_onto_polyhedron(A[:, 0], np.zeros((2, 3)), tol=0.0)
    with pytest.raises(UsageError, match="nonzero"):
        project_onto_halfspace(np.zeros((1, 3)), np.zeros((1, 3)))
    for name, kwargs in (("replicates", {"replicates": 0}), ("tasks", {"tasks": 1.5}), ("gamma", {"gamma": -1.0})):
        args = {"replicates": 2, "tasks": 2, "per_task": 3, "d": 3, **kwargs}
        with pytest.raises(UsageError, match=name):
            task_sequences(np.random.default_rng(0), args["replicates"], args["tasks"], args["per_task"], args["d"],
                           **({"gamma": args["gamma"]} if "gamma" in args else {}))


def test_an_empty_polyhedron_raises() -> None:
    a = np.array([[[1.0, 0.0], [-1.0, 0.0]]])                      # w_1 >= 1 and -w_1 >= 1
    with pytest.raises(ProjectionError, match="empty polyhedron"):
        project_onto_polyhedron(a, np.zeros((1, 2)), 1.0, max_iter=100)
