r"""Template paper: copy to ``theorems/<paper>.py`` (and ``simulations/_template.py`` to
``simulations/<paper>.py``), then replace the example. Modules whose name starts with ``_`` are skipped by
discovery, so this one never appears in ``boundlab list``; ``tests/test_template.py`` copies it to a temporary
folder and verifies it, so the template itself is known to work.

The docstring of a theorem module states the result with its citation and provenance. For the example:

Hoeffding, W. *Probability inequalities for sums of bounded random variables.* Journal of the American
Statistical Association 58 (1963), 13-30; Popoviciu, T. *Sur les equations algebriques ayant toutes leurs
racines reelles.* Mathematica (Cluj) 9 (1935), 129-145.

The results. For X_1, ..., X_m i.i.d. in [0, 1] with mean p and sample mean Xbar_m:

* (Popoviciu) every distribution on [0, 1] has variance at most 1/4 (equality for mass 1/2 at 0 and at 1);
* E|Xbar_m - p| = Theta(m^{-1/2}) (central limit theorem; sqrt(m) E|Xbar_m - p| -> sigma sqrt(2 / pi));
* Xbar_m -> p (law of large numbers), here in mean: E|Xbar_m - p| -> 0;
* (Hoeffding, Theorem 1 via its (2.3)) P[Xbar_m - p > sqrt(log(1/delta) / (2 m))] <= delta.

One claim of each kind shows the declaration API: a sure claim checked by an adversarial search over an
instance space, a rate claim, a limit claim and a high-probability claim, each with mutants on the side where
it can fail (one of them near the resolution of its check).
"""

from __future__ import annotations

import sympy as sp

from boundlab import (
    Asymptotic,
    Experiment,
    HighProbabilityClaim,
    InstanceSearch,
    Limit,
    LimitClaim,
    Mutant,
    Paper,
    Probability,
    RateClaim,
    Relation,
    SureClaim,
    at,
    budgets,
    faster,
    quantity,
    quoted,
    scaled_bound,
    slower,
    wrong_limit,
)
from simulations._template import distribution_space, evaluate_variance, measure_sample_mean

# The citation is written once, here: the report, the README table and the notebook read it from PAPER.
PAPER = Paper(
    key="template-concentration",
    title="Probability inequalities for sums of bounded random variables",
    authors=("Wassily Hoeffding",),
    venue="JASA",
    year=1963,
    arxiv="",  # no arXiv version
)

# Sweep parameters are plain sympy symbols named like the sweep's axes; measured outputs are quantities, with
# the LaTeX this paper typesets them with (names are per paper: another paper's "variance" keeps its own).
m, p, delta = sp.symbols("m p delta", positive=True)
variance = quantity("variance", r"\operatorname{Var}(X)")
deviation = quantity("deviation", r"|\bar X_m - p|")
excess = quantity("excess", r"\bar X_m - p")

# An experiment is a sweep (written once with budgets(); at() gives each fidelity its replicate count and what
# it changes), a measure function (or an InstanceSearch) and the outputs it returns.
VARIANCE = Experiment(
    "variance-of-finite-distributions",
    "Finite distributions on [0, 1] (weights in the simplex, locations in the unit box); random draws, then an "
    "adversarial search for the largest variance.",
    budgets(
        {"atoms": [2, 5]},
        block=256,
        restarts=2,
        evaluations=40,  # per dimension of the instance space (4 and 10 dimensions here)
        quick=at(replicates=256),
        standard=at(replicates=1024, atoms=[2, 5, 20]),
        full=at(replicates=4096, atoms=[2, 5, 20, 50], restarts=4, evaluations=100),
    ),
    search=InstanceSearch(distribution_space, evaluate_variance),
    outputs=("variance",),
)
SAMPLE_MEAN = Experiment(
    "sample-mean-of-bernoulli",
    "Sample means of m Bernoulli(p) draws (the sum drawn as one Binomial(m, p) per replicate).",
    budgets(
        {"m": [100, 300, 1000, 3000, 10000], "p": 0.3},
        block=1024,
        quick=at(replicates=1024),
        standard=at(replicates=4096),
        full=at(replicates=16384, m=[100, 300, 1000, 3000, 10000, 30000, 100000]),
    ),
    measure=measure_sample_mean,
    outputs=("excess", "deviation"),
)
TAIL = Experiment(
    "tail-of-the-sample-mean",
    "Upper deviations of the sample mean of m Bernoulli(1/2) draws (p = 1/2 is where Hoeffding is tightest).",
    budgets(
        {"m": [20, 100, 500], "p": 0.5, "delta": 0.05},
        block=2000,
        quick=at(replicates=2000),
        standard=at(replicates=8000, delta=[0.01, 0.05, 0.2]),
        full=at(replicates=32000, m=[20, 100, 500, 2500], delta=[0.01, 0.05, 0.2]),
    ),
    measure=measure_sample_mean,
    outputs=("excess", "deviation"),
)

