"""Monte Carlo for optimistic OMD in the stochastically extended adversarial (SEA) model (Chen, Tu, Zhao, Zhang,
ICML 2023).

Loss sequences (``d``-dimensional, the ball of radius ``radius`` as domain; every replicate its own draws):

* convex, linear losses ``f_t(x) = <c_t, x>`` (smooth with L = 0), with an exponent c per sequence so that the
  cumulative quantities grow like T^c:

  - ``stochastic``: ``c_t = a_t xi_t``, ``a_t = t^((c-1)/2)``, ``xi_t`` uniform on the unit sphere. The mean
    gradient is 0 every round, so ``Sigma_t = 0`` for t >= 2, and ``sigma_t^2 = E||a_t xi_t||^2 = t^(c-1)``:
    ``sigma^2_{1:T} = sum_t t^(c-1) ~ T^c / c``.
  - ``adversarial``: ``c_t = (-1)^t a_t u_t v``, a direction v uniform on the sphere per replicate and amplitude
    jitter ``u_t ~ U[1/2, 3/2]``, chosen before the game (an oblivious adversary who randomises: every f_t is
    deterministic given the adversary's draw, so ``sigma_t = 0``). The sign alternates every round, the worst
    case for the hint ``m_t = g_{t-1}``: ``||c_t - c_{t-1}||^2 ~ 4 t^(c-1)``, so ``Sigma^2_{1:T} ~ T^c``.
  - ``mixed``: the adversarial sequence as the mean, plus the stochastic noise: both grow like T^c.

  The exponents are stacked on the batch axis: one run of the learner serves all of them.
* strongly convex: ``f_t(x) = ||x - c_t||^2 / 2`` (lam = L = 1), ``c_t = mu + sigma xi_t`` with a fixed mean
  ``mu = (1/2, 0, ..., 0)``: ``sigma_t^2 = sigma^2`` and ``Sigma_t = 0`` for t >= 2.

Random numbers are drawn with NumPy in chunks of 100 rounds, in a fixed order (per-replicate directions first),
so the first T rounds are the same whatever the horizon: under common random numbers replicate r at horizon T is
the prefix of replicate r at every longer horizon. They are moved to the backend ``xp`` afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from boundlab import to_numpy
from solvers.online_learning import AdaptiveStep, StronglyConvexStep, run_linear, run_quadratic

EXPONENTS = (0.25, 0.5, 0.75, 1.0)
"""The growth exponents c of the cumulative variances (sigma^2_{1:T} or Sigma^2_{1:T} ~ T^c)."""
CHUNK = 100
JITTER = (0.5, 1.5)
FAMILIES = ("stochastic", "adversarial", "mixed")


def output_name(c: float) -> str:
    """The output holding the regret of the sequence with exponent c: ``R_c25`` for c = 0.25."""
    return f"R_c{round(100 * c)}"


def gradient_bound(family: str) -> float:
    """G with ||c_t|| <= G for every round of a convex family (a_t <= 1, u_t <= 3/2)."""
    return {"stochastic": 1.0, "adversarial": JITTER[1], "mixed": 1.0 + JITTER[1]}[family]


def sphere(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Directions uniform on the unit sphere; the last axis is the coordinate."""
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def convex_stream(rng: np.random.Generator, xp: Any, family: str, replicates: int, d: int,
                  exponents: Sequence[float] = EXPONENTS) -> Callable[[int, int], Any]:
    """The linear-loss vectors c_t of ``family`` for every (replicate, exponent), batch index r * K + k."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    K = len(exponents)
    cs = np.asarray(exponents, dtype=float)
    v = sphere(rng, (replicates, 1, 1, d)) if family != "stochastic" else None

    def stream(t0: int, t1: int) -> Any:
        t = np.arange(t0 + 1, t1 + 1, dtype=float)
        a = t[None, None, :, None] ** ((cs[None, :, None, None] - 1.0) / 2.0)    # (1, K, n, 1)
        c = np.zeros((replicates, K, t1 - t0, d))
        if family != "stochastic":
            u = rng.uniform(*JITTER, size=(replicates, 1, t1 - t0, 1))
            sign = (-1.0) ** t[None, None, :, None]
            c = c + sign * a * u * v
        if family != "adversarial":
            c = c + a * sphere(rng, (replicates, 1, t1 - t0, d))
        return xp.asarray(c.reshape(replicates * K, t1 - t0, d))

    return stream


def convex_instance(rng: np.random.Generator, family: str, replicates: int, T: int, d: int,
                    exponents: Sequence[float] = EXPONENTS) -> np.ndarray:
    """Whole sequences c (replicates * K, T, d) of ``family`` as NumPy: the tests use these, not a copy."""
    stream = convex_stream(rng, np, family, replicates, d, exponents)
    return np.concatenate([stream(t0, min(t0 + CHUNK, T)) for t0 in range(0, T, CHUNK)], axis=1)


def _convex_regret(family: str, params: Mapping[str, Any], rng: np.random.Generator, n: int,
                   xp: Any) -> dict[str, np.ndarray]:
    T, d, radius = int(params["T"]), int(params["d"]), float(params["radius"])
    G = gradient_bound(family)
    schedule = AdaptiveStep(diameter=2 * radius, G=G, delta=float(params["delta"]))
    K = len(EXPONENTS)
    regret = run_linear(convex_stream(rng, xp, family, n, d), T, radius, schedule, (T,), replicates=n * K,
                        dim=d, G=G, chunk_size=CHUNK, xp=xp)
    per = to_numpy(regret)[:, 0].reshape(n, K)
    return {output_name(c): per[:, k] for k, c in enumerate(EXPONENTS)}


def measure_stochastic(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Regret after T rounds on the stochastic sequences, one output per exponent c."""
    return _convex_regret("stochastic", params, rng, n, xp)


