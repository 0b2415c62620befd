"""Synthetic claims whose truth is known, and the calibration of the decision rules on them.

Two uses:

* ``PAPER``/``CLAIMS`` form a synthetic "paper" that exercises the whole engine (executors, store, resume,
  the five kinds and their mutants) without any real solver. It is not discovered by default; load it
  with ``verify(..., extra_modules=["boundlab.calibration"])`` or BOUNDLAB_EXTRA_MODULES.
* ``calibrate()`` drives the decision functions directly with synthetic data over many seeds and measures
  the false-violation rate on true claims and the power against mutants of a stated size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from boundlab.claims import (
    ExpectationClaim,
    HighProbabilityClaim,
    LimitClaim,
    Mutant,
    RateClaim,
    SureClaim,
    reconstructed,
)
from boundlab.decisions import (
    MeanEvidence,
    decide_expectation,
    decide_limit,
)
from boundlab.experiments import Budget, Experiment, InstanceSearch, grid
from boundlab.papers import Paper
from boundlab.seeding import stable_int
from boundlab.spaces import Box
from boundlab.statements import Asymptotic, Expectation, Limit, Probability, Relation

PAPER = Paper(
    key="synthetic-calibration",
    title="Synthetic claims with known truth (BoundLab calibration)",
    authors=("BoundLab",),
    venue="internal",
    year=2026,
    arxiv="none",
)

n, Q, B, D, delay = sp.symbols("n Q B D delay", positive=True)
m, delta = sp.symbols("m delta", positive=True)
M = sp.Symbol("M", real=True)  # a sample mean: can be negative
EXPONENT = 0.5  # true growth exponent of the synthetic rate quantity
NOISE = 0.5  # sigma of the log-normal multiplicative noise


def _rate_measure(params: Mapping[str, Any], rng: np.random.Generator, size: int, xp: Any) -> dict[str, Any]:
    x = float(params["n"])
    noise = rng.lognormal(mean=-NOISE**2 / 2, sigma=NOISE, size=size)  # mean exactly 1
    return {"Q": 3.0 * x**EXPONENT * noise}


def _mean_measure(params: Mapping[str, Any], rng: np.random.Generator, size: int, xp: Any) -> dict[str, Any]:
    if params.get("delay", 0):
        time.sleep(float(params["delay"]))
    return {"Q": 1.0 + rng.standard_normal(size)}


def _sure_evaluate(params: Mapping[str, Any], theta: np.ndarray, xp: Any) -> dict[str, Any]:
    return {"Q": theta[:, 0] * theta[:, 1]}


def _limit_measure(params: Mapping[str, Any], rng: np.random.Generator, size: int, xp: Any) -> dict[str, Any]:
    x = float(params["n"])
    return {"D": 1.0 / x + 1e-3 / x * rng.uniform(size=size)}


def _tail_measure(params: Mapping[str, Any], rng: np.random.Generator, size: int, xp: Any) -> dict[str, Any]:
    return {"M": rng.standard_normal((size, int(params["m"]))).mean(axis=1)}


_QUICK_RATE = Budget(grid(n=[10, 30, 100, 300, 1000, 3000]), replicates=128, block=64)
RATE = Experiment(
    "lognormal-power-law",
    "Q(n) = 3 n^0.5 times log-normal noise with mean one.",
    {"quick": _QUICK_RATE, "standard": _QUICK_RATE, "full": _QUICK_RATE},
    measure=_rate_measure,
    outputs=("Q",),
)
_QUICK_MEAN = Budget(grid(n=[1, 2, 3, 4]), replicates=200, block=100)
MEAN = Experiment(
    "gaussian-mean",
    "Q = 1 + N(0, 1): its mean is exactly one.",
    {"quick": _QUICK_MEAN, "standard": _QUICK_MEAN, "full": _QUICK_MEAN},
    measure=_mean_measure,
    outputs=("Q",),
)
# 256 replicates a point: a Gaussian sample of 16 usually fails the short-tail guard of expectation claims
_SLOW = Budget(grid(n=list(range(1, 13)), delay=0.25), replicates=256, block=128)
_SLOWER = Budget(grid(n=list(range(1, 13)), delay=1.0), replicates=256, block=128)  # 24 s of sleep: worker tests
SLOW = Experiment(
    "slow-gaussian-mean",
    "As gaussian-mean, but every block sleeps a quarter of a second, or a second at standard and full fidelity "
    "(for interruption tests).",
    {"quick": _SLOW, "standard": _SLOWER, "full": _SLOWER},
    measure=_mean_measure,
    outputs=("Q",),
)
_SURE = Budget(grid(n=1), replicates=64, block=64, restarts=3, evaluations=75)
SURE = Experiment(
    "product-on-unit-square",
    "Q = theta_1 theta_2 for theta uniform on the unit square; its maximum 1 is at a corner.",
    {"quick": _SURE, "standard": _SURE, "full": _SURE},
    search=InstanceSearch(Box(0.0, 1.0, shape=2), _sure_evaluate),
    outputs=("Q",),
)
_LIMIT = Budget(grid(n=[10, 100, 1000, 10000, 100000]), replicates=32, block=32)
LIMIT = Experiment(
    "distance-one-over-n",
    "D(n) = 1/n (1 + 1e-3 U): a distance that converges to zero.",
    {"quick": _LIMIT, "standard": _LIMIT, "full": _LIMIT},
    measure=_limit_measure,
    outputs=("D",),
)

_TAIL = Budget(grid(m=10, delta=[0.05, 0.1, 0.2]), replicates=2000, block=1000)
TAIL = Experiment(
    "gaussian-sample-mean",
    "M = the mean of m standard Gaussians (sub-Gaussian with variance proxy 1/m).",
    {"quick": _TAIL, "standard": _TAIL, "full": _TAIL},
    measure=_tail_measure,
    outputs=("M",),
)
#: The sub-Gaussian (Hoeffding) tail bound of a sample mean: P[M > sqrt(2 log(1/delta) / m)] <= delta.
HOEFFDING = sp.sqrt(2 * sp.log(1 / delta) / m)

_NOTE = reconstructed("Synthetic: the truth is known by construction.")
CLAIMS = [
    RateClaim(
        "power-law-rate",
        PAPER,
        Asymptotic(Q, "Theta", sp.sqrt(n)),
        RATE,
        _NOTE,
        variable="n",
        exponent_margin=0.1,
        mutants=(
            Mutant("exponent-plus-quarter", Asymptotic(Q, "Theta", n**0.75), "Exponent too large by 0.25."),
            Mutant("upper-bound-too-small", Asymptotic(Q, "O", n**0.25), "An O(n^0.25) bound: too slow."),
        ),
    ),
    ExpectationClaim(
        "mean-at-most-one",
        PAPER,
        Relation(sp.Le(Expectation(Q), 1)),
        MEAN,
        _NOTE,
        relative_margin=0.3,
        mutants=(Mutant("half-the-bound", Relation(sp.Le(Expectation(Q), sp.Rational(1, 2))), "Bound off by 2x."),),
    ),
    ExpectationClaim(
        "slow-mean-at-most-one",
        PAPER,
        Relation(sp.Le(Expectation(Q), 1)),
        SLOW,
        _NOTE,
        relative_margin=2.0,
    ),
    SureClaim(
        "product-at-most-one",
        PAPER,
        Relation(sp.Le(Q, 1)),
        SURE,
        _NOTE,
        rtol=1e-12,
        atol=0.0,
        mutants=(
            Mutant("bound-too-small", Relation(sp.Le(Q, sp.Rational(99, 100))), "Bound 0.99 < max 1."),
            Mutant("bound-far-too-small", Relation(sp.Le(Q, sp.Rational(1, 10))), "Refuted by random draws."),
        ),
    ),
    HighProbabilityClaim(
        "mean-within-hoeffding",
        PAPER,
        Probability(Relation(sp.Gt(M, HOEFFDING)), delta),
        TAIL,
        _NOTE,
        relative_margin=0.25,
        description="The sample mean of m standard Gaussians exceeds sqrt(2 log(1/delta)/m) with probability at "
        "most delta (true, and loose: the exact tail is 0.007-0.036 at delta 0.05-0.2).",
        mutants=(
            # delta/4 is not refutable here: the bound is 6-7x loose, the true tail is below delta/4 at every delta
            Mutant("delta-over-twenty", Probability(Relation(sp.Gt(M, HOEFFDING)), delta / 20),
                   "delta 20x too small: below the true tail probability."),
            Mutant("bound-halved", Probability(Relation(sp.Gt(M, HOEFFDING / 2)), delta),
                   "Half the deviation: its tail is 0.11 and 0.14 > delta at delta 0.05, 0.1 (0.185 at 0.2)."),
        ),
    ),
    LimitClaim(
        "distance-to-zero",
        PAPER,
        Limit(D, sp.Integer(0), n, sp.oo),
        LIMIT,
        _NOTE,
        tol=1e-4,
        statistic="max",
        mutants=(Mutant("wrong-limit", Limit(D, sp.Rational(1, 10), n, sp.oo), "Limit object off by 0.1."),),
    ),
]


# ------------------------------------------------------------------------------------ calibration


@dataclass(frozen=True)
class Rate:
    """An observed rate over seeds with its Clopper-Pearson 95% interval."""

    name: str
    hits: int
    trials: int
    nominal: float | None = None

    @property
    def value(self) -> float:
        return self.hits / self.trials

    @property
    def ci(self) -> tuple[float, float]:
        from scipy.stats import binomtest

        ci = binomtest(self.hits, self.trials).proportion_ci(0.95)
        return float(ci.low), float(ci.high)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rate": self.value, "hits": self.hits, "trials": self.trials,
                "ci": list(self.ci), "nominal": self.nominal}


def _rng(seed: int, what: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stable_int(what),)))


def _count(name: str, seeds: int, verdict_of: Callable[[int], str], want: str, nominal: float | None) -> Rate:
    hits = sum(verdict_of(s) == want for s in range(seeds))
    return Rate(name, hits, seeds, nominal)


def _mean_one(noise: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Draws with mean exactly one: Gaussian (sd 1), log-normal (sigma 1: skewness 6.2) or exponential
    (skewness 2)."""
    if noise == "gaussian":
        return 1.0 + rng.standard_normal(shape)
    if noise == "lognormal":
        return rng.lognormal(-0.5, 1.0, size=shape)
    if noise == "exponential":
        return rng.exponential(1.0, size=shape)
    raise ValueError(f"noise must be 'gaussian', 'lognormal' or 'exponential', not {noise!r}")


