"""The off-policy solvers (solvers/off_policy.py) and the exponential-smoothing simulations
(simulations/exponential_smoothing_off_policy.py): the normal CDF against scipy; the Gaussian policy against
scipy's adaptive quadrature and against sampling the argmax; the IPS-alpha terms and the true risk against slow
loops over explicit logged rounds; the measure functions' bound against the theorem module's statement; the
data-dependent choices against a loop; array-api-strict; and bad inputs."""

from __future__ import annotations

import math

import array_api_compat.numpy as xp_np
import array_api_strict
import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr

from boundlab.errors import UsageError
from boundlab.statements import _Evaluator
from simulations.exponential_smoothing_off_policy import (
    COST_LEVELS,
    FAMILY,
    bandit,
    gaussian_kl,
    logged_counts,
    measure_fixed_posterior,
    measure_selected_posterior,
    policies,
    population_second_moment,
    theorem_bound,
)
from solvers.off_policy import gaussian_policy, ips_alpha_terms, normal_cdf, normal_cdf_series, policy_risk


def test_normal_cdf_against_scipy() -> None:
    t = np.linspace(-12.0, 12.0, 400001)
    assert np.max(np.abs(normal_cdf_series(t, xp_np) - ndtr(t))) < 3e-15
    assert np.max(np.abs(normal_cdf(t, xp_np) - ndtr(t))) < 1e-13
    strict = normal_cdf(array_api_strict.asarray(t[::97]), array_api_strict)
    np.testing.assert_allclose(np.asarray(strict), ndtr(t[::97]), rtol=0, atol=1e-13)


def _quad_policy(scores: np.ndarray, scale: float) -> np.ndarray:
    """pi(a) = int phi(z) prod_{b != a} Phi(z + (s_a - s_b) / scale) dz by scipy's adaptive quadrature."""
    K = scores.size
    out = np.empty(K)
    for a in range(K):
        others = np.delete(scores, a)

        def f(z: float, a: int = a, others: np.ndarray = others) -> float:
            density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
            return density * float(np.prod(ndtr(z + (scores[a] - others) / scale)))

        out[a] = integrate.quad(f, -12, 12, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
    return out


def test_gaussian_policy_against_adaptive_quadrature() -> None:
    rng = np.random.default_rng(0)
    for _ in range(6):
        K = int(rng.integers(2, 11))
        scores = 2.0 * rng.standard_normal(K)
        scale = float(rng.uniform(0.8, 4.0))
        ours = gaussian_policy(scores[None, :], np.array([scale]), xp_np)[0]
        np.testing.assert_allclose(ours, _quad_policy(scores, scale), rtol=0, atol=1e-8)
        assert abs(float(ours.sum()) - 1.0) < 1e-8


def test_gaussian_policy_against_sampling_the_argmax() -> None:
    rng = np.random.default_rng(1)
    b = bandit(0.0)
    mean = b.prior_mean + 2.0 * b.towards_low_cost
    ours = policies(((2.0, 1.0, "u"),))[0]                      # (M, K)
    samples = 200000
    m = 3                                                         # one context, many parameter draws
    theta = mean[None] + rng.standard_normal((samples, *mean.shape))
    winners = np.argmax(theta @ b.contexts[m], axis=1)
    freq = np.bincount(winners, minlength=mean.shape[0]) / samples
    sd = np.sqrt(ours[m] * (1 - ours[m]) / samples)
    assert np.all(np.abs(freq - ours[m]) <= 5 * sd + 1e-12)


def _rounds(counts: np.ndarray) -> list[tuple[int, int, float]]:
    """The logged rounds (context, action, cost) of one count table (M, K, L)."""
    out = []
    for m, a, level in zip(*np.nonzero(counts), strict=True):
        out += [(int(m), int(a), float(COST_LEVELS[level]))] * int(counts[m, a, level])
    return out


def test_ips_alpha_terms_against_a_loop_over_rounds() -> None:
    rng = np.random.default_rng(2)
    b = bandit(0.3)
    pols = policies(FAMILY[:3])
    counts = logged_counts(rng, b, 60, 4)
    for alpha in (0.0, 0.4, 1.0):
        terms = ips_alpha_terms(counts, pols, b.logging, COST_LEVELS, alpha, xp_np)
        for r in range(counts.shape[0]):
            rounds = _rounds(counts[r])
            assert len(rounds) == 60
            for j in range(pols.shape[0]):
                pi, pi0 = pols[j], b.logging
                est = np.mean([pi[m, a] * c / pi0[m, a] ** alpha for m, a, c in rounds])
                bias = 1 - np.mean([sum(pi[m, k] * pi0[m, k] ** (1 - alpha) for k in range(pi.shape[1]))
                                    for m, _, _ in rounds])
                second = np.mean([sum(pi0[m, k] * pi[m, k] / pi0[m, k] ** (2 * alpha) for k in range(pi.shape[1]))
                                  + pi[m, a] * c * c / pi0[m, a] ** (2 * alpha) for m, a, c in rounds])
                np.testing.assert_allclose([terms["estimate"][r, j], terms["bias"][r, j],
                                            terms["second_moment"][r, j]], [est, bias, second], rtol=1e-12,
                                           atol=1e-14)


def test_policy_risk_and_population_second_moment_against_loops() -> None:
    b = bandit(0.0)
    pols = policies(FAMILY[:2])
    risk = policy_risk(pols, b.mean_cost, xp_np)
    M, K = b.logging.shape
    for j in range(2):
        ref = sum(pols[j, m, a] * b.mean_cost[m, a] for m in range(M) for a in range(K)) / M
        assert abs(float(risk[j]) - ref) < 1e-13
    # E[V_n] by Monte Carlo over many logged datasets against the exact population value.
    counts = logged_counts(np.random.default_rng(3), b, 400, 3000)
    terms = ips_alpha_terms(counts, pols, b.logging, COST_LEVELS, 0.5, xp_np)
    V = terms["second_moment"]
    exact = population_second_moment(b, pols, 0.5)
    se = V.std(axis=0) / math.sqrt(V.shape[0])
    assert np.all(np.abs(V.mean(axis=0) - exact) <= 5 * se)


def test_logged_counts_follow_the_logging_policy() -> None:
    b = bandit(0.9)
    counts = logged_counts(np.random.default_rng(4), b, 500, 2000)
    assert np.all(counts.reshape(2000, -1).sum(axis=1) == 500)
    freq = counts.sum(axis=0) / (500 * 2000)
    cells = np.stack([b.logging * b.cost_probability, b.logging * (1 - b.cost_probability)], axis=-1) / 48
    sd = np.sqrt(cells * (1 - cells) / (500 * 2000))
    assert np.all(np.abs(freq - cells) <= 5 * sd + 1e-12)


def test_gaussian_kl_against_the_general_formula() -> None:
    dim = 50
    for radius, sigma in ((0.0, 1.0), (2.0, 1.0), (3.0, 0.8)):
        cov_q, cov_p = sigma ** 2 * np.eye(dim), np.eye(dim)
        diff = np.zeros(dim)
        diff[0] = radius
        ref = 0.5 * (np.trace(np.linalg.solve(cov_p, cov_q)) + diff @ diff - dim
                     + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1])
        assert abs(gaussian_kl(radius, sigma) - ref) < 1e-12


