"""solvers.linear_stability and simulations.sgd_dynamical_stability against independent references.

* The threshold eta* against a slow, obviously-correct one: the full r^2 x r^2 matrix of T(M) = E[A M A] built by
  enumerating every batch (all B-tuples with replacement, all B-subsets without) on span{g_i}, its spectral
  radius from numpy.linalg.eigvals, and a bisection on eta (60 halvings). Agreement to 1e-9 relative (measured:
  ~3e-15), including rank-deficient G.
* rho(T) < 1 just below eta* and > 1 just above, for the fast operator and the slow one.
* The slow operator against a Monte Carlo of linearised SGD's second moment (200,000 trajectories).
* Closed forms: orthogonal equal-norm gradients (the trace bounds are equalities), one sample, full batch = GD.
* The diagonal-network trainer against a per-replicate Python loop fed the same sample indices.
* The same code on array-api-strict; bad input is named.
"""

from __future__ import annotations

import itertools

import array_api_strict
import numpy as np
import pytest

from simulations.sgd_dynamical_stability import (
    evaluate_stability,
    gradient_space,
    measure_diagonal_networks,
    network_gradients,
    sparse_regression,
    train_diagonal_network,
    training_loss,
)
from solvers import linear_stability as ls

EXACT = 1e-9  # relative; eigenvalue problems of size <= 36 in float64 agree to ~1e-14


# ------------------------------------------------------------------------------------- slow references
def span_coordinates(G: np.ndarray) -> np.ndarray:
    """g_i in an orthonormal basis of span{g_i} (n, r), from the SVD of one G (n, d)."""
    _, s, Vt = np.linalg.svd(G, full_matrices=False)
    r = int(np.sum(s > 1e-10 * s[0]))
    return G @ Vt[:r].T


def batches(n: int, B: int, replacement: bool) -> list[tuple[int, ...]]:
    return list(itertools.product(range(n), repeat=B)) if replacement else list(itertools.combinations(range(n), B))


def slow_operator(G: np.ndarray, eta: float, B: int, replacement: bool) -> np.ndarray:
    """vec(T(M)) = E[A (x) A] vec(M), A = I - eta H_batch, averaged over every batch, on the span (r^2 x r^2)."""
    g = span_coordinates(G)
    n, r = g.shape
    H_i = [np.outer(x, x) for x in g]
    T = np.zeros((r * r, r * r))
    all_batches = batches(n, B, replacement)
    for batch in all_batches:
        A = np.eye(r) - eta * sum(H_i[i] for i in batch) / B
        T += np.kron(A, A)
    return T / len(all_batches)


def slow_rho(G: np.ndarray, eta: float, B: int, replacement: bool) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(slow_operator(G, eta, B, replacement)))))


def slow_threshold(G: np.ndarray, B: int, replacement: bool) -> float:
    """Bisection of rho(T(eta)) = 1 on [0, 2 / lambda_max(H)] (mean-square stability implies GD's)."""
    lam = np.linalg.eigvalsh(G.T @ G / G.shape[0])[-1]
    lo, hi = 0.0, 2.0 / lam * (1 + 1e-9)
    assert slow_rho(G, hi, B, replacement) >= 1 - 1e-12
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slow_rho(G, mid, B, replacement) < 1 else (lo, mid)
    return 0.5 * (lo + hi)


CASES = [(4, 5, 1, True), (4, 4, 2, True), (3, 6, 3, True), (4, 6, 2, False), (5, 5, 3, False), (4, 4, 4, False),
         (4, 3, 2, True), (5, 2, 2, False)]  # the last two: rank G = d < n


def random_gradients(rng: np.random.Generator, count: int, n: int, d: int) -> np.ndarray:
    return rng.standard_normal((count, n, d)) * rng.uniform(0.3, 2.0, size=(count, n, 1))


