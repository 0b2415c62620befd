"""Template simulation (copy to ``simulations/<paper>.py``): the Monte Carlo behind ``theorems/_template.py``.

A simulation module holds the paper's instance generators and measure functions, and nothing else: its
tests and benchmark import the generators from here instead of copying the model.

* A **measure function** ``measure(params, rng, n, xp) -> dict[str, array]`` runs ``n`` replicates at one
  sweep point ``params`` and returns one array of length ``n`` per measured output. The replicates are one
  batched array computation (a leading axis), never a Python loop. Draw the random numbers with the NumPy
  ``rng`` and move them to the backend ``xp`` (NumPy, CuPy, array-api-strict), so every backend sees the same
  data; return NumPy arrays (``boundlab.to_numpy``).
* An **instance evaluator** ``evaluate(params, instances, xp) -> dict[str, array]`` measures a batch of
  instances decoded from an instance space (:mod:`boundlab.spaces`). The engine draws random instances and runs
  the adversarial search in that space, so every instance it tries is valid by construction.

The model here: samples X_1, ..., X_m ~ Bernoulli(p) (values in [0, 1]), and finite distributions on [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, Product, Simplex, to_numpy


def bernoulli_means(rng: np.random.Generator, replicates: int, m: int, p: float) -> np.ndarray:
    """Sample means of m Bernoulli(p) draws, one per replicate (the sum is Binomial(m, p), drawn exactly)."""
    return rng.binomial(m, p, size=replicates) / m


def measure_sample_mean(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                        ) -> dict[str, np.ndarray]:
    """Per replicate: ``excess`` = mean - p and ``deviation`` = |mean - p| of m Bernoulli(p) samples."""
    m, p = int(params["m"]), float(params["p"])
    excess = xp.asarray(bernoulli_means(rng, n, m, p)) - p
    return {"excess": to_numpy(excess), "deviation": to_numpy(xp.abs(excess))}


def distribution_space(params: Mapping[str, Any]) -> Product:
    """Distributions on ``atoms`` points of [0, 1]: weights in the simplex, locations in the unit box."""
    atoms = int(params["atoms"])
    return Product(weights=Simplex(atoms), locations=Box(0.0, 1.0, atoms))


def evaluate_variance(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                      ) -> dict[str, np.ndarray]:
    """``variance`` of each finite distribution (weights w, locations x): sum w x^2 - (sum w x)^2."""
    w, x = xp.asarray(instances["weights"]), xp.asarray(instances["locations"])
    mean = xp.sum(w * x, axis=1)
    variance = xp.sum(w * (x - mean[:, None]) ** 2, axis=1)
    return {"variance": to_numpy(variance)}
