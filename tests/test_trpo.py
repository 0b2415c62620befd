"""The TRPO instance space and measurements: every decoded instance is a valid MDP with a policy pair, and the
surrogate gap, eps, alpha and the max KL agree with a slow per-instance computation from the definitions."""

from __future__ import annotations

import numpy as np

from simulations.trpo import evaluate_policy_pair, instance_arrays, mdp_space
from tests.test_mdp import slow_evaluation


def test_instances_are_valid_and_measured_as_defined() -> None:
    params = {"S": 3, "A": 2, "gamma": 0.9}
    space = mdp_space(params)
    rng = np.random.default_rng(0)
    z = np.concatenate([space.sample(rng, 6), rng.uniform(space.low, space.high, size=(2, space.dim))])
    instances = space.decode(z)
    arrays = instance_arrays(params, instances)
    for name in ("P", "mu0", "pi_old", "pi_new"):
        np.testing.assert_allclose(arrays[name].sum(axis=-1), 1.0, atol=1e-12)
        assert np.all(arrays[name] > 0)
    assert np.all(np.abs(arrays["r"]) <= 1)
    out = evaluate_policy_pair(params, instances, np)
    for i in range(len(z)):
        P, r, mu0 = arrays["P"][i], arrays["r"][i], arrays["mu0"][i]
        old, new = arrays["pi_old"][i], arrays["pi_new"][i]
        _, _, A_old, rho_old, eta_old = slow_evaluation(P, r, old, 0.9, mu0)
        _, _, _, _, eta_new = slow_evaluation(P, r, new, 0.9, mu0)
        L = eta_old + float(np.sum(rho_old * np.sum(new * A_old, axis=1)))
        assert abs(out["gap"][i] - (L - eta_new)) < 1e-9
        assert abs(out["eps"][i] - np.max(np.abs(A_old))) < 1e-9
        assert abs(out["alpha"][i] - np.max(0.5 * np.abs(old - new).sum(axis=1))) < 1e-12
        assert abs(out["kl"][i] - np.max(np.sum(old * np.log(old / new), axis=1))) < 1e-12
