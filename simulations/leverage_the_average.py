"""Instances for *Leverage the Average* (Vieillard et al., NeurIPS 2020): a tabular MDP with state-action rewards
in [0, 1], a uniform start distribution, and a sequence of K error tables eps_1 .. eps_K (one value per state and
action, each in [-e, e]) injected into the q-updates of two schemes run side by side from q_0 = 0:

* MD-VI(lambda, 0), KL-regularised value iteration:
      pi_{k+1}(.|s) propto pi_k(.|s) exp(q_k(s, .) / lambda)                 (pi_0 uniform)
      q_{k+1} = r + gamma P <pi_{k+1}, q_k - lambda ln(pi_{k+1} / pi_k)> + eps_{k+1};
* approximate value iteration (AVI):  pi_{k+1} = greedy(q_k),  q_{k+1} = r + gamma P max_a q_k + eps_{k+1}.

Both see the same errors. The policy pi_K (computed from q_{K-1}) is evaluated exactly (solvers.mdp.evaluate) and
compared with q* (policy iteration). The MD-VI policy update is done on log-policies, so that small lambda does not
underflow.

Random draws: kernel rows Dirichlet(0.3), rewards uniform, errors i.i.d. uniform in [-e, e]. The adversarial search
moves the kernel, the rewards and every error entry at once (boundlab.spaces), which lets it build structured
sequences (persistent biases, alternating signs) that random noise never produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, to_numpy
from simulations.mdp_instances import dirichlet_kernel_logits, kernel_space
from solvers import mdp

R_MAX = 1  # rewards lie in [0, R_MAX]


def _sizes(params: Mapping[str, Any]) -> tuple[int, int, int, float]:
    return int(params["S"]), int(params["A"]), int(params["K"]), float(params["e"])


def mdp_error_space(params: Mapping[str, Any]) -> Product:
    """(kernel, rewards, errors) for S states, A actions and K error tables in [-e, e]."""
    S, A, K, e = _sizes(params)

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        kernel = dirichlet_kernel_logits(rng, n, S, A)
        rewards = rng.uniform(0.0, R_MAX, size=(n, S * A))
        errors = rng.uniform(-e, e, size=(n, K * S * A))
        return np.clip(np.concatenate([kernel, rewards, errors], axis=1), space.low, space.high)

    space = Product(sampler=sample, kernel=kernel_space(S, A), rewards=Box(0.0, R_MAX, S * A),
                    errors=Box(-e, e, K * S * A))
    return space


def md_vi(P: Any, r: Any, errors: Any, gamma: float, lam: float, xp: Any) -> tuple[Any, Any]:
    """MD-VI(lambda, 0) with injected errors: (pi_K, max_{k < K} ||q_k||_inf) for errors of shape (n, K, S, A)."""
    n, K, S, A = errors.shape
    q = xp.zeros((n, S, A), dtype=r.dtype)
    log_pi = xp.full((n, S, A), -float(np.log(A)), dtype=r.dtype)
    q_norm = xp.zeros((n,), dtype=r.dtype)
    for k in range(K):
        z = log_pi + q / lam
        z = z - xp.max(z, axis=-1, keepdims=True)
        log_new = z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))  # pi_{k+1} from q_k
        if k == K - 1:
            return xp.exp(log_new), q_norm
        inner = xp.sum(xp.exp(log_new) * (q - lam * (log_new - log_pi)), axis=-1)
        q = r + gamma * xp.einsum("nsat,nt->nsa", P, inner) + errors[:, k]
        log_pi = log_new
        q_norm = xp.maximum(q_norm, xp.max(xp.abs(q), axis=(1, 2)))
    raise ValueError("K must be >= 1")


def approximate_vi(P: Any, r: Any, errors: Any, gamma: float, xp: Any) -> Any:
    """AVI with injected errors: pi_K = greedy(q_{K-1})."""
    n, K, S, A = errors.shape
    q = xp.zeros((n, S, A), dtype=r.dtype)
    for k in range(K - 1):
        q = r + gamma * xp.einsum("nsat,nt->nsa", P, xp.max(q, axis=-1)) + errors[:, k]
    return mdp.greedy(q)


def evaluate_schemes(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                     ) -> dict[str, np.ndarray]:
    """Per instance: the errors ||q* - q_{pi_K}||_inf of MD-VI and AVI, ||(1/K) sum_{j<=K} eps_j||_inf, and
    sum_{j<K} gamma^(K-1-j) ||eps_j||_inf (the error term of AVI's bound), and max_k ||q_k||_inf of MD-VI."""
    S, A, K, _ = _sizes(params)
    gamma, lam = float(params["gamma"]), float(params["lam"])
    n = instances["rewards"].shape[0]
    P = xp.asarray(instances["kernel"].reshape(n, S, A, S))
    r = xp.asarray(instances["rewards"].reshape(n, S, A))
    errors = xp.asarray(instances["errors"].reshape(n, K, S, A))
    mu0 = xp.full((n, S), 1.0 / S, dtype=r.dtype)
    _, V_star = mdp.policy_iteration(P, r, gamma, mu0)
    Q_star = r + gamma * xp.einsum("nsat,nt->nsa", P, V_star)

    def suboptimality(pi: Any) -> Any:
        Q = mdp.evaluate(P, r, pi, gamma, mu0, check=False).Q
        return xp.max(xp.abs(Q_star - Q), axis=(1, 2))

    pi_md, q_norm = md_vi(P, r, errors, gamma, lam, xp)
    pi_avi = approximate_vi(P, r, errors, gamma, xp)
    norms = xp.max(xp.abs(errors), axis=(2, 3))  # (n, K)
    weights = xp.asarray(gamma ** np.arange(K - 2, -1, -1, dtype=float), dtype=r.dtype)  # empty when K = 1
    summed = xp.sum(norms[:, : K - 1] * weights, axis=1)
    return {
        "err_mdvi": to_numpy(suboptimality(pi_md)),
        "err_avi": to_numpy(suboptimality(pi_avi)),
        "avg_error": to_numpy(xp.max(xp.abs(xp.mean(errors, axis=1)), axis=(1, 2))),
        "summed_error": to_numpy(summed),
        "q_norm": to_numpy(q_norm),
    }


def measure_iid_noise(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                      ) -> dict[str, np.ndarray]:
    """``count`` random MDPs with i.i.d. uniform errors in [-e, e] (the random draws of :func:`mdp_error_space`),
    both schemes run for K steps; the same outputs as :func:`evaluate_schemes`."""
    space = mdp_error_space(params)
    return evaluate_schemes(params, space.decode(space.sample(rng, count)), xp)