@pytest.mark.parametrize(("n", "d", "B", "replacement"), CASES)
def test_threshold_against_enumerated_operator(n: int, d: int, B: int, replacement: bool) -> None:
    rng = np.random.default_rng(n * 100 + d * 10 + B)
    G = random_gradients(rng, 3, n, d)
    fast = ls.threshold(G, B, replacement)
    for k in range(3):
        assert fast[k] == pytest.approx(slow_threshold(G[k], B, replacement), rel=EXACT)


@pytest.mark.parametrize(("n", "d", "B", "replacement"), CASES)
def test_spectral_radius_crosses_one_at_the_threshold(n: int, d: int, B: int, replacement: bool) -> None:
    rng = np.random.default_rng(7 + n + d + B)
    G = random_gradients(rng, 4, n, d)
    eta = ls.threshold(G, B, replacement)
    for k in range(4):
        below = ls.spectral_radius(G[k:k + 1], 0.999 * float(eta[k]), B, replacement)[0]
        above = ls.spectral_radius(G[k:k + 1], 1.001 * float(eta[k]), B, replacement)[0]
        assert below < 1 < above
        assert slow_rho(G[k], 0.999 * float(eta[k]), B, replacement) < 1 < slow_rho(G[k], 1.001 * float(eta[k]),
                                                                                   B, replacement)


def test_operator_spectrum_is_the_symmetric_part_of_the_enumerated_one() -> None:
    """Fast T (svec basis of H's eigenbasis) has the spectrum of the slow T restricted to symmetric matrices."""
    rng = np.random.default_rng(3)
    G = random_gradients(rng, 2, 4, 6)
    for B, replacement in ((1, True), (2, True), (3, False)):
        for k in range(2):
            eta = 0.8 * float(ls.threshold(G[k:k + 1], B, replacement)[0])
            r = 4
            basis = []
            for a in range(r):
                for b in range(a, r):
                    E = np.zeros((r, r))
                    E[a, b] = E[b, a] = 1.0 if a == b else 1 / np.sqrt(2)
                    basis.append(E.ravel())
            P = np.array(basis).T
            slow = np.sort(np.linalg.eigvalsh(P.T @ slow_operator(G[k], eta, B, replacement) @ P))
            fast = np.sort(np.linalg.eigvalsh(ls.second_moment_operator(G[k:k + 1], eta, B, replacement)[0]))
            np.testing.assert_allclose(fast, slow, atol=1e-12)


@pytest.mark.parametrize(("B", "replacement"), [(1, True), (2, True), (2, False)])
def test_enumerated_operator_against_monte_carlo_of_linearised_sgd(B: int, replacement: bool) -> None:
    """E[e_t e_t^T] of e_{t+1} = (I - eta H_batch) e_t over 200,000 trajectories against T^t(e_0 e_0^T)."""
    rng = np.random.default_rng(11)
    n, d, R, steps = 3, 3, 200_000, 6
    G = rng.standard_normal((n, d))
    g = span_coordinates(G)
    eta_star = float(ls.threshold(G[None], B, replacement)[0])
    for factor in (0.7, 1.3):
        eta = factor * eta_star
        e0 = np.array([1.0, -0.5, 0.3])
        e = np.repeat(e0[None], R, axis=0)
        for _ in range(steps):
            if replacement:
                idx = rng.integers(0, n, size=(R, B))
            else:
                idx = np.argsort(rng.random((R, n)), axis=1)[:, :B]
            gb = g[idx]  # (R, B, d)
            e = e - eta * np.einsum("rbi,rb->ri", gb, np.einsum("rbi,ri->rb", gb, e)) / B
        outer = np.einsum("ri,rj->rij", e, e).reshape(R, -1)
        predicted = np.linalg.matrix_power(slow_operator(G, eta, B, replacement), steps) @ np.outer(e0, e0).ravel()
        se = outer.std(axis=0) / np.sqrt(R)
        assert np.all(np.abs(outer.mean(axis=0) - predicted) < 5 * se + 1e-12)


