"""Instances for the exact tabular mirror-descent (softmax NPG) update behind MDPO (Tomar et al., ICLR 2022): a
tabular MDP with state-action rewards in [0, 1] and a start distribution rho, NPG run exactly for T steps from the
uniform policy (solvers.mdp.natural_policy_gradient), and V*(rho) by exact policy iteration.

Every instance is valid by construction (boundlab.spaces): kernel rows and rho are softmaxes of bounded logits,
rewards lie in [0, 1]. Random draws: kernel rows Dirichlet(0.3), rewards uniform, rho Dirichlet(1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, Simplex, to_numpy
from simulations.mdp_instances import LOGIT, dirichlet_kernel_logits, kernel_space
from solvers import mdp


def mdp_space(params: Mapping[str, Any]) -> Product:
    """(kernel, rewards, rho) for S states and A actions."""
    S, A = int(params["S"]), int(params["A"])

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        kernel = dirichlet_kernel_logits(rng, n, S, A)
        rewards = rng.uniform(0.0, 1.0, size=(n, S * A))
        rho = np.log(np.maximum(rng.dirichlet(np.ones(S), size=n), 1e-300))
        return np.clip(np.concatenate([kernel, rewards, rho], axis=1), space.low, space.high)

    space = Product(sampler=sample, kernel=kernel_space(S, A), rewards=Box(0.0, 1.0, S * A),
                    rho=Simplex(S, -LOGIT, LOGIT))
    return space


def evaluate_npg(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any) -> dict[str, np.ndarray]:
    """Per instance: ``subopt`` = V*(rho) - V^{pi_T}(rho) after T exact NPG steps of size eta from uniform."""
    S, A, gamma = int(params["S"]), int(params["A"]), float(params["gamma"])
    n = instances["rewards"].shape[0]
    P = xp.asarray(instances["kernel"].reshape(n, S, A, S))
    r = xp.asarray(instances["rewards"].reshape(n, S, A))
    rho = xp.asarray(instances["rho"])
    pi_T = mdp.natural_policy_gradient(P, r, gamma, rho, float(params["eta"]), int(params["T"]))
    _, V_star = mdp.policy_iteration(P, r, gamma, rho)
    V_T = mdp.evaluate(P, r, pi_T, gamma, rho, check=False).V
    return {"subopt": to_numpy(xp.sum(rho * (V_star - V_T), axis=1))}