def mean_verdict(seed: int, bound: float, noise: str = "gaussian", replicates: int = 100,
                 alpha: float = 0.05, op: str = "<=", mean: float = 1.0) -> str:
    """Verdict on E[Q] <= bound (or >=, ==) at 4 points where E[Q] = ``mean`` exactly (1: the boundary of the
    true claim at bound 1)."""
    rng = _rng(seed, f"mean-{noise}")
    q = mean * _mean_one(noise, rng, (4, replicates))
    evidence = [MeanEvidence({"point": i}, q[i], np.full(replicates, bound)) for i in range(4)]
    return decide_expectation(evidence, op, 0.0, alpha).verdict


def mean_rows(seeds: int) -> tuple[list[Rate], list[Rate]]:
    """False-violation rows (true claims at their boundary, E[Q] = 1) and power rows for expectation claims:
    Gaussian, exponential and log-normal quantities, 16 to 400 replicates, both one-sided forms and "==", on the
    side of the short tail as well as the long one."""
    false_cases = [
        ("mean E[Q] <= 1 at the boundary, Gaussian", "gaussian", 100, "<="),
        ("mean E[Q] <= 1 at the boundary, Gaussian, 16 reps", "gaussian", 16, "<="),
        ("mean E[Q] == 1 (two-sided), Gaussian", "gaussian", 100, "=="),
        ("mean E[Q] <= 1 at the boundary, log-normal sigma 1 (long tail side)", "lognormal", 100, "<="),
        ("mean E[Q] >= 1 at the boundary, exponential, 16 reps (short tail side)", "exponential", 16, ">="),
        ("mean E[Q] >= 1 at the boundary, exponential, 32 reps (short tail side)", "exponential", 32, ">="),
        ("mean E[Q] == 1 (two-sided), exponential, 100 reps", "exponential", 100, "=="),
        ("mean E[Q] == 1 (two-sided), log-normal sigma 1, 32 reps", "lognormal", 32, "=="),
        ("mean E[Q] == 1 (two-sided), log-normal sigma 1, 100 reps", "lognormal", 100, "=="),
        (SKEWED_SHORT_TAIL[0], "lognormal", 400, "=="),
        ("mean E[Q] >= 1 at the boundary, log-normal sigma 1, 100 reps (short tail side)", "lognormal", 100, ">="),
        (SKEWED_SHORT_TAIL[1], "lognormal", 400, ">="),
    ]
    false = [_count(name, seeds, lambda s, z=noise, r=reps, o=op: mean_verdict(s, 1.0, z, r, op=o), "violated", 0.05)
             for name, noise, reps, op in false_cases]
    power_cases = [
        ("mean: bound off by 2x (E[Q] <= 1/2)", 0.5, "gaussian", 100, "<=", 1.0),
        ("mean: bound off by 10% (E[Q] <= 0.9)", 0.9, "gaussian", 100, "<=", 1.0),
        ("mean: E[Q] == 0.8 (two-sided, off by 20%)", 0.8, "gaussian", 100, "==", 1.0),
        ("mean: bound off by 2x, Gaussian, 16 reps (E[Q] <= 1/2)", 0.5, "gaussian", 16, "<=", 1.0),
        ("mean: E[Q] == 0.8, exponential, 100 reps (off by 20%)", 0.8, "exponential", 100, "==", 1.0),
        ("mean: E[Q] >= 1.25 on an exponential mean 1, 32 reps (short tail side)", 1.25, "exponential", 32, ">=",
         1.0),
        ("mean: E[Q] == 0.8, log-normal sigma 1, 400 reps (off by 20%)", 0.8, "lognormal", 400, "==", 1.0),
    ]
    power = [_count(name, seeds, lambda s, b=bound, z=noise, r=reps, o=op, mu=mu: mean_verdict(s, b, z, r, op=o,
                                                                                           mean=mu),
                    "violated", None)
             for name, bound, noise, reps, op, mu in power_cases]
    return false, power


