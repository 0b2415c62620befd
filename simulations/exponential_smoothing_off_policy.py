"""Logged bandit data for *Exponential Smoothing for Off-Policy Learning* (Aouali, Brunel, Rohde, Korba, ICML 2023).

The contextual bandit (one fixed instance, drawn once from ``BANDIT_SEED``):

* ``CONTEXTS`` = 48 contexts x_m in R^5 (standard normal entries), drawn uniformly: the context distribution is
  finite, so every population quantity (the true risk R, the expected second moment) is an exact finite sum;
* K = 10 actions; the logging policy is the softmax pi0(a|x) = softmax_a(x^T W0_a), W0 with N(0, 1/d) entries;
* Bernoulli costs c in {-1, 0}: P[c = -1 | x, a] = q(x, a) = f + (1 - f) sigmoid(2 x^T C_a / sqrt(d)), C standard
  normal, f = ``cost_floor`` (0: costs spread over [-1, 0]; 0.9: nearly every action costs -1, where the bias
  bound |c| <= 1 of the theorem is nearly attained);
* Gaussian policies (the paper's Example 2): Q = N(mu, sigma^2 I_{dK}) on theta in R^{d x K}, pi_Q(a|x) =
  P[argmax_b x^T theta_b = a], computed by quadrature (:func:`solvers.off_policy.gaussian_policy`), and the
  prior P = N(W0, I_{dK}), so KL(Q || P) = ||mu - W0||^2 / 2 + dK (sigma^2 - 1 - ln sigma^2) / 2.

A logged dataset is n i.i.d. rounds (x_i ~ uniform, a_i ~ pi0(.|x_i), c_i ~ cost(x_i, a_i)). Every statistic of
the theorem is a sum over rounds of a function of the round's cell (context, action, cost), so a dataset is drawn
as its multinomial count table over the 48 x 10 x 2 cells: replicates are the leading axis of one draw.

Measured per dataset (``ips_alpha_terms``): the deviation |R(pi_Q) - R_hat^alpha_n(pi_Q)|, the bias term
B^alpha_n(pi_Q), the second-moment term V^alpha_n(pi_Q). lambda is fixed before the data are drawn (the theorem
needs a fixed lambda): the minimiser of KL2 / (n lambda) + lambda V / 2 at the population second moment V = E[V_n]
(exact here), lambda = sqrt(2 KL2 / (n V)).

Two measure functions:

* :func:`measure_fixed_posterior`: one posterior fixed in advance, Q = N(W0 + sqrt(2 kl) u, I) with u the unit
  direction of C (towards low cost), so KL(Q || P) = kl exactly;
* :func:`measure_selected_posterior`: a family of ``len(FAMILY)`` posteriors fixed in advance (KL from 0 to 7.6),
  and per dataset two data-dependent choices: the *learned* posterior, the one minimising the certified upper
  bound R_hat + bound (the pessimistic learning rule the paper optimises), and the *worst* posterior, the one whose
  deviation exceeds its bound the most (an oracle choice that uses R; the theorem holds simultaneously for every Q,
  so it covers any choice, and this one makes a violation as likely as the family allows). One lambda for all
  (the prior's, as the theorem's lambda may not depend on Q).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from boundlab import to_numpy
from solvers.off_policy import gaussian_policy, ips_alpha_terms, policy_risk

FEATURES = 5
ACTIONS = 10
CONTEXTS = 48
BANDIT_SEED = 20230525
COST_LEVELS = np.array([-1.0, 0.0])

FAMILY: tuple[tuple[float, float, str], ...] = (
    (0.0, 1.0, "u"), (1.0, 1.0, "u"), (2.0, 1.0, "u"), (3.0, 1.0, "u"),
    (2.0, 1.0, "v"), (3.0, 1.0, "v"), (2.0, 0.8, "u"), (3.0, 0.8, "u"),
)
"""The candidate posteriors of :func:`measure_selected_posterior`: (radius ||mu - W0||, sigma, direction), with u
the direction of C and v a random unit direction."""


@dataclass(frozen=True)
class Bandit:
    """The instance: contexts (M, d), logging policy (M, K), P[c = -1] (M, K), prior mean W0 and the unit
    directions u (towards C) and v (random), each (K, d)."""

    contexts: np.ndarray
    logging: np.ndarray
    cost_probability: np.ndarray
    prior_mean: np.ndarray
    towards_low_cost: np.ndarray
    random_direction: np.ndarray

    @property
    def mean_cost(self) -> np.ndarray:
        return -self.cost_probability


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@functools.lru_cache(maxsize=4)
def bandit(cost_floor: float) -> Bandit:
    """The fixed instance (same contexts, logging policy and cost parameters for every floor)."""
    if not 0.0 <= cost_floor < 1.0:
        raise ValueError(f"cost_floor must lie in [0, 1), got {cost_floor!r}.")
    rng = np.random.default_rng(BANDIT_SEED)
    X = rng.standard_normal((CONTEXTS, FEATURES))
    W0 = rng.standard_normal((ACTIONS, FEATURES)) / math.sqrt(FEATURES)
    C = rng.standard_normal((ACTIONS, FEATURES))
    v = rng.standard_normal((ACTIONS, FEATURES))
    q = cost_floor + (1.0 - cost_floor) / (1.0 + np.exp(-2.0 * X @ C.T / math.sqrt(FEATURES)))
    return Bandit(X, _softmax(X @ W0.T), q, W0, C / np.linalg.norm(C), v / np.linalg.norm(v))


def gaussian_kl(radius: float, sigma: float) -> float:
    """KL(N(mu, sigma^2 I) || N(W0, I)) in dimension dK with ||mu - W0|| = radius."""
    dim = FEATURES * ACTIONS
    return 0.5 * radius ** 2 + 0.5 * dim * (sigma ** 2 - 1.0 - math.log(sigma ** 2))


def posterior_policies(means: np.ndarray, sigmas: np.ndarray, xp: Any) -> Any:
    """pi_Q(a|x_m) for posteriors N(means[j], sigmas[j]^2 I): (J, M, K), on the backend ``xp``."""
    X = bandit(0.0).contexts
    scores = xp.asarray(np.einsum("md,jkd->jmk", X, means))
    scale = xp.asarray(sigmas[:, None] * np.linalg.norm(X, axis=1)[None, :])
    return gaussian_policy(scores, scale, xp)


@functools.lru_cache(maxsize=8)
def _policies_cached(key: tuple[tuple[float, float, str], ...]) -> np.ndarray:
    b = bandit(0.0)
    dirs = {"u": b.towards_low_cost, "v": b.random_direction}
    means = np.stack([b.prior_mean + r * dirs[k] for r, _, k in key])
    sigmas = np.array([s for _, s, _ in key])
    import array_api_compat.numpy as xp_np

    return np.asarray(posterior_policies(means, sigmas, xp_np))


def policies(family: tuple[tuple[float, float, str], ...]) -> np.ndarray:
    """pi_Q of each (radius, sigma, direction) posterior, (J, M, K) (cached: the instance is fixed)."""
    return _policies_cached(tuple((float(r), float(s), str(k)) for r, s, k in family))


def logged_counts(rng: np.random.Generator, b: Bandit, n: int, replicates: int) -> np.ndarray:
    """Count tables (replicates, M, K, 2) of n logged rounds: cells (context, action, cost -1 / cost 0)."""
    q = b.cost_probability
    cells = np.stack([b.logging * q, b.logging * (1.0 - q)], axis=-1) / CONTEXTS
    cells = cells.ravel()
    counts = rng.multinomial(n, cells / cells.sum(), size=replicates)
    return counts.reshape(replicates, CONTEXTS, ACTIONS, 2)


def population_second_moment(b: Bandit, policy: np.ndarray, alpha: float) -> np.ndarray:
    """E[V_n] for each policy (J,): E_x[sum_a pi pi0^{1 - 2 alpha} + sum_a pi0 q pi / pi0^{2 alpha}] (c^2 = 1
    with probability q)."""
    pi0 = b.logging
    spread = np.sum(policy * pi0 ** (1.0 - 2.0 * alpha), axis=2)
    empirical = np.sum(pi0 * b.cost_probability * policy / pi0 ** (2.0 * alpha), axis=2)
    return np.mean(spread + empirical, axis=1)


def fixed_lambda(kl: float, delta: float, n: int, second_moment: float) -> float:
    """lambda = sqrt(2 (KL + ln(4 / delta)) / (n V)), fixed before the data (V a population quantity)."""
    return math.sqrt(2.0 * (kl + math.log(4.0 / delta)) / (n * second_moment))


def theorem_bound(xp: Any, n: int, delta: float, kl: Any, lam: float, bias: Any, second: Any) -> Any:
    """The right-hand side of Theorem 4.1: sqrt(KL1 / (2n)) + B + KL2 / (n lambda) + lambda V / 2 with
    KL1 = KL + ln(4 sqrt(n) / delta) and KL2 = KL + ln(4 / delta)."""
    kl1 = kl + math.log(4.0 * math.sqrt(n) / delta)
    kl2 = kl + math.log(4.0 / delta)
    return xp.sqrt(kl1 / (2.0 * n)) + bias + kl2 / (n * lam) + lam * second / 2.0


def _terms(params: Mapping[str, Any], rng: np.random.Generator, count: int, policy: np.ndarray, xp: Any
           ) -> tuple[Bandit, dict[str, Any], Any]:
    b = bandit(float(params["cost_floor"]))
    n, alpha = int(params["n"]), float(params["alpha"])
    counts = logged_counts(rng, b, n, count)
    terms = ips_alpha_terms(counts, policy, b.logging, COST_LEVELS, alpha, xp)
    risk = policy_risk(policy, b.mean_cost, xp)
    deviation = xp.abs(risk[None, :] - terms["estimate"])
    return b, terms, deviation


def measure_fixed_posterior(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                            ) -> dict[str, np.ndarray]:
    """One posterior fixed in advance (KL = ``kl``): per dataset ``deviation``, ``bias``, ``second_moment`` and
    the fixed ``lam``."""
    kl, delta, n, alpha = float(params["kl"]), float(params["delta"]), int(params["n"]), float(params["alpha"])
    policy = policies(((math.sqrt(2.0 * kl), 1.0, "u"),))
    b, terms, deviation = _terms(params, rng, count, policy, xp)
    lam = fixed_lambda(kl, delta, n, float(population_second_moment(b, policy, alpha)[0]))
    return {"deviation": to_numpy(deviation[:, 0]), "bias": to_numpy(terms["bias"][:, 0]),
            "second_moment": to_numpy(terms["second_moment"][:, 0]), "lam": np.full(count, lam)}


def measure_selected_posterior(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                               ) -> dict[str, np.ndarray]:
    """A posterior chosen from the data among ``FAMILY``: per dataset the ``*_learned`` (argmin R_hat + bound)
    and ``*_worst`` (argmax deviation - bound) posterior's deviation, bias, second moment and KL; and ``lam``."""
    delta, n, alpha = float(params["delta"]), int(params["n"]), float(params["alpha"])
    policy = policies(FAMILY)
    kls = np.array([gaussian_kl(r, s) for r, s, _ in FAMILY])
    b, terms, deviation = _terms(params, rng, count, policy, xp)
    lam = fixed_lambda(0.0, delta, n, float(population_second_moment(b, policy[:1], alpha)[0]))
    bound = theorem_bound(xp, n, delta, xp.asarray(kls)[None, :], lam, terms["bias"], terms["second_moment"])
    chosen = {"learned": xp.argmin(terms["estimate"] + bound, axis=1),
              "worst": xp.argmax(deviation - bound, axis=1)}
    out: dict[str, np.ndarray] = {"lam": np.full(count, lam)}
    for name, index in chosen.items():
        pick = to_numpy(index)
        rows = np.arange(count)
        out[f"deviation_{name}"] = to_numpy(deviation)[rows, pick]
        out[f"bias_{name}"] = to_numpy(terms["bias"])[rows, pick]
        out[f"second_moment_{name}"] = to_numpy(terms["second_moment"])[rows, pick]
        out[f"kl_{name}"] = kls[pick]
    return out
