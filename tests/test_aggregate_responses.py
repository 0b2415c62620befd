"""The aggregate-responses simulation (simulations/aggregate_responses.py): the loss terms against per-bag loops, the
identity in sympy, both estimators against numpy.linalg.lstsq, the conditional risks against explicit linear maps
of the responses, Bartlett's Wishart sampler against Wishart moments, the raw-data measure against a
per-replicate loop on the same random numbers, the same code on array-api-strict, and bad inputs."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest
import sympy as sp

from simulations.aggregate_responses import (
    bag_level_estimator,
    conditional_risks,
    data_space,
    evaluate_data,
    gram_parts,
    instance_level_estimator,
    loss_terms,
    measure_conditional_risks,
    measure_estimators,
    symbolic_identity_residual,
    wishart_bartlett,
)


def _bags(n: int, k: int) -> list[list[int]]:
    return [list(range(a * k, (a + 1) * k)) for a in range(n // k)]


def _slow_losses(X: np.ndarray, y: np.ndarray, theta: np.ndarray, k: int) -> tuple[float, float, float]:
    ins = bag = reg = 0.0
    for idx in _bags(len(y), k):
        ybar = sum(y[i] for i in idx) / k
        f = [float(X[i] @ theta) for i in idx]
        fbar = sum(f) / k
        bag += (ybar - fbar) ** 2
        for fi in f:
            ins += (ybar - fi) ** 2
            reg += (fi - fbar) ** 2
    return ins, bag, reg


def test_loss_terms_against_per_bag_loops() -> None:
    rng = np.random.default_rng(0)
    X, y, theta = rng.standard_normal((5, 12, 3)), rng.standard_normal((5, 12)), rng.standard_normal((5, 3))
    for k in (1, 2, 3, 4, 6, 12):
        fast = loss_terms(X, y, theta, k, np)
        for i in range(5):
            ins, bag, reg = _slow_losses(X[i], y[i], theta[i], k)
            np.testing.assert_allclose([fast["ins"][i], fast["bag"][i], fast["reg"][i]], [ins, bag, reg],
                                       rtol=1e-12)
            assert abs(ins - (k * bag + reg)) <= 1e-10 * ins  # the identity, to rounding


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_identity_is_a_polynomial_identity(k: int, d: int) -> None:
    assert symbolic_identity_residual(k, d) == 0


def test_symbolic_mutants_do_not_vanish() -> None:
    assert symbolic_identity_residual(2, 2, bag_factor=1) != 0  # the factor k forgotten
    assert symbolic_identity_residual(3, 1, regulariser_factor=0) != 0  # the regulariser dropped
    assert symbolic_identity_residual(2, 1, regulariser_factor=sp.Rational(1000001, 1000000)) != 0


def test_estimators_against_lstsq() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((4, 24, 3)), rng.standard_normal((4, 24))
    for k in (1, 2, 3, 4, 6):
        th_bag, th_ins = bag_level_estimator(X, y, k, np), instance_level_estimator(X, y, k, np)
        for i in range(4):
            Xb = X[i].reshape(24 // k, k, 3).mean(axis=1)
            yb = y[i].reshape(24 // k, k).mean(axis=1)
            np.testing.assert_allclose(th_bag[i], np.linalg.lstsq(Xb, yb, rcond=None)[0], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(th_ins[i], np.linalg.lstsq(X[i], np.repeat(yb, k), rcond=None)[0],
                                       rtol=1e-9, atol=1e-12)


def _linear_maps(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """theta_bag = M_bag y and theta_ins = M_ins y, from an explicit n x n averaging matrix P."""
    n, d = X.shape
    P = np.zeros((n, n))
    for idx in _bags(n, k):
        P[np.ix_(idx, idx)] = 1.0 / k
    avg = np.zeros((n // k, n))
    for a, idx in enumerate(_bags(n, k)):
        avg[a, idx] = 1.0 / k
    Xb = avg @ X
    return np.linalg.pinv(Xb) @ avg, np.linalg.pinv(X) @ P


def test_conditional_risks_against_explicit_linear_maps() -> None:
    rng = np.random.default_rng(2)
    sigma, r = 0.7, 1.3
    X = rng.standard_normal((3, 30, 4))
    for k in (1, 2, 3, 5):
        A, B = gram_parts(X, k, np)
        out = conditional_risks(A, B, sigma, r, np)
        for i in range(3):
            M_bag, M_ins = _linear_maps(X[i], k)
            np.testing.assert_allclose(M_bag @ X[i], np.eye(4), atol=1e-10)  # the bag-level estimator is unbiased
            mean_map = M_ins @ X[i] - np.eye(4)  # E[theta_ins] - theta_0 = mean_map theta_0
            # the average of ||mean_map u||^2 over a uniform direction u of norm r is r^2 / d ||mean_map||_F^2
            bias = r**2 / 4 * sum(np.sum((mean_map @ e) ** 2) for e in np.eye(4))
            np.testing.assert_allclose(out["risk_bag"][i], sigma**2 * np.trace(M_bag @ M_bag.T), rtol=1e-9)
            np.testing.assert_allclose(out["var_ins"][i], sigma**2 * np.trace(M_ins @ M_ins.T), rtol=1e-9)
            np.testing.assert_allclose(out["bias_ins"][i], bias, rtol=1e-9, atol=1e-14)
            assert out["var_ins"][i] <= out["risk_bag"][i] * (1 + 1e-12)


def test_conditional_risks_against_monte_carlo_over_noise_and_direction() -> None:
    """Noise and theta_0 drawn for one fixed design: the mean squared errors approach the conditional risks."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((1, 20, 3))
    k, sigma, r, reps = 2, 0.5, 1.0, 40000
    A, B = gram_parts(X, k, np)
    out = conditional_risks(A, B, sigma, r, np)
    theta0 = rng.standard_normal((reps, 3))
    theta0 *= r / np.linalg.norm(theta0, axis=1, keepdims=True)
    Xr = np.broadcast_to(X, (reps, 20, 3))
    y = np.einsum("bnd,bd->bn", Xr, theta0) + sigma * rng.standard_normal((reps, 20))
    err_bag = np.sum((bag_level_estimator(Xr, y, k, np) - theta0) ** 2, axis=1)
    err_ins = np.sum((instance_level_estimator(Xr, y, k, np) - theta0) ** 2, axis=1)
    for err, expected in ((err_bag, out["risk_bag"][0]), (err_ins, out["risk_ins"][0])):
        assert abs(err.mean() - expected) < 4 * err.std() / np.sqrt(reps)


