"""CoLiDE scores: the closed-form Hessians against finite differences, the closed-form noise estimates and the
golden-section argmin against scipy, the solver against cvxpy (CLARABEL), the zero thresholds, bad inputs, and
array-api-strict."""

from __future__ import annotations

import array_api_strict as xps
import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from boundlab import UsageError
from simulations import colide as sim
from solvers import colide


def _data(seed: int, N: int = 3, n: int = 20, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, n, d)), rng.uniform(-1, 1, (N, d, d))


def _fd_hessian(f, x0: np.ndarray, h: float = 1e-4) -> np.ndarray:
    m = len(x0)
    E = np.eye(m) * h
    H = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            H[i, j] = (f(x0 + E[i] + E[j]) - f(x0 + E[i] - E[j])
                       - f(x0 - E[i] + E[j]) + f(x0 - E[i] - E[j])) / (4 * h * h)
    return H


@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_hessians_match_finite_differences(power: float) -> None:
    X, W = _data(0)
    N, n, d = X.shape
    rng = np.random.default_rng(1)
    s, S = rng.uniform(0.5, 2, N), rng.uniform(0.5, 2, (N, d))
    H_ev, H_nv = colide.hessian_ev(X, W, s, power), colide.hessian_nv(X, W, S, power)
    for i in range(N):
        def f_ev(x: np.ndarray, i: int = i) -> float:
            R = X[i] - X[i] @ x[:-1].reshape(d, d, order="F")
            return float((R**2).sum() / (2 * n * x[-1] ** power) + d * x[-1] / 2)

        def f_nv(x: np.ndarray, i: int = i) -> float:
            R = X[i] - X[i] @ x[: d * d].reshape(d, d, order="F")
            return float(((R**2).sum(0) / (2 * n * x[d * d:] ** power) + x[d * d:] / 2).sum())

        x_ev = np.concatenate([W[i].reshape(-1, order="F"), [s[i]]])
        x_nv = np.concatenate([W[i].reshape(-1, order="F"), S[i]])
        scale = np.abs(H_ev[i]).max()
        np.testing.assert_allclose(H_ev[i], _fd_hessian(f_ev, x_ev), atol=1e-6 * scale)
        np.testing.assert_allclose(H_nv[i], _fd_hessian(f_nv, x_nv), atol=1e-6 * np.abs(H_nv[i]).max())


def test_score_hessian_is_psd_and_singular_along_the_ray() -> None:
    X, W = _data(2, N=8)
    s = np.full(8, 0.7)
    H = colide.hessian_ev(X, W, s)
    lam = colide.relative_min_eigenvalue(H)
    assert np.all(np.abs(lam) < 1e-12)
    # the null direction of the perspective: (vec(W - I), sigma)
    d = X.shape[2]
    v = np.concatenate([(W - np.eye(d)).transpose(0, 2, 1).reshape(8, -1), s[:, None]], axis=1)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", H, v), 0.0, atol=1e-10 * np.abs(H).max())
    assert np.all(colide.relative_min_eigenvalue(colide.hessian_ev(X, W, s, 2.0)) < -1e-3)


def test_closed_form_noise_matches_scipy_and_golden_section() -> None:
    X, W = _data(3, N=4, n=15, d=4)
    N, n, d = X.shape
    s_ev, s_nv = colide.sigma_ev(X, W), colide.sigma_nv(X, W)
    lo, hi = np.full(N, -30.0), np.full(N, 30.0)
    for i in range(N):
        def f(sig: float, i: int = i) -> float:
            return float(colide.scores(X[i:i + 1], W[i:i + 1], np.array([sig]), 0.3)[0])
        ref = minimize_scalar(f, bounds=(1e-6, 1e3), method="bounded", options={"xatol": 1e-12}).x
        assert abs(ref - s_ev[i]) / s_ev[i] < 1e-6
        for j in range(d):
            def g(sig: float, i: int = i, j: int = j) -> float:
                S = s_nv[i:i + 1].copy()
                S[0, j] = sig
                return float(colide.scores(X[i:i + 1], W[i:i + 1], S, 0.3, variance="nv")[0])
            ref = minimize_scalar(g, bounds=(1e-6, 1e3), method="bounded", options={"xatol": 1e-12}).x
            assert abs(ref - s_nv[i, j]) / s_nv[i, j] < 1e-6
    R2 = ((X - X @ W) ** 2).sum(axis=(1, 2))
    u = colide.golden_section_argmin(lambda u: R2 / (2 * n * np.exp(u)) + d * np.exp(u) / 2, lo, hi)
    np.testing.assert_allclose(np.exp(u), s_ev, rtol=1e-7)


def _cvxpy_solve(X: np.ndarray, lam: float, score: str) -> tuple[np.ndarray, float]:
    n, d = X.shape
    W = cp.Variable((d, d))
    R = X - X @ W
    if score == "colide":
        sig = cp.Variable(pos=True)
        obj = cp.quad_over_lin(cp.vec(R, order="F"), 2 * n * sig) + d * sig / 2
    elif score == "colide-nv":
        sig = cp.Variable(d, pos=True)
        obj = sum(cp.quad_over_lin(R[:, j], 2 * n * sig[j]) + sig[j] / 2 for j in range(d))
    else:
        obj = cp.sum_squares(R) / (2 * n)
    prob = cp.Problem(cp.Minimize(obj + lam * cp.sum(cp.abs(W))), [cp.diag(W) == 0])
    prob.solve(solver="CLARABEL")
    return W.value, float(prob.value)


