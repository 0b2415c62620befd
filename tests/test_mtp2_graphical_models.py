"""The batched M-matrix Gaussian MLE (solvers/mtp2.py) and the MTP2 simulations
(simulations/mtp2_graphical_models.py): the solver against cvxpy (SCS, log_det) and against the KKT conditions,
the multi-stage estimator against its definition, the Wishart sampler against its moments and its prefix
property, the cvxpy box-bound sweep against closed forms (the drift of a missing MLE) and against the solver (an
existing MLE), array-api-strict, and bad inputs."""

from __future__ import annotations

import math

import array_api_compat.numpy as xp_np
import array_api_strict
import cvxpy as cp
import numpy as np
import pytest

from boundlab.errors import UsageError
from simulations.mtp2_graphical_models import (
    CHUNK,
    boxed_optimum,
    boxed_problem,
    chain_precision,
    gaussian_samples,
    measure_estimation_error,
    measure_existence,
    sample_covariances,
    wishart_gram,
)
from solvers.mtp2 import adaptive_mtp2, fit_mtp2, mcp_weights, mtp2_objective, sample_covariance

SCS = {"solver": "SCS", "eps": 1e-10, "max_iters": 200000}


def _data(seed: int, R: int, n: int, p: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return sample_covariance(gaussian_samples(rng, R, n, chain_precision(p, 0.4)))


def _random_weights(seed: int, R: int, p: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = scale * rng.uniform(0.0, 1.0, size=(R, p, p))
    W = (W + np.swapaxes(W, 1, 2)) / 2.0
    W[:, np.arange(p), np.arange(p)] = 0.0
    return W


def _cvxpy_mtp2(S: np.ndarray, W: np.ndarray | None) -> tuple[np.ndarray, float]:
    p = S.shape[0]
    theta = cp.Variable((p, p), symmetric=True)
    C = S if W is None else S - W
    problem = cp.Problem(cp.Minimize(-cp.log_det(theta) + cp.trace(C @ theta)),
                         [cp.multiply(1.0 - np.eye(p), theta) <= 0])
    problem.solve(**SCS)
    assert problem.status == "optimal"
    return np.asarray(theta.value), float(problem.value)


@pytest.mark.parametrize(("p", "n", "scale"), [(3, 10, 0.0), (5, 20, 0.0), (5, 30, 0.3), (8, 50, 0.1)])
def test_fit_against_cvxpy(p: int, n: int, scale: float) -> None:
    """Random instances (plain and randomly weighted): Theta within 1e-6 of cvxpy's (SCS at eps 1e-10; measured
    agreement 1e-10 and below) relative to its largest entry, objective no worse than cvxpy's to 1e-9."""
    S = _data(10 * p + n, 5, n, p)
    W = None if scale == 0 else _random_weights(p + n, 5, p, scale)
    fit = fit_mtp2(S, W)
    assert bool(np.all(fit.converged))
    for r in range(5):
        ref, value = _cvxpy_mtp2(S[r], None if W is None else W[r])
        theta = np.asarray(fit.theta[r])
        assert np.max(np.abs(theta - ref)) <= 1e-6 * np.max(np.abs(ref))
        assert float(fit.objective[r]) <= value + 1e-9 * (1.0 + abs(value))
        direct = float(mtp2_objective(S[r:r + 1], fit.theta[r:r + 1], None if W is None else W[r:r + 1])[0])
        assert math.isclose(direct, float(fit.objective[r]), rel_tol=1e-12, abs_tol=1e-12)


def test_fit_satisfies_kkt() -> None:
    """Sigma = Theta^{-1} has the sample variances on its diagonal, Sigma_ij >= S_ij - W_ij off it with equality
    where Theta_ij < 0, and Theta is an M-matrix (to 1e-9)."""
    p = 7
    S = _data(1, 6, 25, p)
    W = _random_weights(2, 6, p, 0.2)
    fit = fit_mtp2(S, W)
    theta = np.asarray(fit.theta)
    off = 1.0 - np.eye(p)
    sigma = np.linalg.inv(theta)
    np.testing.assert_allclose(np.diagonal(sigma, axis1=1, axis2=2), np.diagonal(S, axis1=1, axis2=2), atol=1e-9)
    slack = (sigma - (S - W)) * off
    assert slack.min() >= -1e-9
    assert np.max(np.abs(slack * theta)) <= 1e-9
    assert np.max(theta * off) <= 0.0
    assert np.min(np.linalg.eigvalsh(theta)) > 0


@pytest.mark.parametrize("max_iter", [10, 200])
def test_missing_mle_is_reported_not_converged(max_iter: int) -> None:
    """One sample, p = 4, no penalty: the likelihood is unbounded over M-matrices; the solver must not claim
    convergence (frozen once Theta's condition number passes 1e8), and its objective falls far below any value
    an existing minimiser would have."""
    rng = np.random.default_rng(3)
    S = sample_covariance(gaussian_samples(rng, 3, 1, chain_precision(4, 0.4)))
    fit = fit_mtp2(S, max_iter=max_iter)
    assert not bool(np.any(fit.converged))
    assert float(np.max(fit.objective)) < -5.0


def test_mcp_weights_against_loop() -> None:
    rng = np.random.default_rng(4)
    theta = -np.abs(rng.standard_normal((2, 4, 4)))
    W = np.asarray(mcp_weights(theta, 0.3, 2.0))
    for r in range(2):
        for i in range(4):
            for j in range(4):
                expected = 0.0 if i == j else max(0.3 - abs(theta[r, i, j]) / 2.0, 0.0)
                assert W[r, i, j] == pytest.approx(expected, abs=1e-15)


def test_adaptive_stages_follow_their_definition() -> None:
    """Stage 1 is the fit with W = lambda (1 - I); stage 2 the fit with the MCP weights of stage 1, which also
    matches cvxpy with those weights to 1e-6."""
    p, lam = 6, 0.15
    S = _data(5, 4, 40, p)
    fits = adaptive_mtp2(S, lam, stages=2, a=2.0)
    first = fit_mtp2(S, lam * np.broadcast_to(1.0 - np.eye(p), (4, p, p)).copy())
    np.testing.assert_allclose(np.asarray(fits[0].theta), np.asarray(first.theta), atol=1e-10)
    W2 = np.asarray(mcp_weights(fits[0].theta, lam, 2.0))
    for r in range(4):
        ref, _ = _cvxpy_mtp2(S[r], W2[r])
        assert np.max(np.abs(np.asarray(fits[1].theta[r]) - ref)) <= 1e-6 * np.max(np.abs(ref))


def test_array_api_strict_matches_numpy() -> None:
    p = 5
    S = _data(6, 3, 30, p)
    ref = adaptive_mtp2(S, 0.1, stages=2)
    strict = adaptive_mtp2(array_api_strict.asarray(S), 0.1, stages=2)
    for a, b in zip(ref, strict, strict=True):
        np.testing.assert_allclose(np.asarray(b.theta), np.asarray(a.theta), atol=1e-10)
    params = {"n": 400, "p": 4, "rho": 0.4, "stages": 3, "a": 2.0}
    out_np = measure_estimation_error(params, np.random.default_rng(7), 8, xp_np)
    out_strict = measure_estimation_error(params, np.random.default_rng(7), 8, array_api_strict)
    for key in out_np:
        np.testing.assert_allclose(out_strict[key], out_np[key], atol=1e-10)


def test_wishart_gram_moments() -> None:
    """Bartlett's draws have the Wishart mean df Sigma and variances df (Sigma_ij^2 + Sigma_ii Sigma_jj), within 5
    standard errors of the Monte Carlo (the variances within 5%)."""
    p, df, R = 3, 7, 40000
    sigma = np.linalg.inv(chain_precision(p, 0.4))
    W = wishart_gram(np.random.default_rng(8), R, df, np.linalg.cholesky(sigma))
    mean = W.mean(axis=0)
    var = df * (sigma**2 + np.outer(np.diag(sigma), np.diag(sigma)))
    assert np.all(np.abs(mean - df * sigma) <= 5 * np.sqrt(var / R))
    assert np.all(np.abs(W.var(axis=0) / var - 1.0) <= 0.05)   # sampling error of a variance at R = 4e4: ~1.5%


def test_sample_covariances_are_prefixes() -> None:
    """S at n = 4 CHUNK is built from the same increments as S at n = 2 CHUNK (common random numbers), and it is
    the Gram of (0, C], (C, 2C], (2C, 4C] drawn in that order."""
    theta = chain_precision(4, 0.4)
    L = np.linalg.cholesky(np.linalg.inv(theta))
    S4 = np.asarray(sample_covariances(np.random.default_rng(9), 3, 4 * CHUNK, theta, xp_np))
    rng = np.random.default_rng(9)
    parts = [wishart_gram(rng, 3, CHUNK, L), wishart_gram(rng, 3, CHUNK, L), wishart_gram(rng, 3, 2 * CHUNK, L)]
    np.testing.assert_allclose(S4, sum(parts) / (4 * CHUNK), atol=1e-12)
    S2 = np.asarray(sample_covariances(np.random.default_rng(9), 3, 2 * CHUNK, theta, xp_np))
    np.testing.assert_allclose(S2, (parts[0] + parts[1]) / (2 * CHUNK), atol=1e-12)


def test_sample_covariance_matches_direct_samples_in_distribution() -> None:
    """The Wishart route and explicit samples give the same mean and spread of S (5 standard errors)."""
    theta, n, R = chain_precision(3, 0.4), 2 * CHUNK, 4000
    S_w = np.asarray(sample_covariances(np.random.default_rng(10), R, n, theta, xp_np))
    S_x = sample_covariance(gaussian_samples(np.random.default_rng(11), R, n, theta))
    se = np.sqrt((S_w.var(axis=0) + S_x.var(axis=0)) / R)
    assert np.all(np.abs(S_w.mean(axis=0) - S_x.mean(axis=0)) <= 5 * se)
    assert np.all(np.abs(S_w.std(axis=0) / S_x.std(axis=0) - 1.0) <= 0.1)


def test_box_sweep_drift_of_missing_mles() -> None:
    """One sample over M-matrices: the drift per decade is the number of unbounded directions, (k+ - 1) + (k- -
    1) with k+- the numbers of positive and negative coordinates; two samples without sign constraints: p - n."""
    rng = np.random.default_rng(12)
    p = 5
    # coordinates bounded away from 0: a near-zero one behaves like a sign of its own until B >> 1 / x_i^2
    for signs in ([1, 1, 1, 1, 1], [1, -1, 1, 1, -1], [-1, 1, 1, 1, 1]):
        x = np.asarray(signs) * rng.uniform(0.5, 1.5, size=p)
        S = np.outer(x, x)
        drift = (boxed_optimum(S, "m", 1e3)[0] - boxed_optimum(S, "m", 1e4)[0]) / math.log(10.0)
        k_plus = int(np.sum(x > 0))
        expected = max(k_plus - 1, 0) + max(p - k_plus - 1, 0)
        assert drift == pytest.approx(expected, abs=1e-3)
    X = rng.standard_normal((2, p))
    S = X.T @ X / 2
    drift = (boxed_optimum(S, "pd", 1e3)[0] - boxed_optimum(S, "pd", 1e4)[0]) / math.log(10.0)
    assert drift == pytest.approx(p - 2, abs=1e-3)


def test_box_sweep_agrees_with_the_solver_when_the_mle_exists() -> None:
    """Two samples, MLEs with every entry below 10^3: the boxed optimum at B = 10^3 and 10^4 is the solver's
    minimum (to 1e-7) and the drift is zero (to 1e-6)."""
    S = _data(13, 12, 2, 4)
    fit = fit_mtp2(S, max_iter=300)
    checked = 0
    for r in range(12):
        if not bool(fit.converged[r]) or float(np.max(np.abs(np.asarray(fit.theta[r])))) >= 1e3:
            continue
        low, high = boxed_optimum(S[r], "m", 1e3)[0], boxed_optimum(S[r], "m", 1e4)[0]
        assert high == pytest.approx(float(fit.objective[r]), abs=1e-7)
        assert abs(low - high) / math.log(10.0) <= 1e-6
        checked += 1
    assert checked >= 6


def test_measure_existence_runs_on_both_backends() -> None:
    params = {"B": 1e3, "p": 3, "rho": 0.4}
    a = measure_existence(params, np.random.default_rng(14), 3, xp_np)
    b = measure_existence(params, np.random.default_rng(14), 3, array_api_strict)
    assert set(a) == {"drift_m2", "drift_m1", "drift_dd1", "drift_pd2", "retries"}
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-9)
    assert np.all(a["drift_m1"] >= 1.0 - 1e-3)          # p = 3: at least one unbounded direction
    assert np.allclose(a["drift_pd2"], 1.0, atol=1e-3)    # p - n = 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda S: fit_mtp2(S[:, :, :2]), "S must have shape"),
        (lambda S: fit_mtp2(S + np.triu(np.ones((4, 4)), 1)[None]), "S must be symmetric"),
        (lambda S: fit_mtp2(np.where(np.eye(4, dtype=bool), np.nan, S)), "S must be finite"),
        (lambda S: fit_mtp2(S * (1.0 - 2.0 * np.eye(4))[None]), "positive diagonal"),
        (lambda S: fit_mtp2(S, -np.ones_like(S)), "weights must be >= 0"),
        (lambda S: fit_mtp2(S, np.ones((2, 4, 4))), "weights must have shape"),
        (lambda S: fit_mtp2(S, tol=0.0), "tol must be a finite number > 0"),
        (lambda S: fit_mtp2(S, tol=math.nan), "tol must be a finite number > 0"),
        (lambda S: fit_mtp2(S, max_iter=0), "max_iter must be an integer >= 1"),
        (lambda S: fit_mtp2(S, start=np.ones_like(S)), "start must be an M-matrix"),
        (lambda S: fit_mtp2(S, start=-np.broadcast_to(np.eye(4), S.shape).copy()), "start must be positive definite"),
        (lambda S: adaptive_mtp2(S, 0.0), "lam must be a finite number > 0"),
        (lambda S: adaptive_mtp2(S, 0.1, a=-1.0), "a must be a finite number > 0"),
        (lambda S: adaptive_mtp2(S, 0.1, stages=0), "stages must be an integer >= 1"),
        (lambda S: sample_covariance(S[:, 0]), "X must have shape"),
    ],
)
def test_bad_inputs(call, match: str) -> None:  # noqa: ANN001
    S = _data(15, 3, 10, 4)
    with pytest.raises(UsageError, match=match):
        call(S)


def test_bad_simulation_parameters() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        boxed_problem(3, "psd")
    with pytest.raises(ValueError, match="rho must lie in"):
        chain_precision(4, 0.6)
    with pytest.raises(ValueError, match="n must be 100 times a power of 2"):
        sample_covariances(np.random.default_rng(0), 2, 300, chain_precision(3, 0.4), xp_np)
    with pytest.raises(ValueError, match="df must be >= p"):
        wishart_gram(np.random.default_rng(0), 2, 2, np.eye(3))
