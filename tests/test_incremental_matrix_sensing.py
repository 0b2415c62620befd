"""The matrix-sensing solvers (solvers/matrix_sensing.py) and the incremental-learning simulation
(simulations/incremental_matrix_sensing.py): the symmetric-coordinate Gram operator against the explicit
1/(2m) loss and finite differences; batched GD against a slow per-replicate loop on the explicit measurement
matrices, and its early phase against the linearised factor (1 + 2 eta mu_k); the Wishart Gram sampler's moments;
the best rank-k solver against scipy L-BFGS-B from many random starts; the minimum-Frobenius solution against
numpy's lstsq; the nuclear-norm certificate against cvxpy (CLARABEL, and SCS) with cvxpy's answer checked by its
duality gap; every measure function on array-api-strict; and bad inputs."""

from __future__ import annotations

import math

import array_api_strict
import cvxpy as cp
import numpy as np
import pytest
import scipy.optimize

from boundlab.errors import UsageError
from simulations.incremental_matrix_sensing import (
    gaussian_measurements,
    ground_truth,
    initial_factor,
    measure_nuclear,
    measure_plateau_times,
    measure_plateaus,
    wishart_gram,
)
from solvers.matrix_sensing import (
    best_rank_k,
    from_coordinates,
    gradient_descent,
    gram_operator,
    min_frobenius_solution,
    nuclear_norm_certificate,
    snapshots,
    sym_basis,
    to_coordinates,
)

LAM = np.array([3.0, 1.5, 0.75])