def test_equalities_at_orthogonal_gradients_of_equal_norm() -> None:
    """Orthogonal g_i of equal norm s: eta* = 2 / (s^2 (p + (1 - p)/n)), so both trace bounds are equalities."""
    rng = np.random.default_rng(5)
    n, d, s = 5, 8, 1.7
    G = s * np.linalg.qr(rng.standard_normal((d, d)))[0][:n][None]
    summary = ls.hessian_summary(G)
    for B, replacement in ((1, True), (3, True), (3, False), (5, False)):
        p = ls.mixture_weight(n, B, replacement)
        eta = ls.threshold(G, B, replacement)
        assert float(eta[0] * summary.trace[0]) == pytest.approx(2 / (p + (1 - p) / n), rel=EXACT)
        witness = eta * ((1 - p) * summary.frobenius_sq + p * summary.mean_norm4) / (2 * summary.trace)
        assert float(witness[0]) == pytest.approx(1.0, rel=EXACT)


def test_one_sample_and_full_batch_are_gradient_descent() -> None:
    rng = np.random.default_rng(6)
    G = random_gradients(rng, 5, 6, 8)
    lam = np.linalg.eigvalsh(np.swapaxes(G, 1, 2) @ G / 6)[:, -1]
    np.testing.assert_allclose(ls.threshold(G, 6, False), 2 / lam, rtol=EXACT)
    one = G[:, :1, :]
    np.testing.assert_allclose(ls.threshold(one, 1, True), 2 / np.sum(one[:, 0] ** 2, axis=1), rtol=EXACT)
    # with replacement, a batch of n is not full batch: strictly smaller threshold than GD's
    assert np.all(ls.threshold(G, 6, True) < 2 / lam)


def test_mixture_weights() -> None:
    assert ls.mixture_weight(10, 1, True) == 1.0 and ls.mixture_weight(10, 1, False) == 1.0
    assert ls.mixture_weight(10, 4, True) == 0.25
    assert ls.mixture_weight(10, 4, False) == pytest.approx(6 / 36)
    assert ls.mixture_weight(10, 10, False) == 0.0


def test_hessian_summary_against_the_explicit_hessian() -> None:
    rng = np.random.default_rng(8)
    G = random_gradients(rng, 4, 5, 7)
    G[3, 4] = G[3, 0]  # a repeated gradient: rank 4
    summary = ls.hessian_summary(G)
    for k in range(4):
        H = G[k].T @ G[k] / 5
        assert summary.trace[k] == pytest.approx(np.trace(H), rel=1e-12)
        assert summary.frobenius_sq[k] == pytest.approx(np.sum(H * H), rel=1e-10)
        assert summary.lambda_max[k] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-12)
        assert summary.mean_norm4[k] == pytest.approx(np.mean(np.sum(G[k] ** 2, axis=1) ** 2), rel=1e-12)
        assert summary.rank[k] == np.linalg.matrix_rank(G[k])


def test_trace_bounds_hold_on_random_instances() -> None:
    """Not the verdict (theorems/ does that), but a cheap guard that the bounds are stated the right way up."""
    rng = np.random.default_rng(9)
    G = random_gradients(rng, 2000, 5, 6)
    summary = ls.hessian_summary(G)
    for B, replacement in ((1, True), (2, True), (4, True), (2, False), (4, False)):
        p = ls.mixture_weight(5, B, replacement)
        eta = ls.threshold(G, B, replacement)
        assert np.all(eta * summary.trace <= 2 / (p + (1 - p) / 5) * (1 + 1e-12))
        assert np.all(eta * summary.lambda_max <= 2 * (1 + 1e-12))


