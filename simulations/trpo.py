"""Instances for the TRPO policy-improvement bounds (Schulman et al., ICML 2015): a tabular MDP with state
rewards, an initial distribution, and a pair of policies (pi_old, pi_new), all exact (solvers.mdp).

The instance space keeps every instance valid by construction: kernel rows, mu0 and both policies are softmaxes
of bounded logits (boundlab.spaces.RowStochastic / Simplex), rewards lie in [-1, 1]. Random draws follow the
experiment design: kernel rows Dirichlet(0.3), mu0 Dirichlet(1), pi_old a softmax of N(0, 1)
logits, pi_new the same logits plus N(0, s^2) noise with s uniform in [0.05, 1]. The adversarial search then
moves all coordinates at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, RowStochastic, Simplex, to_numpy
from simulations.mdp_instances import LOGIT, dirichlet_kernel_logits, kernel_space
from solvers import mdp


def mdp_space(params: Mapping[str, Any]) -> Product:
    """(kernel, rewards, mu0, pi_old, pi_new) for S states and A actions."""
    S, A = int(params["S"]), int(params["A"])

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        kernel = dirichlet_kernel_logits(rng, n, S, A)
        rewards = rng.uniform(-1.0, 1.0, size=(n, S))
        mu0 = np.log(np.maximum(rng.dirichlet(np.ones(S), size=n), 1e-300))
        old = rng.standard_normal((n, S * A))
        scale = rng.uniform(0.05, 1.0, size=(n, 1))
        new = old + scale * rng.standard_normal((n, S * A))
        z = np.concatenate([kernel, rewards, mu0, old, new], axis=1)
        return np.clip(z, space.low, space.high)

    space = Product(
        sampler=sample,
        kernel=kernel_space(S, A),
        rewards=Box(-1.0, 1.0, S),
        mu0=Simplex(S, -LOGIT, LOGIT),
        pi_old=RowStochastic(S, A, -LOGIT, LOGIT),
        pi_new=RowStochastic(S, A, -LOGIT, LOGIT),
    )
    return space


def instance_arrays(params: Mapping[str, Any], instances: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The decoded instances as MDP arrays: P (N, S, A, S), r (N, S), mu0 (N, S), pi_old and pi_new (N, S, A)."""
    S, A = int(params["S"]), int(params["A"])
    n = instances["rewards"].shape[0]
    return {
        "P": instances["kernel"].reshape(n, S, A, S),
        "r": instances["rewards"],
        "mu0": instances["mu0"],
        "pi_old": instances["pi_old"].reshape(n, S, A),
        "pi_new": instances["pi_new"].reshape(n, S, A),
    }


def evaluate_policy_pair(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                         ) -> dict[str, np.ndarray]:
    """Per instance: the surrogate gap L_old(new) - eta(new), eps = max |A_old|, alpha = max_s TV(pi_old, pi_new)
    and kl = max_s KL(pi_old || pi_new)."""
    arrays = {k: xp.asarray(v) for k, v in instance_arrays(params, instances).items()}
    gamma = float(params["gamma"])
    P, r, mu0, old, new = arrays["P"], arrays["r"], arrays["mu0"], arrays["pi_old"], arrays["pi_new"]
    L, before = mdp.surrogate(P, r, old, new, gamma, mu0)
    after = mdp.evaluate(P, r, new, gamma, mu0, check=False)
    return {
        "gap": to_numpy(L - after.eta),
        "eps": to_numpy(xp.max(xp.abs(before.A), axis=(1, 2))),
        "alpha": to_numpy(xp.max(mdp.tv_per_state(old, new), axis=1)),
        "kl": to_numpy(xp.max(mdp.kl_per_state(old, new), axis=1)),
    }