def _doubled_product(params: Mapping[str, Any], theta: np.ndarray, xp: Any) -> dict[str, Any]:
    """2 t1 t2, computed as (t1 + t2)^2 - t1^2 - t2^2 so that it carries rounding error (exact at the corners)."""
    return {"Q": (theta[:, 0] + theta[:, 1]) ** 2 - theta[:, 0] ** 2 - theta[:, 1] ** 2}


def sure_verdict(seed: int, bound: float) -> str:
    """Verdict on 2 t1 t2 <= 2 bound on the unit square (maximum 2 at the corner (1, 1)), decided as ``verify``
    decides it: 64 random draws, then the adversarial search from the 3 worst (25 evaluations per dimension).
    No instance is injected: the corner is found by the search, or not (see boundlab.search_calibration)."""
    from boundlab.search_calibration import trial

    return trial(_doubled_product, 2, 2.0 * bound, seed, replicates=64, restarts=3, evaluations=25)["verdict"]


def limit_verdict(seed: int, target: float, noise: float = 0.2) -> str:
    """Verdict on lim D = target where D(n) = 1/n + noise/sqrt(n) |N(0,1)|, mean statistic."""
    rng = _rng(seed, "limit")
    x = np.array([10, 100, 1e3, 1e4, 1e5, 1e6])
    d = [np.abs(1 / v + noise / np.sqrt(v) * rng.standard_normal(50) - target) for v in x]
    return decide_limit(x, d, 0.01, x == x.max(), "mean", 0.05).verdict


