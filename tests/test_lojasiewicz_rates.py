"""Gradient flows of the Lojasiewicz paper: the batched adaptive integrators against scipy's solve_ivp and closed
forms, the closed forms against solve_ivp, the path lengths against independent quadratures, the derived
Lojasiewicz constants against the inequality they claim, array-api-strict, and bad inputs.

Tolerances: the integrators run at local rtol 1e-10; their global error stays below 1e-8 relative (asserted
below), two orders below the rtol 1e-6 of the sure claims that use them.
"""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from boundlab.errors import UsageError
from simulations.lojasiewicz_rates import (
    evaluate_loss,
    evaluate_path,
    exponent,
    gap_at,
    lojasiewicz_constant,
    loss_gap,
    loss_grad,
    loss_space,
    measure_gap,
    path_length,
    path_space,
    problem_data,
)
from solvers.gradient_flow import flow_log_time, flow_loss_time

QN = {"problem": "quartic-norm", "d": 3, "alpha": 0.75}
PS2 = {"problem": "power-sum", "k": 2, "d": 3, "alpha": 0.75}
PS3 = {"problem": "power-sum", "k": 3, "d": 2, "alpha": 5 / 6}
LS = {"problem": "linear-regression", "d": 3, "alpha": 0.5}
QR = {"problem": "quartic-regression", "d": 2, "n": 4, "alpha": 0.75}
ALL = (QN, PS2, PS3, LS, QR)


def _instances(params: dict, n: int, seed: int, space=path_space) -> tuple[dict, dict]:
    sp_ = space(params)
    inst = sp_.decode(sp_.sample(np.random.default_rng(seed), n))
    return inst, problem_data(params, inst, np)


def _row(data: dict, i: int) -> dict:
    return {k: v[i:i + 1] for k, v in data.items()}


def _ode(params: dict, data: dict):
    def f(_t: float, z: np.ndarray) -> np.ndarray:
        return -loss_grad(params["problem"], z[None, :], data, params, np)[0]
    return f


@pytest.mark.parametrize("params", ALL, ids=lambda p: p["problem"] + str(p.get("k", "")))
def test_gap_at_matches_solve_ivp(params: dict) -> None:
    """Closed forms (and, for quartic regression, the log-time integrator) against solve_ivp, rtol 1e-11."""
    _, data = _instances(params, 6, 1)
    # least squares decays exponentially: its times stay where solve_ivp's absolute tolerance still resolves it
    times = np.array([0.0, 0.01, 0.3, 2.0, 10.0, 40.0 if params["problem"] == "linear-regression" else 700.0])
    got = gap_at(params, data, times, np)
    for i, t in enumerate(times):
        row = _row(data, i)
        ref = solve_ivp(_ode(params, row), (0.0, t), row["z0"][0], method="DOP853", rtol=1e-12, atol=1e-20).y[:, -1]
        want = loss_gap(params["problem"], ref[None, :], row, params, np)[0]
        assert abs(got[i] - want) <= 1e-8 * want + 1e-300, (params["problem"], t, got[i], want)


def test_log_time_flow_matches_closed_form() -> None:
    _, data = _instances(QN, 32, 2)
    z0 = data["z0"]
    t = 10.0 ** np.random.default_rng(3).uniform(-2, 4, 32)
    z = flow_log_time(lambda z: loss_grad("quartic-norm", z, data, QN, np), z0, t, np)
    exact = z0 / np.sqrt(1 + 2 * np.sum(z0**2, axis=1, keepdims=True) * t[:, None])
    np.testing.assert_allclose(z, exact, rtol=1e-9, atol=0)


def test_loss_clock_matches_closed_form() -> None:
    """On (1/4)||w||^4: gap = gap_0 e^{-lambda}, t = (e^{lambda/2} - 1) / (2 r0^2), s = r0 (1 - e^{-lambda/4})."""
    _, data = _instances(QN, 32, 4)
    z0 = data["z0"]
    depth = np.random.default_rng(5).uniform(0, 60, 32)
    z, t, s = flow_loss_time(lambda z: loss_grad("quartic-norm", z, data, QN, np),
                             lambda z: loss_gap("quartic-norm", z, data, QN, np), z0, depth, np)
    r0 = np.sqrt(np.sum(z0**2, axis=1))
    np.testing.assert_allclose(loss_gap("quartic-norm", z, data, QN, np), r0**4 / 4 * np.exp(-depth), rtol=1e-8)
    np.testing.assert_allclose(t, np.expm1(depth / 2) / (2 * r0**2), rtol=1e-8)
    np.testing.assert_allclose(s, r0 * -np.expm1(-depth / 4), rtol=1e-8)