def test_bartlett_wishart_moments() -> None:
    rng = np.random.default_rng(4)
    dof, d, reps = 9, 4, 100000
    W = wishart_bartlett(rng, reps, dof, d)
    np.testing.assert_allclose(W.mean(axis=0), dof * np.eye(d), atol=0.05 * dof)
    var = W.var(axis=0)
    expected = dof * (np.ones((d, d)) + np.eye(d))  # Var W_ij = dof (1 + delta_ij) for the identity scale
    np.testing.assert_allclose(var, expected, rtol=0.05)
    tr_inv = np.trace(np.linalg.inv(W), axis1=1, axis2=2)
    assert abs(tr_inv.mean() - d / (dof - d - 1)) < 4 * tr_inv.std() / np.sqrt(reps)


def test_wishart_risks_match_raw_data_in_distribution() -> None:
    """The Bartlett shortcut against Gram matrices of raw data: same mean conditional risks (small d)."""
    params = {"d": 4, "k": 2, "psi": 10, "sigma": 1.0, "r": 1.0}
    fast = measure_conditional_risks(params, np.random.default_rng(5), 20000, np)
    X = np.random.default_rng(6).standard_normal((20000, 40, 4))
    raw = conditional_risks(*gram_parts(X, 2, np), 1.0, 1.0, np)
    for name in ("risk_bag", "bias_ins", "var_ins"):
        se = np.hypot(fast[name].std(), raw[name].std()) / np.sqrt(20000)
        assert abs(fast[name].mean() - raw[name].mean()) < 4 * se, name
    np.testing.assert_allclose(raw["risk_bag"].mean(), 4 / (20 - 4 - 1), rtol=0.02)  # inverse-Wishart mean