#: The hardest rows of the mean tests: the short-tail side of a log-normal (sigma 1, skewness 6.2) with 400
#: replicates. Cochran's rule on the population skewness needs about 950 replicates, but a sample of 400 rarely
#: shows its skewness (it misses the tail that makes it), so the short-tail guard of boundlab.stats.MeanTest passes.
#: Correcting the short-tail side with the guard's skewness bound rather than the estimate brought the "==" row from
#: 0.065 to 0.056 over 1000 seeds. No test of a mean is exact over all distributions (Bahadur and Savage, 1956);
#: the suite holds these rows to the nominal level like every other, and the table marks any row whose interval
#: lies above nominal (:func:`label`).
SKEWED_SHORT_TAIL = (
    "mean E[Q] == 1 (two-sided), log-normal sigma 1, 400 reps",
    "mean E[Q] >= 1 at the boundary, log-normal sigma 1, 400 reps (short tail side)",
)


def above_nominal(row: Mapping[str, Any]) -> bool:
    """A false-violation row whose 95% interval lies entirely above its nominal level."""
    nominal, ci = row.get("nominal"), row.get("ci")
    return nominal is not None and bool(ci) and ci[0] > nominal


def label(row: Mapping[str, Any]) -> str:
    """The row's name as tables show it, marked when it is measured above nominal."""
    return f"{row['name']} [ABOVE NOMINAL]" if above_nominal(row) else str(row["name"])


