"""INPO's preference games (solvers/preference_games.py, simulations/inpo.py) against independent references.

* the Nash policy (damped Newton) against cvxpy/CLARABEL minimising the convex DualGap, and against entropic
  extragradient (mirror prox) run game by game, to 5e-6 (CLARABEL's exponential-cone accuracy) and 1e-9;
* the tau = 0 duality gap at the maximin policy of the linear program (scipy/HiGHS): 0 to 1e-9;
* the DualGap closed form against brute-force best responses on a simplex grid (K = 3) and against scipy's
  maximisation over logits (K = 4);
* one OMD step against Eq. (4) solved by cvxpy/CLARABEL and against a per-entry loop of Eq. (5)'s first line;
* the evaluators and the measure against slow per-game loops, and the same code on array-api-strict;
* bad input raising UsageError (a ValueError) naming the parameter;
* the sharper one-step constant derived in the theorem module's docstring, (1 + 2 tau B)^2 / (8 eta^2).
"""

from __future__ import annotations

import array_api_compat.numpy as xnp
import array_api_strict
import cvxpy as cp
import numpy as np
import pytest
from scipy import optimize

from boundlab import UsageError
from simulations.inpo import (
    contraction_space,
    decay_space,
    draw_games,
    evaluate_contraction,
    evaluate_decay,
    measure_averaged_gap,
    preference_matrix,
)
from solvers.preference_games import duality_gap, kl, nash, omd_step

_TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "max_iter": 500}  # CLARABEL settings;
# its exponential-cone solutions are then accurate to a few 1e-6 in pi (measured: at most 3.5e-6), hence atol 5e-6