def _slow_measure(params: dict, seed: int, count: int) -> dict[str, np.ndarray]:
    """One replicate at a time, with lstsq, from the same random numbers in the same order."""
    rng = np.random.default_rng(seed)
    d, k = params["d"], params["k"]
    n = params["psi"] * d
    theta0 = rng.standard_normal((count, d))
    theta0 *= params["r"] / np.linalg.norm(theta0, axis=1, keepdims=True)
    X = rng.standard_normal((count, n, d))
    noise = params["sigma"] * rng.standard_normal((count, n))
    out = {"err_bag": np.empty(count), "err_ins": np.empty(count), "noise_ins": np.empty(count)}
    for i in range(count):
        y = X[i] @ theta0[i] + noise[i]
        Xb = X[i].reshape(n // k, k, d).mean(axis=1)
        yb, eb = y.reshape(n // k, k).mean(axis=1), noise[i].reshape(n // k, k).mean(axis=1)
        out["err_bag"][i] = np.sum((np.linalg.lstsq(Xb, yb, rcond=None)[0] - theta0[i]) ** 2)
        out["err_ins"][i] = np.sum((np.linalg.lstsq(X[i], np.repeat(yb, k), rcond=None)[0] - theta0[i]) ** 2)
        out["noise_ins"][i] = np.sum(np.linalg.lstsq(X[i], np.repeat(eb, k), rcond=None)[0] ** 2)
    return out


def test_raw_data_measure_against_a_per_replicate_loop() -> None:
    params = {"d": 3, "k": 2, "psi": 4, "sigma": 0.8, "r": 1.5}
    fast = measure_estimators(params, np.random.default_rng(7), 6, np)
    slow = _slow_measure(params, 7, 6)
    for name in fast:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-9, err_msg=name)


def test_evaluator_bags_follow_the_ranks() -> None:
    params = {"n": 6, "d": 2, "k": 2}
    space = data_space(params)
    inst = space.decode(space.sample(np.random.default_rng(8), 3))
    out = evaluate_data(params, inst, np)
    for i in range(3):
        perm = np.argsort(inst["order"][i])
        ins, bag, reg = _slow_losses(inst["X"][i][perm], inst["y"][i][perm], inst["theta"][i], 2)
        np.testing.assert_allclose([out["ins"][i], out["bag"][i], out["reg"][i]], [ins, bag, reg], rtol=1e-12)
        M_bag, M_ins = _linear_maps(inst["X"][i][perm], 2)
        np.testing.assert_allclose(out["var_bag"][i], np.trace(M_bag @ M_bag.T), rtol=1e-9)
        np.testing.assert_allclose(out["var_ins"][i], np.trace(M_ins @ M_ins.T), rtol=1e-9)


def test_same_code_on_array_api_strict() -> None:
    params = {"d": 3, "k": 2, "psi": 4, "sigma": 0.8, "r": 1.5}
    for measure in (measure_estimators, measure_conditional_risks):
        strict = measure(params, np.random.default_rng(9), 5, array_api_strict)
        plain = measure(params, np.random.default_rng(9), 5, np)
        for name in plain:
            np.testing.assert_allclose(strict[name], plain[name], rtol=1e-10, err_msg=name)
    sparams = {"n": 6, "d": 2, "k": 3}
    space = data_space(sparams)
    inst = space.decode(space.sample(np.random.default_rng(10), 4))
    strict, plain = evaluate_data(sparams, inst, array_api_strict), evaluate_data(sparams, inst, np)
    for name in plain:
        np.testing.assert_allclose(strict[name], plain[name], rtol=1e-10, err_msg=name)


def test_bad_inputs_are_rejected() -> None:
    rng = np.random.default_rng(11)
    X, y, theta = rng.standard_normal((2, 12, 3)), rng.standard_normal((2, 12)), rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="k .* positive integer"):
        loss_terms(X, y, theta, 0, np)
    with pytest.raises(ValueError, match="k .* must divide"):
        bag_level_estimator(X, y, 5, np)
    with pytest.raises(ValueError, match="finite"):
        instance_level_estimator(np.where(X > 1, np.nan, X), y, 2, np)
    with pytest.raises(ValueError, match="y must have shape"):
        loss_terms(X, y[:, :6], theta, 2, np)
    with pytest.raises(ValueError, match="X must have shape"):
        bag_level_estimator(X[0], y, 2, np)
    with pytest.raises(ValueError, match="theta must have shape"):
        loss_terms(X, y, theta[:, :2], 2, np)
    with pytest.raises(ValueError, match="number of bags"):
        bag_level_estimator(X, y, 6, np)  # 2 bags for d = 3
    A = np.broadcast_to(np.eye(3), (2, 3, 3))
    with pytest.raises(ValueError, match="sigma"):
        conditional_risks(A, A, -1.0, 1.0, np)
    with pytest.raises(ValueError, match="r "):
        conditional_risks(A, A, 1.0, float("nan"), np)
    with pytest.raises(ValueError, match="A and B"):
        conditional_risks(A, A[:, :2, :2], 1.0, 1.0, np)
    with pytest.raises(ValueError, match="dof"):
        wishart_bartlett(rng, 2, 2, 3)
    with pytest.raises(ValueError, match="k .* must divide"):
        measure_estimators({"d": 3, "k": 4, "psi": 3, "sigma": 1.0, "r": 1.0}, rng, 2, np)