def _statement_bound(claim_index: int, values: dict[str, np.ndarray], params: dict[str, float]) -> np.ndarray:
    from theorems.exponential_smoothing_off_policy import CLAIMS

    rhs = CLAIMS[claim_index].statement.event.relation.rhs
    return np.asarray(_Evaluator(rhs)({**params, **values}), dtype=float)


def test_fixed_posterior_measurement_matches_the_statement() -> None:
    params = {"alpha": 0.5, "cost_floor": 0.0, "n": 300, "delta": 0.05, "kl": 2.0}
    out = measure_fixed_posterior(params, np.random.default_rng(5), 50, xp_np)
    b = bandit(0.0)
    pol = policies(((2.0, 1.0, "u"),))
    counts = logged_counts(np.random.default_rng(5), b, 300, 50)
    terms = ips_alpha_terms(counts, pol, b.logging, COST_LEVELS, 0.5, xp_np)
    risk = float(policy_risk(pol, b.mean_cost, xp_np)[0])
    np.testing.assert_allclose(out["deviation"], np.abs(risk - terms["estimate"][:, 0]), rtol=1e-13)
    ours = theorem_bound(np, 300, 0.05, 2.0, float(out["lam"][0]), out["bias"], out["second_moment"])
    np.testing.assert_allclose(_statement_bound(0, out, params), ours, rtol=1e-13)
    lam = math.sqrt(2 * (2.0 + math.log(80.0)) / (300 * population_second_moment(b, pol, 0.5)[0]))
    assert abs(out["lam"][0] - lam) < 1e-15


