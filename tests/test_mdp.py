"""solvers.mdp against independent references on random instances: a slow per-instance version written from
the definitions (power series for V and rho, explicit sums for Q), value iteration and brute-force enumeration
of deterministic policies for V*, and the same code on array-api-strict. Bad input is named."""

from __future__ import annotations

import itertools

import array_api_strict
import numpy as np
import pytest

from solvers import mdp

TOL = 1e-10  # exact linear solves of condition number <= (1 + gamma) / (1 - gamma) <= 20 here: ~1e-14 in practice


def random_mdp(rng: np.random.Generator, n: int, S: int, A: int, state_rewards: bool = True):
    P = rng.dirichlet(np.full(S, 0.5), size=(n, S, A))
    r = rng.uniform(-1, 1, size=(n, S) if state_rewards else (n, S, A))
    pi = rng.dirichlet(np.ones(A), size=(n, S))
    mu0 = rng.dirichlet(np.ones(S), size=n)
    return P, r, pi, mu0


def slow_evaluation(P, r, pi, gamma, mu0, horizon=2000):
    """One instance, from the definitions: V = sum_t gamma^t P_pi^t r_pi, rho(s) = sum_t gamma^t P(s_t = s)."""
    S, A = pi.shape
    r_sa = np.repeat(r[:, None], A, axis=1) if r.ndim == 1 else r
    P_pi = np.array([[sum(pi[s, a] * P[s, a, t] for a in range(A)) for t in range(S)] for s in range(S)])
    r_pi = np.array([sum(pi[s, a] * r_sa[s, a] for a in range(A)) for s in range(S)])
    V, rho, power, dist = np.zeros(S), np.zeros(S), np.eye(S), mu0.copy()
    for t in range(horizon):
        V += gamma**t * power @ r_pi
        rho += gamma**t * dist
        power, dist = power @ P_pi, dist @ P_pi
    Q = np.array([[r_sa[s, a] + gamma * sum(P[s, a, t] * V[t] for t in range(S)) for a in range(A)]
                  for s in range(S)])
    return V, Q, Q - V[:, None], rho, float(mu0 @ V)


@pytest.mark.parametrize("state_rewards", [True, False])
def test_evaluation_matches_the_definitions(state_rewards: bool) -> None:
    rng = np.random.default_rng(0)
    P, r, pi, mu0 = random_mdp(rng, 6, 4, 3, state_rewards)
    gamma = 0.9
    ev = mdp.evaluate(P, r, pi, gamma, mu0)
    for i in range(6):
        V, Q, A, rho, eta = slow_evaluation(P[i], r[i], pi[i], gamma, mu0[i])
        np.testing.assert_allclose(ev.V[i], V, atol=TOL)
        np.testing.assert_allclose(ev.Q[i], Q, atol=TOL)
        np.testing.assert_allclose(ev.A[i], A, atol=TOL)
        np.testing.assert_allclose(ev.rho[i], rho, atol=TOL)
        assert abs(float(ev.eta[i]) - eta) < TOL
    np.testing.assert_allclose(ev.rho.sum(axis=1), 1 / (1 - gamma), rtol=1e-12)
    normalised = mdp.evaluate(P, r, pi, gamma, mu0, normalised=True)
    np.testing.assert_allclose(normalised.rho.sum(axis=1), 1.0, rtol=1e-12)


def test_performance_difference_lemma() -> None:
    """eta(new) - eta(old) = sum_s rho_new(s) sum_a new(a|s) A_old(s, a): the identity TRPO starts from."""
    rng = np.random.default_rng(1)
    P, r, old, mu0 = random_mdp(rng, 20, 3, 2)
    new = rng.dirichlet(np.ones(2), size=(20, 3))
    before, after = mdp.evaluate(P, r, old, 0.8, mu0), mdp.evaluate(P, r, new, 0.8, mu0)
    np.testing.assert_allclose(after.eta - before.eta, np.sum(after.rho * np.sum(new * before.A, axis=2), axis=1),
                               atol=TOL)
    L, _ = mdp.surrogate(P, r, old, new, 0.8, mu0)
    np.testing.assert_allclose(L - before.eta, np.sum(before.rho * np.sum(new * before.A, axis=2), axis=1),
                               atol=TOL)
    L_same, _ = mdp.surrogate(P, r, old, old, 0.8, mu0)
    np.testing.assert_allclose(L_same, before.eta, atol=TOL)  # L_pi(pi) = eta(pi)


def test_value_iteration_policy_iteration_and_enumeration_agree() -> None:
    rng = np.random.default_rng(2)
    n, S, A, gamma = 8, 3, 2, 0.9
    P, r, _, mu0 = random_mdp(rng, n, S, A, state_rewards=False)
    V_vi = mdp.value_iteration(P, r, gamma, tol=1e-12)
    pi, V_pi = mdp.policy_iteration(P, r, gamma, mu0)
    np.testing.assert_allclose(V_pi, V_vi, atol=1e-10)
    best = np.full((n, S), -np.inf)
    for actions in itertools.product(range(A), repeat=S):  # every deterministic policy
        det = np.zeros((n, S, A))
        det[:, np.arange(S), list(actions)] = 1.0
        best = np.maximum(best, mdp.evaluate(P, r, det, gamma, mu0).V)
    np.testing.assert_allclose(V_vi, best, atol=1e-10)
    assert np.all(pi.sum(axis=2) == 1) and set(np.unique(pi)) <= {0.0, 1.0}