@pytest.mark.parametrize("params", (PS2, PS3, LS, QR), ids=lambda p: p["problem"] + str(p.get("k", "")))
def test_loss_clock_gap_is_exact(params: dict) -> None:
    """The loss clock's defining property holds along the integrated trajectory: gap = gap_0 e^{-lambda}."""
    _, data = _instances(params, 16, 6)
    depth = np.full(16, 30.0)
    prob = params["problem"]
    z, _, _ = flow_loss_time(lambda z: loss_grad(prob, z, data, params, np),
                             lambda z: loss_gap(prob, z, data, params, np), data["z0"], depth, np)
    np.testing.assert_allclose(loss_gap(prob, z, data, params, np),
                               loss_gap(prob, data["z0"], data, params, np) * np.exp(-depth), rtol=1e-8)


def _length_reference(params: dict, row: dict) -> float:
    """Path length from an independent computation: quad over t of ||grad L|| on the closed-form trajectory
    (power sum, least squares), or solve_ivp in the loss clock to lambda = 30 p (quartic regression)."""
    prob = params["problem"]

    def speed(t: float) -> float:
        z = row["z0"]
        if prob == "power-sum":
            k, a = int(params["k"]), np.abs(z)
            z = np.sign(z) * a * (1 + 2 * k * (2 * k - 2) * a ** (2 * k - 2) * t) ** (-1 / (2 * k - 2))
        else:  # least squares: z(t) = Q e^{-Lambda t} Q^T z0
            lam, Q = np.linalg.eigh(row["H"][0])
            z = (Q @ (np.exp(-lam * t) * (Q.T @ z[0])))[None, :]
        return float(np.linalg.norm(loss_grad(prob, z, row, params, np)))

    if prob in ("power-sum", "linear-regression"):
        # u = log(1 + t) turns the slowly decaying tail into a short, smooth integral
        value, err = quad(lambda u: speed(np.expm1(u)) * np.exp(u), 0, 240, limit=1000, epsabs=0, epsrel=1e-12)
        return value
    d = row["z0"].shape[1]

    def f(_lam: float, y: np.ndarray) -> np.ndarray:
        g = loss_grad(prob, y[None, :d], row, params, np)[0]
        gp = loss_gap(prob, y[None, :d], row, params, np)[0]
        return np.concatenate([-g * gp / (g @ g), [gp / np.sqrt(g @ g)]])

    sol = solve_ivp(f, (0, 120), np.concatenate([row["z0"][0], [0.0]]), method="DOP853", rtol=1e-12, atol=1e-22)
    return float(sol.y[-1, -1])


@pytest.mark.parametrize("params", (PS2, PS3, LS, QR), ids=lambda p: p["problem"] + str(p.get("k", "")))
def test_path_length_matches_independent_reference(params: dict) -> None:
    _, data = _instances(params, 6, 7)
    got = path_length(params, data, np)
    for i in range(6):
        want = _length_reference(params, _row(data, i))
        assert abs(got[i] - want) <= 1e-8 * want, (params["problem"], got[i], want)


def test_quartic_norm_path_is_the_distance() -> None:
    _, data = _instances(QN, 8, 8)
    np.testing.assert_allclose(path_length(QN, data, np), np.linalg.norm(data["z0"], axis=1), rtol=1e-14)


@pytest.mark.parametrize("params", ALL, ids=lambda p: p["problem"] + str(p.get("k", "")))
def test_derived_constant_satisfies_the_inequality(params: dict) -> None:
    """||grad L|| >= c gap^alpha at many random points (any point, not only the trajectory), to rounding."""
    _, data = _instances(params, 4000, 9)
    z = data["z0"] * np.random.default_rng(10).uniform(0.01, 3, (4000, 1))
    prob = params["problem"]
    g = np.linalg.norm(loss_grad(prob, z, data, params, np), axis=1)
    bound = lojasiewicz_constant(params, data, np) * loss_gap(prob, z, data, params, np) ** exponent(params)
    assert np.all(g >= bound * (1 - 1e-12))
    assert exponent(params) == pytest.approx(params["alpha"])


