"""Shared pieces of the tabular-MDP instance spaces (TRPO, MDPO, Leverage the Average): the logit box every
distribution is decoded from, the kernel's space, and the random kernel draws of the experiment designs."""

from __future__ import annotations

import numpy as np

from boundlab import RowStochastic

LOGIT = 8.0  # logits in [-8, 8]: probabilities down to about 3e-7 per entry


def kernel_space(S: int, A: int) -> RowStochastic:
    """P(.|s, a) for every (s, a): S * A rows on S states, softmaxes of logits in [-LOGIT, LOGIT]."""
    return RowStochastic(S * A, S, -LOGIT, LOGIT)


def dirichlet_kernel_logits(rng: np.random.Generator, n: int, S: int, A: int) -> np.ndarray:
    """Coordinates of n random kernels, rows Dirichlet(0.3) (log-probabilities, flattened per instance; callers
    clip them into the space's box)."""
    return np.log(np.maximum(rng.dirichlet(np.full(S, 0.3), size=(n, S * A)), 1e-300)).reshape(n, -1)