def _instance(seed: int, R: int, m: int, d: int, lam: np.ndarray = LAM
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    V, Xs = ground_truth(rng, R, d, lam)
    A = gaussian_measurements(rng, R, m, d)
    return V, Xs, A, np.einsum("rmij,rij->rm", A, Xs)


def _explicit_loss(U: np.ndarray, A: np.ndarray, y: np.ndarray) -> float:
    """1/(2m) sum_i (<A_i, U U^T> - y_i)^2 for one replicate, written out."""
    X = U @ U.T
    return sum((np.sum(Ai * X) - yi) ** 2 for Ai, yi in zip(A, y, strict=True)) / (2 * len(y))


def test_sym_basis_is_orthonormal_and_coordinates_invert() -> None:
    d = 5
    E = sym_basis(d).reshape(-1, d * d)
    np.testing.assert_allclose(E @ E.T, np.eye(d * (d + 1) // 2), atol=1e-14)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, d, d))
    X = X + np.swapaxes(X, 1, 2)
    Y = rng.standard_normal((3, d, d))
    Y = Y + np.swapaxes(Y, 1, 2)
    np.testing.assert_allclose(from_coordinates(to_coordinates(X, np), d, np), X, atol=1e-13)
    np.testing.assert_allclose(np.sum(to_coordinates(X, np) * to_coordinates(Y, np), axis=1),
                               np.sum(X * Y, axis=(1, 2)), rtol=1e-13)


def test_symmetrised_gaussian_coordinates_are_standard_normal() -> None:
    """The coordinates of (G + G^T) / 2 have identity covariance, so their Gram matrix is Wishart(m, I) / m."""
    n, d = 40000, 3
    a = to_coordinates(gaussian_measurements(np.random.default_rng(1), 1, n, d)[0], np)
    cov = a.T @ a / n
    np.testing.assert_allclose(cov, np.eye(6), atol=5 * math.sqrt(2 / n))     # ~5 standard errors


def test_wishart_gram_moments() -> None:
    """E H = I and Var H_ij = (1 + [i = j]) / m for Wishart(m, I) / m."""
    R, D, m = 20000, 4, 12
    H = wishart_gram(np.random.default_rng(2), R, D, m)
    se_mean = np.sqrt((1 + np.eye(D)) / m / R)
    assert np.all(np.abs(H.mean(0) - np.eye(D)) < 5 * se_mean)
    np.testing.assert_allclose(H.var(0), (1 + np.eye(D)) / m, rtol=0.06)        # 6% ~ 5 SE of a variance at R=2e4
    np.testing.assert_allclose(H, np.swapaxes(H, 1, 2), atol=0)


def test_gram_operator_gives_the_explicit_loss_and_its_gradient() -> None:
    d, m = 4, 15
    _, Xs, A, y = _instance(3, 2, m, d)
    H = gram_operator(A, np)
    U = np.random.default_rng(4).standard_normal((2, d, 3))
    for r in range(2):
        x = to_coordinates((U[r] @ U[r].T - Xs[r])[None], np)[0]
        assert 0.5 * x @ H[r] @ x == pytest.approx(_explicit_loss(U[r], A[r], y[r]), rel=1e-12)
        # grad f(U) = 2 (H : (U U^T - X*)) U against central differences of the explicit loss
        G = 2 * from_coordinates((H[r] @ x)[None], d, np)[0] @ U[r]
        h = 1e-6
        fd = np.zeros_like(U[r])
        for i in range(d):
            for j in range(3):
                E = np.zeros_like(U[r])
                E[i, j] = h
                fd[i, j] = (_explicit_loss(U[r] + E, A[r], y[r]) - _explicit_loss(U[r] - E, A[r], y[r])) / (2 * h)
        np.testing.assert_allclose(G, fd, rtol=1e-7, atol=1e-8)


def _slow_gd(A: np.ndarray, y: np.ndarray, U0: np.ndarray, eta: float, steps: int, thr: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """One replicate, explicit measurement matrices: U <- U - eta (1/m) sum_i r_i (A_i + A_i^T) U, and the first
    (log-interpolated) crossing of each eigenvalue of U U^T."""
    U, m = U0.copy(), len(y)
    times = np.full(len(thr), np.nan)
    prev = None
    for t in range(steps + 1):
        ev = np.sort(np.linalg.eigvalsh(U @ U.T))[::-1][: len(thr)]
        if prev is not None:
            for k in range(len(thr)):
                if np.isnan(times[k]) and prev[k] <= thr[k] < ev[k]:
                    times[k] = t - 1 + (math.log(thr[k]) - math.log(prev[k])) / (math.log(ev[k]) - math.log(prev[k]))
        prev = np.maximum(ev, 1e-300)
        if t == steps:
            break
        res = np.array([np.sum(Ai * (U @ U.T)) - yi for Ai, yi in zip(A, y, strict=True)])
        grad = sum(ri * (Ai + Ai.T) for ri, Ai in zip(res, A, strict=True)) @ U / m
        U = U - eta * grad
    return U, times


def test_gradient_descent_against_slow_loop() -> None:
    d, m, R, eta, steps = 5, 40, 3, 0.05, 160
    _, Xs, A, y = _instance(5, R, m, d)
    U0 = 1e-3 * initial_factor(np.random.default_rng(6), R, d, 4)
    thr = LAM / 2
    run = gradient_descent(gram_operator(A, np), Xs, U0, eta, steps, thr, np)
    for r in range(R):
        U, times = _slow_gd(A[r], y[r], U0[r], eta, steps, thr)
        np.testing.assert_allclose(run.U[r], U, atol=1e-10)
        np.testing.assert_allclose(run.times[r], times, atol=1e-8)
    assert np.all(np.isfinite(run.times[:, :2]))                                  # two plateaus reached


def test_early_phase_is_the_linearised_factor() -> None:
    """From alpha = 1e-12, 60 steps of GD equal (I + 2 eta M)^60 U_0, M = H : X*, to relative 1e-9."""
    d, m, eta = 6, 200, 0.03
    _, Xs, A, y = _instance(7, 2, m, d)
    H = gram_operator(A, np)
    U0 = 1e-12 * initial_factor(np.random.default_rng(8), 2, d, 3)
    run = gradient_descent(H, Xs, U0, eta, 60, None, np)
    M = from_coordinates(np.einsum("rij,rj->ri", H, to_coordinates(Xs, np)), d, np)
    lin = np.linalg.matrix_power(np.eye(d) + 2 * eta * M, 60) @ U0
    np.testing.assert_allclose(run.U, lin, rtol=1e-9, atol=0)


def test_snapshots_pick_the_floor_step() -> None:
    X = [np.full((2, 1, 1), float(t)) for t in range(5)]
    out = snapshots(X, np.array([2.7, 9.0]), np)
    assert out[:, 0, 0].tolist() == [2.0, 4.0]


@pytest.mark.parametrize("k", [1, 2])
def test_best_rank_k_against_scipy_multistart(k: int) -> None:
    d, m = 4, 25
    V, Xs, A, y = _instance(9 + k, 2, m, d)
    H = gram_operator(A, np)
    X, gn = best_rank_k(H, Xs, V[:, :, :k] * np.sqrt(LAM[:k]), np)
    assert np.all(gn <= 1e-11)
    rng = np.random.default_rng(11)
    for r in range(2):
        ours = _explicit_loss(_factor(X[r], k), A[r], y[r])
        best = math.inf
        for _ in range(20):
            res = scipy.optimize.minimize(lambda u, r=r: _explicit_loss(u.reshape(d, k), A[r], y[r]),
                                          rng.standard_normal(d * k), method="L-BFGS-B",
                                          options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
            best = min(best, res.fun)
        assert ours <= best + 1e-9                                               # no start does better


def _factor(X: np.ndarray, k: int) -> np.ndarray:
    w, v = np.linalg.eigh(X)
    return v[:, -k:] * np.sqrt(np.maximum(w[-k:], 0))


def test_min_frobenius_against_lstsq() -> None:
    d, m = 5, 9
    _, Xs, A, y = _instance(12, 3, m, d)
    X = min_frobenius_solution(A, y, np)
    for r in range(3):
        a = to_coordinates(A[r], np)
        x = np.linalg.lstsq(a, y[r], rcond=None)[0]                             # minimum-norm solution
        np.testing.assert_allclose(to_coordinates(X[r][None], np)[0], x, atol=1e-10)


def _cvxpy_min_trace(A: np.ndarray, y: np.ndarray, solver: str, **opts: float) -> tuple[np.ndarray, float, float]:
    """min tr X s.t. <A_i, X> = y_i, X PSD: the solution, its trace and the dual objective y^T nu."""
    d = A.shape[1]
    X = cp.Variable((d, d), PSD=True)
    flat = A.reshape(len(y), -1)
    cons = [flat @ cp.vec(X, order="C") == y]
    prob = cp.Problem(cp.Minimize(cp.trace(X)), cons)
    prob.solve(solver=solver, **opts)
    nu = np.asarray(cons[0].dual_value)
    return np.asarray(X.value), float(np.trace(X.value)), float(-y @ nu)  # cvxpy: L = f + nu^T (A x - y)


def test_certificate_against_cvxpy_clarabel() -> None:
    """Whenever the certificate is < 1, cvxpy's minimum-trace PSD solution is X*; cvxpy's own answer is checked by
    its duality gap and feasibility. The instances straddle the recovery threshold, so both outcomes occur."""
    d, m, R = 6, 16, 12
    V, Xs, A, y = _instance(13, R, m, d, lam=np.array([2.0, 1.0]))
    cert = nuclear_norm_certificate(A, V, np)
    assert np.any(cert < 1) and np.any(cert >= 1)
    for r in range(R):
        X, trace, dual = _cvxpy_min_trace(A[r], y[r], "CLARABEL", tol_gap_abs=1e-9, tol_gap_rel=1e-9,
                                          tol_feas=1e-9)
        # CLARABEL at tolerance 1e-9: gaps, infeasibilities and negative eigenvalues of order 1e-8 were measured
        assert abs(trace - dual) <= 1e-7 * max(1.0, trace)                      # zero duality gap: optimal
        assert np.linalg.eigvalsh(X)[0] >= -1e-7
        np.testing.assert_allclose(A[r].reshape(m, -1) @ X.ravel(), y[r], atol=1e-7)
        assert trace <= np.trace(Xs[r]) + 1e-7                                   # X* is feasible
        if cert[r] < 1:
            np.testing.assert_allclose(X, Xs[r], atol=1e-6)


def test_certificate_against_cvxpy_scs() -> None:
    d, m = 6, 20
    V, Xs, A, y = _instance(14, 3, m, d, lam=np.array([2.0, 1.0]))
    cert = nuclear_norm_certificate(A, V, np)
    assert np.any(cert < 1)
    for r in np.flatnonzero(cert < 1):
        X, _, _ = _cvxpy_min_trace(A[r], y[r], "SCS", eps=1e-9, max_iters=200000)
        np.testing.assert_allclose(X, Xs[r], atol=1e-4)                          # SCS: first-order, looser


SMALL = {"r": 2, "lam_top": 2.0, "ratio": 0.5}


@pytest.mark.parametrize(("measure", "params"), [
    (measure_plateau_times, {"alpha": 1e-6, "eta": 0.05, "d": 5, "m": 5000, "width": 3, **SMALL}),
    (measure_plateaus, {"alpha": 1e-6, "eta": 0.05, "d": 5, "m": 100, "width": 5,
                        "r": 3, "lam_top": 3.0, "ratio": 0.5}),
    (measure_nuclear, {"alpha": 1e-4, "eta": 0.08, "d": 8, "m": 34, "width": 8, **SMALL}),
])
def test_measures_on_array_api_strict(measure, params) -> None:  # type: ignore[no-untyped-def]
    ref = measure(params, np.random.default_rng(15), 4, np)
    strict = measure(params, np.random.default_rng(15), 4, array_api_strict)
    assert ref.keys() == strict.keys()
    for name in ref:
        np.testing.assert_allclose(strict[name], ref[name], rtol=1e-7, atol=1e-12, err_msg=name)


def test_bad_inputs() -> None:
    d, m = 4, 12
    V, Xs, A, y = _instance(16, 2, m, d)
    H = gram_operator(A, np)
    U0 = 1e-3 * np.ones((2, d, 3))
    with pytest.raises(UsageError, match="eta"):
        gradient_descent(H, Xs, U0, 0.0, 10, None, np)
    with pytest.raises(UsageError, match="eta"):
        gradient_descent(H, Xs, U0, float("nan"), 10, None, np)
    with pytest.raises(UsageError, match="steps"):
        gradient_descent(H, Xs, U0, 0.1, 0, None, np)
    with pytest.raises(UsageError, match="U0"):
        gradient_descent(H, Xs, np.ones((2, d + 1, 3)), 0.1, 10, None, np)
    bad = U0.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="U0 must be finite"):
        gradient_descent(H, Xs, bad, 0.1, 10, None, np)
    with pytest.raises(UsageError, match="H must have shape"):
        gradient_descent(H[:, :-1], Xs, U0, 0.1, 10, None, np)
    with pytest.raises(UsageError, match="thresholds"):
        gradient_descent(H, Xs, U0, 0.1, 10, np.ones(4), np)
    with pytest.raises(UsageError, match="diverged"), np.errstate(all="ignore"):
        gradient_descent(H, Xs, np.ones((2, d, 3)), 50.0, 50, None, np)
    with pytest.raises(UsageError, match="tol"):
        best_rank_k(H, Xs, V[:, :, :1], np, tol=0.0)
    with pytest.raises(UsageError, match="m <= d"):
        min_frobenius_solution(gaussian_measurements(np.random.default_rng(0), 1, 11, d), np.ones((1, 11)), np)
    with pytest.raises(UsageError, match="y must have shape"):
        min_frobenius_solution(A, np.ones((2, m + 1)), np)
    with pytest.raises(UsageError, match="m >= D"):
        wishart_gram(np.random.default_rng(0), 1, 10, 5)
    with pytest.raises(UsageError, match="fewer columns"):
        nuclear_norm_certificate(A, np.ones((2, d, d)), np)
    with pytest.raises(UsageError, match="alpha"):
        measure_plateaus({"alpha": 1e-20, "eta": 0.05, "d": 4, "m": 20, "width": 4, **SMALL},
                         np.random.default_rng(0), 2, np)
    with pytest.raises(UsageError, match="ratio"):
        measure_plateaus({"alpha": 1e-2, "eta": 0.05, "d": 4, "m": 20, "width": 4, "r": 2, "lam_top": 1.0,
                          "ratio": 1.5}, np.random.default_rng(0), 2, np)