def test_data_dependent_choices_against_a_loop() -> None:
    params = {"alpha": 1.0, "cost_floor": 0.0, "n": 200, "delta": 0.05, "kl": 2.0}
    out = measure_selected_posterior(params, np.random.default_rng(6), 40, xp_np)
    b = bandit(0.0)
    pols = policies(FAMILY)
    counts = logged_counts(np.random.default_rng(6), b, 200, 40)
    terms = ips_alpha_terms(counts, pols, b.logging, COST_LEVELS, 1.0, xp_np)
    risk = policy_risk(pols, b.mean_cost, xp_np)
    lam = float(out["lam"][0])
    for r in range(40):
        bounds = [theorem_bound(np, 200, 0.05, gaussian_kl(rad, s), lam, terms["bias"][r, j],
                                terms["second_moment"][r, j]) for j, (rad, s, _) in enumerate(FAMILY)]
        dev = [abs(float(risk[j]) - terms["estimate"][r, j]) for j in range(len(FAMILY))]
        learned = int(np.argmin([terms["estimate"][r, j] + bounds[j] for j in range(len(FAMILY))]))
        worst = int(np.argmax([dev[j] - bounds[j] for j in range(len(FAMILY))]))
        assert out["deviation_learned"][r] == pytest.approx(dev[learned], rel=1e-13)
        assert out["deviation_worst"][r] == pytest.approx(dev[worst], rel=1e-13)
        assert out["kl_worst"][r] == gaussian_kl(*FAMILY[worst][:2])
    np.testing.assert_allclose(_statement_bound(2, out, params),
                               theorem_bound(np, 200, 0.05, out["kl_worst"], lam, out["bias_worst"],
                                             out["second_moment_worst"]), rtol=1e-13)


@pytest.mark.parametrize("measure", [measure_fixed_posterior, measure_selected_posterior])
def test_measurements_on_array_api_strict(measure) -> None:
    params = {"alpha": 0.5, "cost_floor": 0.9, "n": 500, "delta": 0.05, "kl": 2.0}
    ref = measure(params, np.random.default_rng(7), 8, xp_np)
    strict = measure(params, np.random.default_rng(7), 8, array_api_strict)
    assert ref.keys() == strict.keys()
    for key in ref:
        np.testing.assert_allclose(strict[key], ref[key], rtol=1e-12, atol=1e-14)


def test_gaussian_policy_on_array_api_strict() -> None:
    rng = np.random.default_rng(8)
    scores, scale = rng.standard_normal((3, 4, 6)), rng.uniform(0.5, 2.0, (3, 4))
    ref = gaussian_policy(scores, scale, xp_np)
    strict = gaussian_policy(array_api_strict.asarray(scores), array_api_strict.asarray(scale), array_api_strict)
    np.testing.assert_allclose(np.asarray(strict), ref, rtol=0, atol=1e-15)


def test_bad_inputs_are_usage_errors() -> None:
    b = bandit(0.0)
    pols = policies(FAMILY[:2])
    counts = logged_counts(np.random.default_rng(9), b, 20, 3)
    with pytest.raises(UsageError, match="alpha must be a number in"):
        ips_alpha_terms(counts, pols, b.logging, COST_LEVELS, 1.5, xp_np)
    with pytest.raises(UsageError, match="counts must be a 4-D"):
        ips_alpha_terms(counts[0], pols, b.logging, COST_LEVELS, 1.0, xp_np)
    with pytest.raises(UsageError, match="policy must have shape"):
        ips_alpha_terms(counts, pols[:, :5], b.logging, COST_LEVELS, 1.0, xp_np)
    with pytest.raises(UsageError, match="costs must lie in"):
        ips_alpha_terms(counts, pols, b.logging, np.array([-2.0, 0.0]), 1.0, xp_np)
    zero = b.logging.copy()
    zero[0, 0], zero[0, 1] = 0.0, zero[0, 1] + zero[0, 0]
    with pytest.raises(UsageError, match="logging must be > 0"):
        ips_alpha_terms(counts, pols, zero, COST_LEVELS, 1.0, xp_np)
    bad = pols.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="policy must be finite"):
        ips_alpha_terms(counts, bad, b.logging, COST_LEVELS, 1.0, xp_np)
    uneven = counts.copy()
    uneven[0, 0, 0, 0] += 1
    with pytest.raises(UsageError, match="same sample size"):
        ips_alpha_terms(uneven, pols, b.logging, COST_LEVELS, 1.0, xp_np)
    with pytest.raises(UsageError, match="non-negative integers"):
        ips_alpha_terms(counts - 5, pols, b.logging, COST_LEVELS, 1.0, xp_np)
    with pytest.raises(UsageError, match=r"scale \(sigma \|\|x\|\|\) must be finite and > 0"):
        gaussian_policy(np.zeros((2, 3)), np.array([1.0, 0.0]), xp_np)
    with pytest.raises(UsageError, match="scores must be finite"):
        gaussian_policy(np.array([[0.0, np.nan]]), np.array([1.0]), xp_np)
    with pytest.raises(UsageError, match="K >= 2 actions"):
        gaussian_policy(np.zeros((2, 1)), np.ones(2), xp_np)
    with pytest.raises(UsageError, match="nodes must be an integer >= 2"):
        gaussian_policy(np.zeros((2, 3)), np.ones(2), xp_np, nodes=1)
    with pytest.raises(UsageError, match="mean_cost must lie in"):
        policy_risk(pols, -2.0 * np.ones(b.logging.shape), xp_np)
    with pytest.raises(ValueError, match="cost_floor must lie in"):
        bandit(1.0)
