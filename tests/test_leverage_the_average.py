"""The MD-VI and AVI schemes with injected errors (simulations/leverage_the_average.py) against slow per-instance
loops written from the definitions, the averaging identity behind the paper (pi_{k+1} = softmax of the sum of the
q's / lambda), and the measured error terms against direct computation."""

from __future__ import annotations

import numpy as np

from simulations.leverage_the_average import approximate_vi, evaluate_schemes, md_vi, mdp_error_space
from solvers import mdp

PARAMS = {"S": 3, "A": 2, "gamma": 0.8, "lam": 0.3, "K": 6, "e": 0.5}


def _instances(params: dict, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    S, A, K = params["S"], params["A"], params["K"]
    space = mdp_error_space(params)
    inst = space.decode(space.sample(np.random.default_rng(seed), n))
    return (inst["kernel"].reshape(n, S, A, S), inst["rewards"].reshape(n, S, A),
            inst["errors"].reshape(n, K, S, A))


def _slow_md_vi(P: np.ndarray, r: np.ndarray, errors: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """One instance, probabilities (not logs), loops over states: pi_{k+1} propto pi_k exp(q_k / lam)."""
    K, S, A = errors.shape
    q, pi = np.zeros((S, A)), np.full((S, A), 1.0 / A)
    for k in range(K):
        new = pi * np.exp(q / lam)
        new /= new.sum(axis=1, keepdims=True)
        if k == K - 1:
            return new
        v = np.array([sum(new[s, a] * (q[s, a] - lam * np.log(new[s, a] / pi[s, a])) for a in range(A))
                      for s in range(S)])
        q = np.array([[r[s, a] + gamma * P[s, a] @ v + errors[k, s, a] for a in range(A)] for s in range(S)])
        pi = new
    raise AssertionError


def test_md_vi_against_a_slow_loop() -> None:
    P, r, errors = _instances(PARAMS, 8)
    pi, _ = md_vi(P, r, errors, PARAMS["gamma"], PARAMS["lam"], np)
    for i in range(8):
        np.testing.assert_allclose(pi[i], _slow_md_vi(P[i], r[i], errors[i], PARAMS["gamma"], PARAMS["lam"]),
                                   rtol=1e-10, atol=1e-12)


def test_md_vi_policy_is_the_softmax_of_the_summed_q_values() -> None:
    """The averaging identity: with pi_0 uniform, pi_{k+1} = softmax((q_0 + ... + q_k) / lambda)."""
    P, r, errors = _instances(PARAMS, 5, seed=1)
    gamma, lam, K = PARAMS["gamma"], PARAMS["lam"], PARAMS["K"]
    for i in range(5):
        q, pi, total = np.zeros((3, 2)), np.full((3, 2), 0.5), np.zeros((3, 2))
        for k in range(K - 1):
            total += q
            new = np.exp(total / lam - (total / lam).max(axis=1, keepdims=True))
            new /= new.sum(axis=1, keepdims=True)
            v = np.sum(new * (q - lam * np.log(new / pi)), axis=1)
            q = r[i] + gamma * P[i] @ v + errors[i, k]
            pi = new
        total += q
        expected = np.exp(total / lam - (total / lam).max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(md_vi(P[i:i + 1], r[i:i + 1], errors[i:i + 1], gamma, lam, np)[0][0], expected,
                                   rtol=1e-9, atol=1e-12)


def test_avi_against_a_slow_loop() -> None:
    P, r, errors = _instances(PARAMS, 8, seed=2)
    pi = approximate_vi(P, r, errors, PARAMS["gamma"], np)
    for i in range(8):
        q = np.zeros((3, 2))
        for k in range(PARAMS["K"] - 1):
            v = q.max(axis=1)
            q = np.array([[r[i, s, a] + PARAMS["gamma"] * P[i, s, a] @ v + errors[i, k, s, a] for a in range(2)]
                          for s in range(3)])
        expected = np.zeros((3, 2))
        expected[np.arange(3), q.argmax(axis=1)] = 1.0
        np.testing.assert_array_equal(pi[i], expected)


def test_measured_error_terms() -> None:
    n = 6
    P, r, errors = _instances(PARAMS, n, seed=3)
    inst = {"kernel": P.reshape(n, -1), "rewards": r.reshape(n, -1), "errors": errors.reshape(n, -1)}
    out = evaluate_schemes(PARAMS, inst, np)
    gamma, K = PARAMS["gamma"], PARAMS["K"]
    np.testing.assert_allclose(out["avg_error"], np.abs(errors.mean(axis=1)).max(axis=(1, 2)), rtol=1e-12)
    summed = sum(gamma ** (K - 2 - j) * np.abs(errors[:, j]).max(axis=(1, 2)) for j in range(K - 1))
    np.testing.assert_allclose(out["summed_error"], summed, rtol=1e-12)
    # q* by value iteration, the policy's q by an independent solve
    V_star = mdp.value_iteration(P, r, gamma)
    Q_star = r + gamma * np.einsum("nsat,nt->nsa", P, V_star)
    pi, _ = md_vi(P, r, errors, gamma, PARAMS["lam"], np)
    P_pi = np.einsum("nsat,nsa->nst", P, pi)
    for i in range(n):
        V = np.linalg.solve(np.eye(3) - gamma * P_pi[i], np.sum(pi[i] * r[i], axis=1))
        Q = r[i] + gamma * P[i] @ V
        assert abs(out["err_mdvi"][i] - np.abs(Q_star[i] - Q).max()) < 1e-9
    assert np.all(out["err_mdvi"] >= -1e-12) and np.all(out["err_avi"] >= -1e-12)


def test_without_errors_md_vi_converges_and_the_error_vanishes() -> None:
    params = {**PARAMS, "K": 400}
    P, r, _ = _instances({**params, "K": 1}, 6, seed=4)
    zero = np.zeros((6, 400, 3, 2))
    pi, _ = md_vi(P, r, zero, params["gamma"], params["lam"], np)
    mu0 = np.full((6, 3), 1 / 3)
    _, V_star = mdp.policy_iteration(P, r, params["gamma"], mu0)
    Q_star = r + params["gamma"] * np.einsum("nsat,nt->nsa", P, V_star)
    err = np.abs(Q_star - mdp.evaluate(P, r, pi, params["gamma"], mu0).Q).max(axis=(1, 2))
    bound = 4 / (1 - params["gamma"]) * (1 + params["lam"] * np.log(2)) / (1 - params["gamma"]) / 400
    assert np.all(err <= bound) and np.all(err < 1e-3)