def _games(seed: int, n: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    g = draw_games(np.random.default_rng(seed), n, K)
    P = preference_matrix(g["scores"], g["antisym"], g["kappa"])
    ref = g["ref"] - np.log(np.exp(g["ref"]).sum(axis=1, keepdims=True))
    return P, ref


def _J(P: np.ndarray, p1: np.ndarray, p2: np.ndarray, ref: np.ndarray, tau: float) -> float:
    def KL(p: np.ndarray) -> float:
        return float(np.sum(p * (np.log(p) - ref))) if tau > 0 else 0.0

    return float(p1 @ P @ p2) - tau * KL(p1) + tau * KL(p2)


# ------------------------------------------------------------------------------------------- Nash policy
@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_nash_against_cvxpy_clarabel(tau: float) -> None:
    P, ref = _games(0, 4, 5)
    star = np.exp(nash(P, ref, tau, xnp))
    for i in range(4):
        pi = cp.Variable(5, nonneg=True)
        r = np.exp(ref[i])
        dual_gap = (tau * cp.log_sum_exp(ref[i] + P[i] @ pi / tau) + tau * cp.log_sum_exp(ref[i] - P[i].T @ pi / tau)
                    + 2 * tau * cp.sum(cp.kl_div(pi, r)))
        problem = cp.Problem(cp.Minimize(dual_gap), [cp.sum(pi) == 1])
        problem.solve(solver=cp.CLARABEL, **_TIGHT)
        assert problem.status == "optimal"
        assert abs(problem.value) < 1e-7
        np.testing.assert_allclose(star[i], pi.value, atol=5e-6)


def _extragradient(P: np.ndarray, ref: np.ndarray, tau: float, steps: int = 20000) -> np.ndarray:
    """Entropic mirror prox on F(pi) = -P pi + tau log(pi / pi_ref), one game (slow, obviously correct)."""
    alpha = 0.5 / (1.0 + tau)
    log_pi = ref.copy()
    for _ in range(steps):
        pi = np.exp(log_pi)
        half = log_pi - alpha * (-P @ pi + tau * (log_pi - ref))
        half -= np.log(np.exp(half).sum())
        new = log_pi - alpha * (-P @ np.exp(half) + tau * (half - ref))
        new -= np.log(np.exp(new).sum())
        if np.max(np.abs(new - log_pi)) < 1e-15:
            return np.exp(new)
        log_pi = new
    return np.exp(log_pi)


@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_nash_against_extragradient(tau: float) -> None:
    P, ref = _games(1, 3, 4)
    star = np.exp(nash(P, ref, tau, xnp))
    for i in range(3):
        np.testing.assert_allclose(star[i], _extragradient(P[i], ref[i], tau), atol=1e-9)
        assert abs(float(duality_gap(P[i:i + 1], np.log(star[i:i + 1]), ref[i:i + 1], tau, xnp)[0])) < 1e-12


def test_unregularised_gap_vanishes_at_the_linear_program_solution() -> None:
    """tau = 0: the maximin policy of the LP (HiGHS) has DualGap 0 and game value 1/2 (P + P^T = 1)."""
    P, ref = _games(2, 4, 6)
    for i in range(4):
        K = 6  # variables (pi, v): maximise v subject to (P^T pi)_j >= v, sum pi = 1, pi >= 0
        res = optimize.linprog(np.r_[np.zeros(K), -1.0], A_ub=np.c_[-P[i].T, np.ones(K)], b_ub=np.zeros(K),
                               A_eq=np.r_[np.ones(K), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * K + [(None, None)],
                               method="highs")
        assert res.status == 0
        assert abs(-res.fun - 0.5) < 1e-9
        pi = np.maximum(res.x[:K], 1e-300)
        assert abs(float(duality_gap(P[i:i + 1], np.log(pi / pi.sum())[None], ref[i:i + 1], 0.0, xnp)[0])) < 1e-9


def test_nash_reports_non_convergence() -> None:
    from boundlab import MeasurementError

    P, ref = _games(3, 2, 4)
    with pytest.raises(MeasurementError, match="did not reach"):
        nash(P, ref, 0.05, xnp, tol=1e-30, max_iter=2)


# ------------------------------------------------------------------------------------------- duality gap
def _simplex_grid(m: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(1, m), np.arange(1, m), indexing="ij")
    keep = i + j < m
    return np.stack([i[keep], j[keep], m - i[keep] - j[keep]], axis=1) / m


@pytest.mark.parametrize("tau", [0.0, 0.3])
def test_duality_gap_against_brute_force_best_responses_on_a_grid(tau: float) -> None:
    P, ref = _games(4, 3, 3)
    grid = _simplex_grid(400)
    rng = np.random.default_rng(5)
    for i in range(3):
        pi = rng.dirichlet(np.ones(3))
        closed = float(duality_gap(P[i:i + 1], np.log(pi)[None], ref[i:i + 1], tau, xnp)[0])
        best = max(_J(P[i], p1, pi, ref[i], tau) for p1 in grid) - min(_J(P[i], pi, p2, ref[i], tau) for p2 in grid)
        assert best <= closed + 1e-12  # the closed form is the exact maximum over the whole simplex
        assert closed - best < 5e-3  # the grid (step 1/400) gets within its resolution


def test_duality_gap_against_scipy_best_responses() -> None:
    P, ref = _games(6, 3, 4)
    tau = 0.2
    rng = np.random.default_rng(7)
    for i in range(3):
        pi = rng.dirichlet(np.ones(4))
        Pi, ri = P[i], ref[i]

        def soft(z: np.ndarray) -> np.ndarray:
            e = np.exp(z - z.max())
            return e / e.sum()

        def against(z: np.ndarray, Pi: np.ndarray = Pi, ri: np.ndarray = ri, pi: np.ndarray = pi) -> float:
            return -_J(Pi, soft(z), pi, ri, tau)

        def as_opponent(z: np.ndarray, Pi: np.ndarray = Pi, ri: np.ndarray = ri, pi: np.ndarray = pi) -> float:
            return _J(Pi, pi, soft(z), ri, tau)

        up = optimize.minimize(against, np.zeros(4), method="BFGS", options={"gtol": 1e-12})
        down = optimize.minimize(as_opponent, np.zeros(4), method="BFGS", options={"gtol": 1e-12})
        closed = float(duality_gap(P[i:i + 1], np.log(pi)[None], ref[i:i + 1], tau, xnp)[0])
        assert abs(closed - (-up.fun - down.fun)) < 1e-8


# ------------------------------------------------------------------------------------------- OMD step
def test_omd_step_against_equation_4_and_a_slow_loop() -> None:
    P, ref = _games(8, 3, 5)
    rng = np.random.default_rng(9)
    log_pi = np.log(rng.dirichlet(np.ones(5), size=3))
    tau, eta = 0.3, 0.7
    fast = np.exp(omd_step(P, log_pi, ref, tau, eta, xnp))
    for i in range(3):
        pi_t = np.exp(log_pi[i])
        grad = np.array([-sum(P[i, y, z] * pi_t[z] for z in range(5)) + tau * (log_pi[i, y] - ref[i, y] + 1)
                         for y in range(5)])
        slow = np.array([pi_t[y] * np.exp(-grad[y] / eta) for y in range(5)])
        np.testing.assert_allclose(fast[i], slow / slow.sum(), rtol=1e-12)
        x = cp.Variable(5, nonneg=True)
        problem = cp.Problem(cp.Minimize(grad @ x + eta * cp.sum(cp.kl_div(x, pi_t))), [cp.sum(x) == 1])
        problem.solve(solver=cp.CLARABEL, **_TIGHT)
        np.testing.assert_allclose(fast[i], x.value, atol=5e-6)


def test_kl_against_the_definition() -> None:
    rng = np.random.default_rng(10)
    p, q = rng.dirichlet(np.ones(4), size=5), rng.dirichlet(np.ones(4), size=5)
    np.testing.assert_allclose(kl(np.log(p), np.log(q), xnp), np.sum(p * np.log(p / q), axis=1), rtol=1e-12)


# ------------------------------------------------------------------------------------------- evaluators
def _instances(space_fn: object, params: dict, seed: int, n: int) -> dict[str, np.ndarray]:
    space = space_fn(params)  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    z = np.concatenate([space.sample(rng, n), rng.uniform(space.low, space.high, size=(2, space.dim))])
    return space.decode(z)


def _slow_run(P: np.ndarray, ref: np.ndarray, tau: float, etas: list[float]) -> list[np.ndarray]:
    pis = [np.exp(ref)]
    for eta in etas:
        w = P @ pis[-1]
        logits = w / eta + tau / eta * ref + (1 - tau / eta) * np.log(pis[-1])
        e = np.exp(logits - logits.max())
        pis.append(e / e.sum())
    return pis


def test_instances_are_valid_games() -> None:
    inst = _instances(contraction_space, {"K": 4}, 11, 6)
    P = preference_matrix(inst["scores"], inst["antisym"], inst["kappa"])
    np.testing.assert_allclose(P + np.transpose(P, (0, 2, 1)), 1.0, atol=1e-15)
    np.testing.assert_allclose(inst["ref"].sum(axis=1), 1.0, atol=1e-12)
    tau = 10.0 ** inst["log10_tau"]
    assert np.all((tau >= 0.05 - 1e-12) & (tau <= 10**0.5 + 1e-12))
    assert np.all((inst["eta_ratio"] >= 1.0) & (inst["eta_ratio"] <= 10.0))


def test_contraction_evaluator_against_a_slow_loop() -> None:
    params = {"K": 4, "T": 12}
    inst = _instances(contraction_space, params, 12, 5)
    out = evaluate_contraction(params, inst, xnp)
    P = preference_matrix(inst["scores"], inst["antisym"], inst["kappa"])
    for i in range(P.shape[0]):
        ref = np.log(inst["ref"][i])
        tau = float(10.0 ** inst["log10_tau"][i, 0])
        eta = tau * float(inst["eta_ratio"][i, 0])
        star = _extragradient(P[i], ref, tau)
        pis = _slow_run(P[i], ref, tau, [eta] * 12)
        kls = [float(np.sum(star * np.log(star / p))) for p in pis]
        B = max(float(np.max(np.abs(np.log(p) - ref))) for p in pis)
        drift = max(kls[t + 1] - (1 - tau / eta) * kls[t] for t in range(12))
        assert abs(out["drift"][i] - drift) < 1e-9
        assert abs(out["B"][i] - B) < 1e-9
        C = max(B * tau, 1.0)
        ratio = max(kls[t + 1] / ((1 - tau / eta) * kls[t] + 8 * C**2 / eta**2) for t in range(12))
        assert abs(out["step_ratio"][i] - ratio) < 1e-9
        # the sharper constant of the docstring: Hoeffding's lemma on the shifted delta
        assert drift <= (1 + 2 * tau * B) ** 2 / (8 * eta**2) + 1e-12


def test_decay_evaluator_against_a_slow_loop() -> None:
    params = {"K": 3, "T": 9}
    inst = _instances(decay_space, params, 13, 4)
    out = evaluate_decay(params, inst, xnp)
    P = preference_matrix(inst["scores"], inst["antisym"], inst["kappa"])
    for i in range(P.shape[0]):
        ref = np.log(inst["ref"][i])
        tau = float(10.0 ** inst["log10_tau"][i, 0])
        star = _extragradient(P[i], ref, tau)
        pis = _slow_run(P[i], ref, tau, [tau * (t + 2) / 2 for t in range(1, 9)])
        assert len(pis) == 9  # pi_1 .. pi_9
        assert abs(out["kl_T"][i] - float(np.sum(star * np.log(star / pis[-1])))) < 1e-9
        assert abs(out["B"][i] - max(float(np.max(np.abs(np.log(p) - ref))) for p in pis)) < 1e-9


@pytest.mark.parametrize("tau", [0.0, 0.1])
def test_averaged_gap_against_a_slow_loop(tau: float) -> None:
    params = {"K": 4, "tau": tau, "T": 30}
    out = measure_averaged_gap(params, np.random.default_rng(14), 3, xnp)["gap"]
    P, ref = _games(14, 3, 4)  # the same draws, in the same order
    for i in range(3):
        D = -ref[i].min()
        pis = _slow_run(P[i], ref[i], tau, [np.sqrt(30 / D)] * 29)
        pbar = np.mean(pis, axis=0)
        grid_free = float(duality_gap(P[i:i + 1], np.log(pbar)[None], ref[i:i + 1], tau, xnp)[0])
        assert abs(out[i] - grid_free) < 1e-12


def test_same_code_on_array_api_strict() -> None:
    params = {"K": 3, "T": 5}
    inst = _instances(contraction_space, params, 15, 3)
    strict, plain = (evaluate_contraction(params, inst, x) for x in (array_api_strict, xnp))
    for key in ("drift", "B", "step_ratio"):
        np.testing.assert_allclose(strict[key], plain[key], rtol=1e-10, atol=1e-14)
    inst = _instances(decay_space, params, 16, 3)
    strict, plain = (evaluate_decay(params, inst, x) for x in (array_api_strict, xnp))
    np.testing.assert_allclose(strict["kl_T"], plain["kl_T"], rtol=1e-10, atol=1e-14)
    for tau in (0.0, 0.1):
        p = {"K": 3, "tau": tau, "T": 20}
        a, b = (measure_averaged_gap(p, np.random.default_rng(17), 4, x)["gap"] for x in (array_api_strict, xnp))
        np.testing.assert_allclose(a, b, rtol=1e-10)


# ------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_rejected_naming_the_parameter() -> None:
    P, ref = _games(18, 2, 3)
    with pytest.raises(UsageError, match="eta must be finite and > 0"):
        omd_step(P, ref, ref, 0.1, 0.0, xnp)
    with pytest.raises(UsageError, match="eta must be finite"):
        omd_step(P, ref, ref, 0.1, float("nan"), xnp)
    with pytest.raises(UsageError, match="tau must be finite and >= 0"):
        omd_step(P, ref, ref, -0.1, 1.0, xnp)
    with pytest.raises(UsageError, match=r"eta must be a number or an array of shape \(n,\)"):
        omd_step(P, ref, ref, 0.1, np.ones(3), xnp)
    with pytest.raises(UsageError, match="P must have shape"):
        omd_step(P[:, :2], ref, ref, 0.1, 1.0, xnp)
    with pytest.raises(UsageError, match="P must hold probabilities"):
        omd_step(P + 1.0, ref, ref, 0.1, 1.0, xnp)
    with pytest.raises(UsageError, match="log_pi must have shape"):
        omd_step(P, ref[:, :2], ref, 0.1, 1.0, xnp)
    with pytest.raises(UsageError, match="log_pi must be log-probabilities"):
        omd_step(P, np.full_like(ref, np.nan), ref, 0.1, 1.0, xnp)
    with pytest.raises(UsageError, match="log_ref must have the shape"):
        duality_gap(P, ref, ref[:1], 0.1, xnp)
    with pytest.raises(UsageError, match="tau must be finite and > 0"):
        nash(P, ref, 0.0, xnp)
    with pytest.raises(UsageError, match="max_iter must be an integer >= 1"):
        nash(P, ref, 0.1, xnp, max_iter=0)
    with pytest.raises(UsageError, match="tau must be >= 0 in every game"):
        duality_gap(P, ref, ref, np.array([0.1, -1.0]), xnp)
    assert issubclass(UsageError, ValueError)
