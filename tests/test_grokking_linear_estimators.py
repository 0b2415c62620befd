"""The grokking-in-linear-estimators simulation (simulations/grokking_linear_estimators.py): iterated gradient
descent and the spectral solution against matrix powers and scipy's expm, the crossing times against brentq, the
eps -> 0 delay against crossing times at tiny thresholds, the Bartlett covariances against their moments and
against X^T X, the whole grokking measurement against a direct simulation with explicit data and eigenvectors,
array-api-strict, and bad inputs."""

from __future__ import annotations

import math

import array_api_strict
import numpy as np
import pytest
from scipy import linalg, optimize, stats

from simulations.grokking_linear_estimators import (
    crossing_time,
    dynamics_space,
    eq12_delay,
    evaluate_dynamics,
    gd_losses,
    limit_delay,
    measure_grokking,
    samples_for,
    spectral_losses,
    step_size,
    training_covariance,
    wishart_covariance,
)


def _problem(seed: int, B: int = 5, N: int = 7, d: int = 4, k: int = 2) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, N, d))
    S0, T = rng.standard_normal((B, d, k)) / 3, rng.standard_normal((B, d, k)) / 3
    gamma = np.where(np.arange(B) % 2 == 0, 0.0, rng.uniform(0.05, 0.5, B))
    eta = step_size(X, gamma, rng.uniform(0.1, 1.9, B), k, np)
    return X, S0, T, eta, gamma