POPOVICIU = Relation(sp.Le(variance, sp.Rational(1, 4)))
RATE = Asymptotic(deviation, "Theta", 1 / sp.sqrt(m))
TO_ZERO = Limit(deviation, sp.Integer(0), m, sp.oo)
HOEFFDING = Probability(Relation(sp.Gt(excess, sp.sqrt(sp.log(1 / delta) / (2 * m)))), delta)

CLAIMS = [
    SureClaim(
        "variance-at-most-a-quarter",
        PAPER,
        POPOVICIU,
        VARIANCE,
        quoted("Popoviciu's inequality on variances (1935), for the range [0, 1]."),
        description="Every finite distribution on [0, 1] has variance at most 1/4.",
        assumptions=("support in [0, 1]",),
        rtol=1e-9,  # what decides a verdict is always stated: here the band of floating-point rounding
        atol=1e-12,
        mutants=(
            # Near the resolution: only distributions close to the extreme one (mass 1/2 at 0 and 1) break it,
            # which random draws almost never reach: the search must find them.
            scaled_bound(POPOVICIU, sp.Rational(19, 20), name="ninety-five-percent-of-the-bound",
                         why="A bound 5% too small."),
            Mutant("uniform-variance", Relation(sp.Le(variance, sp.Rational(1, 12))),
                   "The variance of the uniform distribution on [0, 1], mistaken for the largest one."),
        ),
    ),
    RateClaim(
        "mean-deviation-rate",
        PAPER,
        RATE,
        SAMPLE_MEAN,
        quoted("Central limit theorem: sqrt(m) E|Xbar_m - p| -> sigma sqrt(2 / pi)."),
        description="The mean absolute deviation of the sample mean falls like m^{-1/2}. Margin 0.1 of an "
        "exponent: the deviation's law is exactly sigma sqrt(2 / (pi m)) up to O(1/m) lattice corrections.",
        variable="m",
        exponent_margin=0.1,
        mutants=(
            slower(RATE, m ** sp.Rational(1, 5), name="rate-m-to-minus-0p7",
                   why="A faster false decay m^{-0.7}, 0.2 away: near the check's resolution."),
            faster(RATE, sp.sqrt(m), name="does-not-vanish", order="Omega",
                   why="The deviation does not vanish (no concentration at all)."),
        ),
    ),
    LimitClaim(
        "law-of-large-numbers",
        PAPER,
        TO_ZERO,
        SAMPLE_MEAN,
        quoted("Weak law of large numbers, in mean."),
        description="E|Xbar_m - p| falls below 0.01 by the end of the sweep in m and does not grow along it.",
        tol=0.01,
        statistic="mean",  # noisy distances: a one-sided t interval of the mean distance decides
        mutants=(
            wrong_limit(TO_ZERO, sp.Rational(3, 200), name="limit-off-by-0p015",
                        why="The sample mean converges to p + 0.015: a limit 1.5 tolerances away."),
        ),
    ),
    HighProbabilityClaim(
        "hoeffding-upper-tail",
        PAPER,
        HOEFFDING,
        TAIL,
        quoted("Hoeffding (1963), Theorem 1 in the form (2.3): P[Xbar - p >= t] <= exp(-2 m t^2)."),
        description="The sample mean exceeds p by more than sqrt(log(1/delta) / (2m)) with probability at most "
        "delta.",
        relative_margin=0.5,  # the relative slack a pass allows: the upper confidence bound must be <= 1.5 delta
        mutants=(
            Mutant("half-the-deviation",
                   Probability(Relation(sp.Gt(excess, sp.sqrt(sp.log(1 / delta) / (8 * m)))), delta),
                   "A deviation half as large (a factor 2 lost in the exponent's constant)."),
            Mutant("fast-rate-deviation",
                   Probability(Relation(sp.Gt(excess, sp.log(1 / delta) / m)), delta),
                   "A deviation of order log(1/delta) / m, the fast rate that needs a small variance."),
        ),
    ),
]