# ------------------------------------------------------------------------------------- diagonal networks
def slow_training(X, y, u0, v0, eta, steps, indices=None):
    """One replicate at a time, one sample at a time, from the definitions of the gradients."""
    R, n, d = X.shape
    U, V = u0.copy(), v0.copy()
    for r in range(R):
        u, v = u0[r].copy(), v0[r].copy()
        for t in range(steps):
            if indices is None:
                residuals = [sum(u[j] * v[j] * X[r, i, j] for j in range(d)) - y[r, i] for i in range(n)]
                if max(abs(x) for x in residuals) > 1e6:
                    u, v = np.zeros(d), np.zeros(d)
                    continue
                gu = np.array([sum(residuals[i] * v[j] * X[r, i, j] for i in range(n)) / n for j in range(d)])
                gv = np.array([sum(residuals[i] * u[j] * X[r, i, j] for i in range(n)) / n for j in range(d)])
            else:
                i = indices[t, r]
                res = sum(u[j] * v[j] * X[r, i, j] for j in range(d)) - y[r, i]
                if abs(res) > 1e6:
                    u, v = np.zeros(d), np.zeros(d)
                    continue
                gu, gv = res * v * X[r, i], res * u * X[r, i]
            u, v = u - eta * gu, v - eta * gv
        U[r], V[r] = u, v
    return U, V


@pytest.mark.parametrize("sgd", [True, False])
def test_trainer_against_a_per_replicate_loop(sgd: bool) -> None:
    rng = np.random.default_rng(12)
    R, n, d, steps = 3, 4, 6, 40
    X, y = sparse_regression(rng, R, n, d, 2)
    u0, v0 = np.full((R, d), 1.5), 0.1 * rng.standard_normal((R, d))
    indices = rng.integers(0, n, size=(steps, R)) if sgd else None
    u, v = train_diagonal_network(X, y, u0, v0, 0.05, steps, indices)
    U, V = slow_training(X, y, u0, v0, 0.05, steps, indices)
    np.testing.assert_allclose(u, U, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v, V, rtol=1e-10, atol=1e-12)


def test_network_trace_formula_and_divergence() -> None:
    """Tr H = sum_j c_j (u_j^2 + v_j^2); a run with a huge step diverges, is frozen at 0 and not converged."""
    rng = np.random.default_rng(13)
    X, y = sparse_regression(rng, 4, 5, 7, 2)
    u, v = rng.standard_normal((4, 7)), rng.standard_normal((4, 7))
    c = np.mean(X**2, axis=1)
    np.testing.assert_allclose(ls.hessian_summary(network_gradients(X, u, v)).trace, np.sum(c * (u**2 + v**2), axis=1),
                               rtol=1e-12)
    u1, v1 = train_diagonal_network(X, y, np.full((4, 7), 3.0), np.zeros((4, 7)), 5.0, 50)
    assert np.all(u1 == 0) and np.all(v1 == 0)
    assert np.all(training_loss(X, y, u1, v1) > 1e-3)


def test_measure_reports_converged_minima() -> None:
    params = {"n": 6, "d": 10, "k": 2, "alpha": 1.0, "eta": 0.05, "steps": 3000}
    out = measure_diagonal_networks(params, np.random.default_rng(14), 8, np)
    assert np.all(out["converged_sgd"] == 1) and np.all(out["converged_gd"] == 1)
    assert np.all(out["ms_ratio_sgd"] > 0)
    assert np.all(out["lambda_gd"] <= out["trace_gd"])
    unstable = measure_diagonal_networks({**params, "alpha": 3.0, "eta": 0.2, "steps": 300},
                                         np.random.default_rng(14), 4, np)
    assert np.all(unstable["converged_sgd"] == 0) and np.all(unstable["ms_ratio_sgd"] == 0)


# ------------------------------------------------------------------------------------- instance space
def test_instance_space_and_evaluator() -> None:
    params = {"n": 4, "d": 6, "B": 2, "sampling": "without"}
    space = gradient_space(params)
    z = space.sample(np.random.default_rng(15), 30)
    assert z.shape == (30, 24) and np.all(np.abs(z) <= 1)
    G = space.decode(z)
    out = evaluate_stability(params, G, np)
    np.testing.assert_allclose(out["eta_star"], ls.threshold(G, 2, False), rtol=1e-14)
    np.testing.assert_allclose(out["eta_gd"] * out["lambda_max"], 2.0, rtol=1e-12)
    np.testing.assert_allclose(out["p"], 2 / 6)
    with pytest.raises(ValueError, match="d must be >= n"):
        gradient_space({"n": 5, "d": 4})
    with pytest.raises(ValueError, match="sampling must be"):
        evaluate_stability({**params, "sampling": "sometimes"}, G, np)