@pytest.mark.parametrize("score", ["colide", "colide-nv", "lasso"])
@pytest.mark.parametrize("factor", [0.3, 0.9])
def test_solver_matches_cvxpy(score: str, factor: float) -> None:
    X, _ = _data(4, N=3, n=25, d=4)
    thr = {"colide": colide.zero_threshold_ev(X), "lasso": colide.zero_threshold_lasso(X),
           "colide-nv": colide.zero_threshold_nv(X).max(axis=1)}[score]
    lam = factor * thr
    W = colide.solve(X, lam, score, iters=3000)
    assert np.all(colide.kkt_residual(X, W, lam, score) < 1e-8)
    ours = colide.objective(X, W, lam, score)
    for i in range(3):
        Wc, val = _cvxpy_solve(X[i], float(lam[i]), score)
        # the profiled score equals the joint minimum over the scales; CLARABEL's accuracy is about 1e-8
        assert abs(ours[i] - val) <= 1e-6 * abs(val)
        assert ours[i] <= val + 1e-7 * abs(val)
        np.testing.assert_allclose(W[i], Wc, atol=1e-4)


def test_zero_thresholds_are_exact() -> None:
    X, _ = _data(5, N=4, n=25, d=4)
    for score, thr in (("colide", colide.zero_threshold_ev(X)), ("lasso", colide.zero_threshold_lasso(X))):
        assert np.all(colide.solve(X, thr * 1.001, score) == 0)
        assert np.all(np.abs(colide.solve(X, thr * 0.999, score)).max(axis=(1, 2)) > 0)
    col = colide.zero_threshold_nv(X)
    W_above = colide.solve(X, col[:, 0] * 1.001, "colide-nv")
    assert np.all(W_above[:, :, 0] == 0)
    # the threshold of column j does not change when x_j is scaled (pivotal), the lasso's does
    Xs = X.copy()
    Xs[:, :, 0] *= 7.0
    np.testing.assert_allclose(colide.zero_threshold_nv(Xs)[:, 0], col[:, 0], rtol=1e-12)
    np.testing.assert_allclose(colide.zero_threshold_lasso_columns(Xs)[:, 0],
                               7.0 * colide.zero_threshold_lasso_columns(X)[:, 0], rtol=1e-12)


def test_sem_instances_are_valid() -> None:
    params = {"n": 30, "d": 4, "eps": 0.01, "spread": 4.0}
    space = sim.sem_space(params)
    rng = np.random.default_rng(0)
    z = np.concatenate([space.sample(rng, 4), rng.uniform(space.low, space.high, (2, space.dim))])
    X, Ws = sim.sem_data(params, space.decode(z))
    assert np.all(np.tril(Ws) == 0) and np.all(Ws[:, :, -1] == 0) and np.all(Ws[:, -1, :] == 0)
    np.testing.assert_allclose(X, X @ Ws + (X - X @ Ws), atol=1e-12)
    assert np.all(np.linalg.svd(X - X @ Ws, compute_uv=False)[:, -1] >= 1 - 1e-12)  # Z = [I; Z']


def _decoded(space_fn, params: dict, count: int = 8) -> dict:
    space = space_fn(params)
    return space.decode(space.sample(np.random.default_rng(7), count))


@pytest.mark.parametrize("which", ["hessian", "argmin", "threshold"])
def test_array_api_strict_matches_numpy(which: str) -> None:
    if which == "hessian":
        params, space_fn, ev = {"n": 8, "d": 3}, sim.hessian_space, sim.evaluate_hessian
    elif which == "argmin":
        params, space_fn, ev = {"n": 10, "d": 3}, sim.argmin_space, sim.evaluate_argmin
    else:
        params, space_fn, ev = {"n": 20, "d": 3, "eps": 0.01, "spread": 4.0}, sim.sem_space, sim.evaluate_threshold
    inst = _decoded(space_fn, params)
    ref, strict = ev(params, inst, np), ev(params, inst, xps)
    for key in ref:
        np.testing.assert_allclose(strict[key], ref[key], rtol=1e-9, atol=1e-13)


def test_bad_inputs_are_rejected() -> None:
    X, W = _data(6)
    N, n, d = X.shape
    s = np.ones(N)
    with pytest.raises(UsageError, match="sigma must be > 0"):
        colide.hessian_ev(X, W, np.zeros(N))
    with pytest.raises(UsageError, match="sigma must have shape"):
        colide.hessian_nv(X, W, s)
    with pytest.raises(UsageError, match="X must be finite"):
        colide.sigma_ev(np.full_like(X, np.nan), W)
    with pytest.raises(UsageError, match="W must have shape"):
        colide.sigma_nv(X, W[:, :2])
    with pytest.raises(UsageError, match="X must have shape"):
        colide.zero_threshold_ev(X[0])
    with pytest.raises(UsageError, match="power must be"):
        colide.hessian_ev(X, W, s, power=0.0)
    with pytest.raises(UsageError, match="lam must be > 0"):
        colide.solve(X, np.zeros(N))
    with pytest.raises(UsageError, match="lam must be a finite number >= 0"):
        colide.scores(X, W, s, -1.0)
    with pytest.raises(UsageError, match="score must be one of"):
        colide.solve(X, s, score="ridge")
    with pytest.raises(UsageError, match="iters must be"):
        colide.solve(X, s, iters=0)
    with pytest.raises(UsageError, match="n > d"):
        colide.solve(X[:, :3], s)
    with pytest.raises(UsageError, match="lo must be < hi"):
        colide.golden_section_argmin(lambda u: u**2, np.ones(2), np.ones(2))
    with pytest.raises(UsageError, match="variance must be"):
        colide.scores(X, W, s, 0.1, variance="xx")