def measure_adversarial(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Regret after T rounds on the alternating adversarial sequences (sigma = 0), one output per exponent c."""
    return _convex_regret("adversarial", params, rng, n, xp)


def measure_mixed(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any) -> dict[str, np.ndarray]:
    """Regret after T rounds on the alternating means plus noise, one output per exponent c."""
    return _convex_regret("mixed", params, rng, n, xp)


MU0 = 0.5


def quadratic_stream(rng: np.random.Generator, xp: Any, replicates: int, d: int,
                     sigma: float) -> Callable[[int, int], Any]:
    """Targets c_t = mu + sigma xi_t of the strongly convex losses ||x - c_t||^2 / 2."""
    mu = np.zeros(d)
    mu[0] = MU0

    def stream(t0: int, t1: int) -> Any:
        return xp.asarray(mu + sigma * sphere(rng, (replicates, t1 - t0, d)))

    return stream


def quadratic_instance(rng: np.random.Generator, replicates: int, T: int, d: int, sigma: float) -> np.ndarray:
    """Whole target sequences c (replicates, T, d) as NumPy, from the same generator as the measure."""
    stream = quadratic_stream(rng, np, replicates, d, sigma)
    return np.concatenate([stream(t0, min(t0 + CHUNK, T)) for t0 in range(0, T, CHUNK)], axis=1)


def measure_strongly_convex(params: Mapping[str, Any], rng: np.random.Generator, n: int,
                            xp: Any) -> dict[str, np.ndarray]:
    """Regret R after T rounds on ||x - c_t||^2 / 2, and its growth per unit of log T, dR = (R(T) - R(T/10)) / log 10.

    The step size is eta_t = 1 / (lam t) with lam = 1.
    """
    T, d, radius, sigma = int(params["T"]), int(params["d"]), float(params["radius"]), float(params["sigma"])
    regret = run_quadratic(quadratic_stream(rng, xp, n, d, sigma), T, radius, StronglyConvexStep(lam=1.0),
                           (T // 10, T), replicates=n, dim=d, chunk_size=CHUNK, xp=xp)
    r = to_numpy(regret)
    return {"R": r[:, 1], "dR": (r[:, 1] - r[:, 0]) / math.log(10.0)}