def test_divergences_and_updates() -> None:
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(4), size=(5, 3)), rng.dirichlet(np.ones(4), size=(5, 3))
    np.testing.assert_allclose(mdp.tv_per_state(p, q), 0.5 * np.abs(p - q).sum(axis=2))
    np.testing.assert_allclose(mdp.kl_per_state(p, q), np.sum(p * np.log(p / q), axis=2), rtol=1e-12)
    assert np.all(mdp.tv_per_state(p, q) ** 2 <= mdp.kl_per_state(p, q) / 2 + 1e-15)  # Pinsker
    Q = rng.standard_normal((5, 3, 4))
    step = mdp.mirror_descent_step(p, Q, 0.7)
    expected = p * np.exp(0.7 * Q)
    np.testing.assert_allclose(step, expected / expected.sum(axis=2, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(mdp.softmax_policy(np.log(p)), p, rtol=1e-12)


def test_same_code_on_array_api_strict() -> None:
    rng = np.random.default_rng(4)
    P, r, pi, mu0 = random_mdp(rng, 4, 3, 2)
    ref = mdp.evaluate(P, r, pi, 0.7, mu0)
    xp = array_api_strict
    strict = mdp.evaluate(*(xp.asarray(v) for v in (P, r, pi)), 0.7, xp.asarray(mu0))
    np.testing.assert_allclose(np.asarray(strict.V._array), ref.V, atol=1e-13)
    np.testing.assert_allclose(np.asarray(strict.rho._array), ref.rho, atol=1e-13)
    np.testing.assert_allclose(np.asarray(mdp.kl_per_state(xp.asarray(pi), xp.asarray(pi[::-1]))._array),
                               mdp.kl_per_state(pi, pi[::-1]), atol=1e-13)


def test_bad_input_is_named() -> None:
    rng = np.random.default_rng(5)
    P, r, pi, mu0 = random_mdp(rng, 2, 3, 2)
    bad = P.copy()
    bad[0, 0, 0, 0] += 0.1
    with pytest.raises(ValueError, match="P must have rows summing to one"):
        mdp.evaluate(bad, r, pi, 0.9, mu0)
    with pytest.raises(ValueError, match=r"gamma must lie in \[0, 1\)"):
        mdp.evaluate(P, r, pi, 1.0, mu0)
    nan = r.copy()
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="r must be finite"):
        mdp.evaluate(P, nan, pi, 0.9, mu0)
    with pytest.raises(ValueError, match="pi must have shape"):
        mdp.evaluate(P, r, pi[:, :2], 0.9, mu0)
    with pytest.raises(ValueError, match="P must have shape"):
        mdp.evaluate(P[..., :2], r, pi, 0.9, mu0)
    negative = pi.copy()
    negative[0, 0] = [1.5, -0.5]
    with pytest.raises(ValueError, match="pi must be non-negative"):
        mdp.evaluate(P, r, negative, 0.9, mu0)
    with pytest.raises(ValueError, match="eta .*step size"):
        mdp.mirror_descent_step(pi, rng.standard_normal(pi.shape), 0.0)


def test_natural_policy_gradient_matches_a_slow_loop_and_converges() -> None:
    """NPG against a per-instance loop written from Agarwal et al.'s update theta <- theta + eta/(1-gamma) A
    (with the slow evaluation from the definitions), and its limit against policy iteration's V*."""
    rng = np.random.default_rng(6)
    P, r, _, mu0 = random_mdp(rng, 3, 3, 2, state_rewards=False)
    gamma, eta, steps = 0.8, 0.5, 7
    pi = mdp.natural_policy_gradient(P, r, gamma, mu0, eta, steps)
    for i in range(3):
        theta = np.zeros((3, 2))
        for _ in range(steps):
            policy = np.exp(theta) / np.exp(theta).sum(axis=1, keepdims=True)
            _, _, A, _, _ = slow_evaluation(P[i], r[i], policy, gamma, mu0[i])
            theta = theta + eta / (1 - gamma) * A
        np.testing.assert_allclose(pi[i], np.exp(theta) / np.exp(theta).sum(axis=1, keepdims=True), atol=1e-10)
    far = mdp.natural_policy_gradient(P, r, gamma, mu0, 5.0, 200)
    _, V_star = mdp.policy_iteration(P, r, gamma, mu0)
    np.testing.assert_allclose(mdp.evaluate(P, r, far, gamma, mu0).V, V_star, atol=1e-9)
    with pytest.raises(ValueError, match="eta"):
        mdp.natural_policy_gradient(P, r, gamma, mu0, -1.0, 3)
    with pytest.raises(ValueError, match="iterations"):
        mdp.natural_policy_gradient(P, r, gamma, mu0, 1.0, 2.5)