def _matrix_power_losses(X: np.ndarray, S0: np.ndarray, T: np.ndarray, eta: np.ndarray, gamma: np.ndarray,
                         steps: int, flow: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One replicate at a time: D_t = A^t (D_0 - D_inf) + D_inf with A = I - (eta / k)(2 Sigma + gamma I) as a
    matrix power (or expm for gradient flow) and D_inf from a linear solve; no eigen-decomposition."""
    B, N, d = X.shape
    k = S0.shape[2]
    tr, gen = np.empty(B), np.empty(B)
    for b in range(B):
        sigma = X[b].T @ X[b] / N
        M = 2 * sigma + gamma[b] * np.eye(d)
        d_inf = -gamma[b] * np.linalg.lstsq(M, T[b], rcond=None)[0] if gamma[b] > 0 else np.zeros((d, k))
        A = linalg.expm(-eta[b] * steps * M / k) if flow else np.linalg.matrix_power(np.eye(d) - eta[b] * M / k, steps)
        D = A @ (S0[b] - T[b] - d_inf) + d_inf
        tr[b], gen[b] = np.sum(D * (sigma @ D)) / k, np.sum(D * D) / k
    return tr, gen


@pytest.mark.parametrize(("N", "k", "steps"), [(7, 2, 0), (7, 2, 1), (7, 1, 150), (3, 2, 150)])
def test_iteration_and_spectral_solution_against_matrix_powers(N: int, k: int, steps: int) -> None:
    X, S0, T, eta, gamma = _problem(N + steps, N=N, k=k)
    ref = _matrix_power_losses(X, S0, T, eta, gamma, steps)
    for fn in (gd_losses, spectral_losses):
        for got, want in zip(fn(X, S0, T, eta, gamma, steps, np), ref, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)


def test_gradient_flow_against_expm() -> None:
    X, S0, T, eta, gamma = _problem(3)
    got = spectral_losses(X, S0, T, eta, gamma, 40, np, flow=True)
    for g, w in zip(got, _matrix_power_losses(X, S0, T, eta, gamma, 40, flow=True), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-13)


def test_scalar_hand_calculation() -> None:
    """d = k = N = 1, x = 2: Sigma = 4, a = 1 - eta (8 + gamma), D_inf = -gamma T / (8 + gamma)."""
    X, S0, T = np.full((1, 1, 1), 2.0), np.full((1, 1, 1), 0.5), np.full((1, 1, 1), -0.25)
    eta, gamma = np.array([0.05]), np.array([0.2])
    a, d_inf = 1 - 0.05 * 8.2, 0.2 * 0.25 / 8.2
    D = a**3 * (0.75 - d_inf) + d_inf
    tr, gen = gd_losses(X, S0, T, eta, gamma, 3, np)
    assert tr[0] == pytest.approx(4 * D**2, rel=1e-12)
    assert gen[0] == pytest.approx(D**2, rel=1e-12)


def test_step_fraction_bounds_every_mode() -> None:
    X, _, _, _, gamma = _problem(4)
    step = np.full(5, 1.9)
    eta = step_size(X, gamma, step, 2, np)
    nu = np.linalg.eigvalsh(training_covariance(X, np))
    a = 1 - eta[:, None] * (2 * nu + gamma[:, None]) / 2
    assert np.all(a >= 1 - 1.9 - 1e-12) and np.all(a < 1)


def test_crossing_time_against_brentq() -> None:
    rng = np.random.default_rng(6)
    nu = np.sort(rng.uniform(0.05, 3.0, (4, 6)), axis=1)
    w = rng.uniform(0.0, 1.0, (4, 6))
    for q in (nu, np.ones_like(nu)):
        got = crossing_time(nu, w, q, 0.01, 1e-6, np)
        for b in range(4):
            def loss(t: float, b: int = b, q: np.ndarray = q) -> float:
                return float(np.sum(w[b] * q[b] * (1 - 0.02 * nu[b]) ** (2 * t))) - 1e-6
            assert got[b] == pytest.approx(optimize.brentq(loss, 0.0, 1e6, xtol=1e-12, rtol=1e-14), rel=1e-10)


def test_crossing_time_starting_below_the_level_is_zero() -> None:
    nu, w = np.array([[0.5, 1.0]]), np.array([[1e-9, 1e-9]])
    assert crossing_time(nu, w, np.ones_like(nu), 0.01, 1e-3, np)[0] == 0.0


def test_limit_delay_is_the_vanishing_threshold_limit() -> None:
    rng = np.random.default_rng(7)
    nu = np.sort(rng.uniform(0.05, 2.0, (3, 5)), axis=1)
    w = rng.uniform(0.2, 1.0, (3, 5))
    limit = limit_delay(nu[:, 0], 0.01, np)
    gaps = []
    for eps in (1e-20, 1e-80, 1e-280):
        delay = (crossing_time(nu, w, np.ones_like(nu), 0.01, eps / 4, np)
                 - crossing_time(nu, w, nu, 0.01, eps / 4, np))
        gaps.append(np.max(np.abs(delay / limit - 1)))
    assert gaps[-1] < 1e-6 and gaps[0] > gaps[-1]


def test_eq12_written_with_kappa() -> None:
    lam = 0.3
    root = math.sqrt(lam)
    expected = math.log(1 / (1 - root)) / (2 * 0.01 * (1 - root) ** 2)
    assert eq12_delay(1 / (1 - root), 0.01) == pytest.approx(expected, rel=1e-12)


def test_wishart_moments() -> None:
    """E Sigma = I and E tr(Sigma^2) = d (N + d + 1) / N for N Sigma ~ W_d(N, I)."""
    d, N, n = 5, 9, 40000
    S = wishart_covariance(np.random.default_rng(8), n, d, N, np)
    mean = S.mean(axis=0)
    assert np.max(np.abs(mean - np.eye(d))) < 5 * math.sqrt(2 / N) / math.sqrt(n)
    tr2 = np.einsum("bij,bji->b", S, S)
    assert abs(tr2.mean() - d * (N + d + 1) / N) < 5 * tr2.std() / math.sqrt(n)


def test_wishart_smallest_eigenvalue_against_explicit_data() -> None:
    d, N, n = 8, 18, 4000
    rng = np.random.default_rng(9)
    bartlett = np.linalg.eigvalsh(wishart_covariance(rng, n, d, N, np))[:, 0]
    explicit = np.linalg.eigvalsh(training_covariance(rng.standard_normal((n, N, d)), np))[:, 0]
    assert stats.ks_2samp(bartlett, explicit).pvalue > 1e-3


def test_grokking_measurement_against_explicit_data() -> None:
    """The delay from Bartlett covariances and i.i.d. projections has the law of the delay from explicit inputs X,
    student and teacher N(0, 1 / (2d)) and the eigenvectors of X^T X / N."""
    params, n = {"kappa": 3, "d": 16, "eps": 1e-8, "eta": 0.01}, 3000
    rng = np.random.default_rng(10)
    fast = measure_grokking(params, rng, n, np)["delay"]
    N = samples_for(3, 16)
    nu, P = np.linalg.eigh(training_covariance(rng.standard_normal((n, N, 16)), np))
    S0, T = (rng.standard_normal((n, 16)) / math.sqrt(32) for _ in range(2))
    w = np.einsum("bij,bi->bj", P, S0 - T) ** 2
    slow = (crossing_time(nu, w, np.ones_like(nu), 0.01, 2.5e-9, np) - crossing_time(nu, w, nu, 0.01, 2.5e-9, np))
    assert stats.ks_2samp(fast, slow).pvalue > 1e-3


def test_samples_for() -> None:
    assert [samples_for(k, 288) for k in (2, 3, 4, 5, 7)] == [1152, 648, 512, 450, 392]
    with pytest.raises(ValueError, match="integer N"):
        samples_for(6, 288)


def test_same_code_on_array_api_strict() -> None:
    params = {"N": 5, "d": 3, "k": 2, "steps": 30}
    z = dynamics_space(params).sample(np.random.default_rng(11), 4)
    instances = dynamics_space(params).decode(z)
    plain = evaluate_dynamics(params, instances, np)
    strict = evaluate_dynamics(params, instances, array_api_strict)
    for key, value in plain.items():
        np.testing.assert_allclose(strict[key], value, rtol=1e-10, atol=1e-14)
    grok = {"kappa": 2, "d": 8, "eps": 1e-6, "eta": 0.01}
    plain = measure_grokking(grok, np.random.default_rng(12), 4, np)
    strict = measure_grokking(grok, np.random.default_rng(12), 4, array_api_strict)
    for key, value in plain.items():
        np.testing.assert_allclose(strict[key], value, rtol=1e-9)


@pytest.mark.parametrize(("change", "message"), [
    ({"eta": np.array([0.0, 0.1])}, "eta"),
    ({"eta": np.array([np.nan, 0.1])}, "eta"),
    ({"gamma": np.array([-0.1, 0.0])}, "gamma"),
    ({"gamma": np.array([0.0])}, "gamma"),
    ({"X": np.ones((2, 3))}, "X"),
    ({"X": np.full((2, 3, 2), np.inf)}, "X"),
    ({"S0": np.ones((2, 3, 1))}, "S0"),
    ({"T": np.ones((2, 2, 2))}, "S0 and T"),
    ({"steps": -1}, "steps"),
    ({"steps": 2.5}, "steps"),
])
def test_bad_problems_are_rejected(change: dict, message: str) -> None:
    args = {"X": np.ones((2, 3, 2)), "S0": np.zeros((2, 2, 1)), "T": np.ones((2, 2, 1)),
            "eta": np.array([0.1, 0.1]), "gamma": np.array([0.0, 0.1]), "steps": 3, **change}
    for fn in (gd_losses, spectral_losses):
        with pytest.raises(ValueError, match=message):
            fn(args["X"], args["S0"], args["T"], args["eta"], args["gamma"], args["steps"], np)


@pytest.mark.parametrize(("nu", "w", "eta", "level", "message"), [
    (np.array([[0.0, 1.0]]), np.ones((1, 2)), 0.01, 1e-3, "nu"),
    (np.array([[0.5, 1.0]]), -np.ones((1, 2)), 0.01, 1e-3, "weights"),
    (np.array([[0.5, 1.0]]), np.ones((1, 3)), 0.01, 1e-3, "shape"),
    (np.array([[0.5, np.nan]]), np.ones((1, 2)), 0.01, 1e-3, "nu"),
    (np.array([[0.5, 1.0]]), np.ones((1, 2)), 0.0, 1e-3, "eta"),
    (np.array([[0.5, 1.0]]), np.ones((1, 2)), 0.6, 1e-3, "2 eta nu_max"),
    (np.array([[0.5, 1.0]]), np.ones((1, 2)), 0.01, 0.0, "level"),
])
def test_bad_spectra_are_rejected(nu: np.ndarray, w: np.ndarray, eta: float, level: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crossing_time(nu, w, nu, eta, level, np)