def calibrate(seeds: int = 200, search_seeds: int = 0) -> dict[str, list[dict[str, Any]]]:
    """False-violation rates on true claims (nominal 0.05) and power against false claims, over ``seeds`` seeds;
    with ``search_seeds`` > 0 also the real adversarial search on three synthetic problems in 2, 10, 30 and 100
    dimensions (boundlab.search_calibration; its trials cost seconds each in 100 dimensions, hence fewer seeds).

    Rate rows come from :mod:`boundlab.rate_calibration` (real RateClaim declarations, decided by
    ``RateClaim.decide``), high-probability rows from :mod:`boundlab.probability_calibration` (real
    HighProbabilityClaim declarations, decided by ``HighProbabilityClaim.decide``); the sure rows run the real
    adversarial search (``boundlab.search_calibration``).
    """
    from boundlab.probability_calibration import rows as probability_rows
    from boundlab.rate_calibration import rows

    false, power = [], []
    for row in rows():
        rate = _count(row.case.name, seeds, lambda s, c=row.case: c.decide(s)[0], row.want, row.nominal)
        (false if row.nominal is not None else power).append(rate)
    for hp in probability_rows():
        rate = _count(hp.case.name, seeds, hp.case.decide, hp.want, hp.nominal)
        (false if hp.nominal is not None else power).append(rate)
    mean_false, mean_power = mean_rows(seeds)
    false += mean_false
    power += mean_power
    false += [
        _count("sure 2 t1 t2 <= 2 (rounding at the boundary), real search", seeds, lambda s: sure_verdict(s, 1.0),
               "violated", 0.0),
        _count("limit D -> 0, noisy", seeds, lambda s: limit_verdict(s, 0.0), "violated", 0.05),
    ]
    power += [
        _count("sure: bound 1% too small, real search", seeds, lambda s: sure_verdict(s, 0.99), "violated", None),
        _count("limit: target off by 0.1", seeds, lambda s: limit_verdict(s, 0.1), "violated", None),
    ]
    table = {"false_violation": [r.to_dict() for r in false], "power": [r.to_dict() for r in power]}
    if search_seeds > 0:
        from boundlab.search_calibration import calibrate_search

        for row in calibrate_search(search_seeds):
            row["name"] = f"search, {row['dim']} dims, {row['name']}"
            table["false_violation" if row["kind"] == "false_violation" else "power"].append(row)
    return table