# ------------------------------------------------------------------------------------- array API
def test_same_code_on_array_api_strict() -> None:
    rng = np.random.default_rng(16)
    G = random_gradients(rng, 5, 4, 6)
    Gs = array_api_strict.asarray(G)
    for B, replacement in ((1, True), (3, True), (2, False)):
        np.testing.assert_allclose(np.asarray(ls.threshold(Gs, B, replacement)), ls.threshold(G, B, replacement),
                                   rtol=1e-12)
        np.testing.assert_allclose(np.asarray(ls.spectral_radius(Gs, 0.1, B, replacement)),
                                   ls.spectral_radius(G, 0.1, B, replacement), rtol=1e-12)
    strict_summary, summary = ls.hessian_summary(Gs), ls.hessian_summary(G)
    np.testing.assert_allclose(np.asarray(strict_summary.trace), summary.trace, rtol=1e-13)
    np.testing.assert_array_equal(np.asarray(strict_summary.rank), summary.rank)
    params = {"n": 5, "d": 8, "k": 2, "alpha": 2.0, "eta": 0.03, "steps": 200}
    strict = measure_diagonal_networks(params, np.random.default_rng(2), 4, array_api_strict)
    plain = measure_diagonal_networks(params, np.random.default_rng(2), 4, np)
    for name, values in plain.items():
        np.testing.assert_allclose(strict[name], values, rtol=1e-10, atol=1e-12)
    stability = evaluate_stability({"n": 4, "d": 6, "B": 2, "sampling": "with"}, G, array_api_strict)
    np.testing.assert_allclose(stability["eta_star"], ls.threshold(G, 2, True), rtol=1e-12)


# ------------------------------------------------------------------------------------- bad input
def test_bad_input_is_named() -> None:
    G = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match="G must have shape"):
        ls.threshold(np.ones((3, 4)))
    with pytest.raises(ValueError, match="G must be finite"):
        ls.threshold(np.full((1, 3, 4), np.nan))
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        ls.threshold(G, 0)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        ls.threshold(G, 1.5)
    with pytest.raises(ValueError, match="batch must be <= n"):
        ls.threshold(G, 4, False)
    with pytest.raises(ValueError, match="replacement must be True or False"):
        ls.threshold(G, 2, "yes")
    with pytest.raises(ValueError, match="eta .* must be a finite number > 0"):
        ls.spectral_radius(G, 0.0)
    with pytest.raises(ValueError, match="eta .* must be a finite number > 0"):
        ls.second_moment_operator(G, float("nan"))
    with pytest.raises(ValueError, match="n .* must be a positive integer"):
        ls.mixture_weight(0, 1, True)
    X, y = np.ones((2, 3, 4)), np.ones((2, 3))
    u, v = np.ones((2, 4)), np.zeros((2, 4))
    with pytest.raises(ValueError, match="eta .* must be a finite number > 0"):
        train_diagonal_network(X, y, u, v, -0.1, 5)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        train_diagonal_network(X, y, u, v, 0.1, 0)
    with pytest.raises(ValueError, match="y must have shape"):
        train_diagonal_network(X, np.ones((2, 4)), u, v, 0.1, 5)
    with pytest.raises(ValueError, match="u0 must have shape"):
        train_diagonal_network(X, y, np.ones((2, 3)), v, 0.1, 5)
    with pytest.raises(ValueError, match="X must be finite"):
        train_diagonal_network(np.full((2, 3, 4), np.inf), y, u, v, 0.1, 5)
    with pytest.raises(ValueError, match="indices must lie in"):
        train_diagonal_network(X, y, u, v, 0.1, 5, np.full((5, 2), 3))
    with pytest.raises(ValueError, match="indices must be an integer array"):
        train_diagonal_network(X, y, u, v, 0.1, 5, np.zeros((4, 2), dtype=int))