def test_equality_cases_of_the_constants() -> None:
    """The constants are attained: everywhere for (1/4)||w||^4, on |w_j| equal for the power sum, on the softest
    eigenvector for least squares."""
    for params, z in ((QN, np.array([[0.3, -0.2, 0.9]])), (PS3, np.array([[0.4, -0.4]]))):
        data = {"z0": z}
        g = np.linalg.norm(loss_grad(params["problem"], z, data, params, np), axis=1)
        c = lojasiewicz_constant(params, data, np)
        np.testing.assert_allclose(g, c * loss_gap(params["problem"], z, data, params, np) ** params["alpha"],
                                   rtol=1e-12)
    H = np.diag([0.2, 0.5, 0.9])[None]
    z = np.array([[0.7, 0.0, 0.0]])
    data = {"z0": z, "H": H}
    g = np.linalg.norm(loss_grad("linear-regression", z, data, LS, np), axis=1)
    np.testing.assert_allclose(g, lojasiewicz_constant(LS, data, np)
                               * np.sqrt(loss_gap("linear-regression", z, data, LS, np)), rtol=1e-12)


@pytest.mark.parametrize("params", ALL, ids=lambda p: p["problem"] + str(p.get("k", "")))
def test_same_code_on_array_api_strict(params: dict) -> None:
    for space, evaluate in ((loss_space, evaluate_loss), (path_space, evaluate_path)):
        if params["problem"] == "quartic-regression" and evaluate is evaluate_path:
            n = 2
        else:
            n = 5
        sp_ = space(params)
        inst = sp_.decode(sp_.sample(np.random.default_rng(11), n))
        plain = evaluate(params, inst, np)
        strict = evaluate(params, inst, array_api_strict)
        assert set(plain) == set(strict)
        for name in plain:
            np.testing.assert_allclose(strict[name], plain[name], rtol=1e-12)
    if params["problem"] in ("quartic-regression", "power-sum"):
        p = {**params, "t": 100.0}
        np.testing.assert_allclose(measure_gap(p, np.random.default_rng(12), 4, array_api_strict)["gap"],
                                   measure_gap(p, np.random.default_rng(12), 4, np)["gap"], rtol=1e-12)


def test_bad_inputs_are_rejected() -> None:
    _, data = _instances(QR, 3, 13)

    def grad(z):
        return loss_grad("quartic-regression", z, data, QR, np)

    def gap(z):
        return loss_gap("quartic-regression", z, data, QR, np)

    z0 = data["z0"]
    with pytest.raises(UsageError, match="t must be finite and >= 0"):
        flow_log_time(grad, z0, np.array([1.0, -1.0, 2.0]), np)
    with pytest.raises(UsageError, match="t must be finite"):
        flow_log_time(grad, z0, np.array([1.0, np.nan, 2.0]), np)
    with pytest.raises(UsageError, match=r"t must have shape \(N,\)"):
        flow_log_time(grad, z0, np.array([1.0, 2.0]), np)
    with pytest.raises(UsageError, match=r"z0 must have shape \(N, d\)"):
        flow_log_time(grad, z0[0], np.array([1.0]), np)
    with pytest.raises(UsageError, match="z0 must be finite"):
        flow_log_time(grad, np.where(z0 > 0, np.inf, z0), np.ones(3), np)
    for bad in (0.0, -1e-8, 1.0, float("nan"), True):
        with pytest.raises(UsageError, match="rtol"):
            flow_log_time(grad, z0, np.ones(3), np, rtol=bad)
    with pytest.raises(UsageError, match="depth must be finite and >= 0"):
        flow_loss_time(grad, gap, z0, np.array([1.0, -2.0, 1.0]), np)
    with pytest.raises(UsageError, match="stationary point"):
        flow_loss_time(grad, gap, np.zeros_like(z0), np.ones(3), np)
    with pytest.raises(ValueError, match="problem must be one of"):
        path_space({"problem": "cubic", "d": 2})
    with pytest.raises(ValueError, match="n > d"):
        path_space({"problem": "quartic-regression", "d": 3, "n": 3})
