"""solvers.inverse_ot against independent references: cvxpy (CLARABEL, exponential cones) on the joint convex
program in (A, f, g); finite differences of the reduced loss's gradient for the Hessian and the precertificate; a
slow per-instance loop for the batch; bad inputs; array-api-strict; and the paper's measurement functions."""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import pytest

from boundlab.errors import UsageError
from simulations import inverse_ot_sparsistency as sim
from solvers import inverse_ot as iot


def _problem(seed: int, N: int, d: int, count: int, n: int, eps: float = 1.0):
    """Random points, a sparse A*, and ``count`` empirical couplings of n samples of Sink(c_{A*}, eps)."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((N, d)), rng.standard_normal((N, d))
    C = iot.bilinear_features(x, y)
    A = np.zeros(d * d)
    A[0], A[-1] = 0.8, -0.6
    a = np.full(N, 1.0 / N)
    pi = iot.entropic_plan(A, C, a, a, eps)[0]
    counts = rng.multinomial(n, pi.ravel(), size=count).reshape(count, N, N) / n
    return C, A, a, pi, counts


@pytest.mark.parametrize("N,d", [(8, 2), (12, 3)])
def test_solver_matches_cvxpy(N: int, d: int) -> None:
    C, _, _, _, counts = _problem(1, N, d, 3, 5000)
    counts = counts + 1e-4   # positive marginals, as the reference's f, g need
    counts /= counts.sum(axis=(1, 2), keepdims=True)
    for lam in (0.01, 0.05):
        res = iot.solve_l1_iot(counts, C, 1.0, lam, tol=1e-10)
        assert bool(np.all(res.converged))
        for i in range(3):
            A_ref, value = iot.iot_cvxpy(counts[i], C, 1.0, lam)
            # CLARABEL at 1e-10; our KKT residual 1e-10: measured agreement below 1e-6 on A
            assert np.max(np.abs(res.A[i] - A_ref)) <= 1e-5
            assert abs(float(res.objective[i]) - value) <= 1e-8 * (1 + abs(value))


def test_sinkhorn_marginals_and_warm_start() -> None:
    C, A, a, _, counts = _problem(2, 10, 2, 4, 3000)
    cost = np.tensordot(np.tile(A, (4, 1)), C, axes=1)
    ra, rb = counts.sum(axis=2), counts.sum(axis=1)
    f, g, plan = iot.sinkhorn_log(cost, ra, rb, 0.5, tol=1e-13)
    assert np.max(np.abs(plan.sum(axis=2) - ra).sum(axis=1)) <= 1e-13
    assert np.max(np.abs(plan.sum(axis=1) - rb)) <= 1e-15 * 10
    f2, g2, plan2 = iot.sinkhorn_log(cost, ra, rb, 0.5, f0=f, g0=g, tol=1e-13)
    assert np.max(np.abs(plan2 - plan)) <= 1e-12


def test_hessian_and_precertificate_against_finite_differences() -> None:
    C, A, a, _, _ = _problem(3, 10, 2, 1, 100)
    eps, h = 0.7, 1e-5
    H = iot.reduced_hessian(A, C, a, a, eps)

    def moments(At: np.ndarray) -> np.ndarray:   # grad L(A) = const - <C, Sink(c_A)>
        plan = iot.entropic_plan(At, C, a, a, eps, tol=1e-14)[0]
        return -np.tensordot(C, plan, axes=([1, 2], [0, 1]))

    K = A.shape[0]
    H_fd = np.stack([(moments(A + h * np.eye(K)[k]) - moments(A - h * np.eye(K)[k])) / (2 * h) for k in range(K)],
                    axis=1)
    # central differences: error O(h^2) plus Sinkhorn error / h (1e-14 / 1e-5): measured about 1e-9
    assert np.max(np.abs(H - H_fd)) <= 1e-6 * (1 + np.max(np.abs(H)))
    S = A != 0
    z = iot.precertificate(A, C, a, a, eps)
    z_fd = H_fd[:, S] @ np.linalg.solve(H_fd[np.ix_(S, S)], np.sign(A[S]))
    assert np.allclose(z[S], np.sign(A[S]), atol=1e-10)
    assert np.max(np.abs(z - z_fd)) <= 1e-5


def test_batch_matches_per_instance_loop() -> None:
    C, _, _, _, counts = _problem(4, 10, 2, 5, 2000)
    lam = np.array([0.01, 0.02, 0.05, 0.1, 0.2])
    batch = iot.solve_l1_iot(counts, C, 1.0, lam, tol=1e-10)
    for i in range(5):
        one = iot.solve_l1_iot(counts[i:i + 1], C, 1.0, float(lam[i]), tol=1e-10)
        # the same iterations up to the inner tolerance schedule, which depends on the batch: both at KKT 1e-10
        assert np.max(np.abs(one.A[0] - batch.A[i])) <= 1e-7
        assert np.array_equal(np.sign(one.A[0]), np.sign(batch.A[i]))


def test_population_recovery_and_failure_on_the_design() -> None:
    P = {"N": 12, "seed": 0, "eps": 1.0, "rho_good": 0.0, "rho_bad": 0.9}
    out = sim.evaluate_population(P, {"log_lambda": np.array([[-2.0], [-1.2]])}, np)
    assert np.all(out["miss_good"] == 0) and np.all(out["miss_bad"] == 1)
    assert out["ic_good"][0] < 1 < out["ic_bad"][0]


def test_array_api_strict_matches_numpy() -> None:
    C, _, _, _, counts = _problem(5, 8, 2, 2, 2000)
    ref = iot.solve_l1_iot(counts, C, 1.0, 0.03, tol=1e-9)
    res = iot.solve_l1_iot(xps.asarray(counts), xps.asarray(C), 1.0, 0.03, tol=1e-9)
    assert np.max(np.abs(np.asarray(res.A) - ref.A)) <= 1e-9
    z = iot.precertificate(xps.asarray(np.array([0.8, 0, 0, -0.6])), xps.asarray(C), xps.asarray(np.full(8, 1 / 8)),
                           xps.asarray(np.full(8, 1 / 8)), 1.0)
    z_np = iot.precertificate(np.array([0.8, 0, 0, -0.6]), C, np.full(8, 1 / 8), np.full(8, 1 / 8), 1.0)
    assert np.max(np.abs(np.asarray(z) - z_np)) <= 1e-10


def test_bad_inputs_name_the_parameter() -> None:
    C, A, a, _, counts = _problem(6, 8, 2, 2, 500)
    with pytest.raises(UsageError, match="eps"):
        iot.solve_l1_iot(counts, C, 0.0, 0.1)
    with pytest.raises(UsageError, match="lam"):
        iot.solve_l1_iot(counts, C, 1.0, -0.1)
    with pytest.raises(UsageError, match="lam"):
        iot.solve_l1_iot(counts, C, 1.0, np.array([0.1, 0.1, 0.1]))
    with pytest.raises(UsageError, match="pi_hat"):
        iot.solve_l1_iot(counts * 2, C, 1.0, 0.1)
    bad = counts.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="pi_hat"):
        iot.solve_l1_iot(bad, C, 1.0, 0.1)
    with pytest.raises(UsageError, match="pi_hat"):
        iot.solve_l1_iot(counts[:, :4, :], C, 1.0, 0.1)
    with pytest.raises(UsageError, match="C"):
        iot.solve_l1_iot(counts, C[0], 1.0, 0.1)
    with pytest.raises(UsageError, match="tol"):
        iot.solve_l1_iot(counts, C, 1.0, 0.1, tol=0)
    with pytest.raises(UsageError, match="max_iter"):
        iot.solve_l1_iot(counts, C, 1.0, 0.1, max_iter=0)
    with pytest.raises(UsageError, match="b"):
        iot.sinkhorn_log(np.zeros((1, 8, 8)), a, a * 2, 1.0)
    with pytest.raises(UsageError, match="A_star"):
        iot.precertificate(np.zeros_like(A), C, a, a, 1.0)


def test_measure_recovery_is_batched_and_reports_the_condition() -> None:
    P = {"N": 12, "seed": 0, "eps": 1.0, "rho": 0.0, "n": 1000, "c": 3.0}
    out = sim.measure_recovery(P, np.random.default_rng(0), 16, np)
    assert out["Q"].shape == (16,) and np.all((out["Q"] >= 0) & (out["Q"] <= 1))
    assert np.all(out["converged"] == 1)
    degenerate = sim.measure_recovery({**P, "rho": 0.9}, np.random.default_rng(0), 4, np)
    assert np.all(np.isnan(degenerate["Q"]))   # the claim's condition fails there: no verdict from it
