r"""Zhao, Zhou, He, Gu. *Optimal Online Generalized Linear Regression with Stochastic Noise and Its Application
to Heteroscedastic Bandits.* ICML 2023 (PMLR 202:42259-42279), arXiv:2202.13603.

The result. For online regression with labels y_t = f(<x_t, theta*>) + eps_t and sigma-sub-Gaussian noise,
follow-the-regularized-leader (FTRL) has regret

    R(T) = O(sigma^2 d log T) + o(log T),

and for stochastic online *linear* regression every algorithm suffers Omega(sigma^2 d log(T/d)) in the worst
case, so the upper bound is nearly optimal (both rates quoted from the abstract).

Provenance. Only the abstract and introduction could be read; the theorem bodies (numbering, constants,
the high-probability form) were not available. Everything below is therefore marked *reconstructed*:
the rates are the abstract's, and we inferred (a) the linear link f(z) = z, for which FTRL with the squared
loss and regulariser lam ||theta||^2 is online ridge regression; (b) the regret comparator theta* (the
stochastic regret sum_t (yhat_t - y_t)^2 - (<x_t, theta*> - y_t)^2); the introduction defines the adversarial
regret against the best predictor in hindsight, so that comparator is checked as a separate claim; (c) the
reading of "O(sigma^2 d log T)" as three statements: no polynomial growth in T, and exponents 2 in sigma and 1
in d of the regret's growth per unit of log T. The lower bound is a minimax statement over all algorithms;
numerically we can only check that FTRL's regret on Gaussian designs is not below that rate (the upper bound
is attained), which is what the lower-bound claim here tests.
"""

from __future__ import annotations

import sympy as sp

from boundlab import Asymptotic, Budget, Experiment, Mutant, Paper, RateClaim, grid, quantity, reconstructed
from simulations.online_glm_regression import measure_regret

PAPER = Paper(
    key="online-glm-regression",
    title="Optimal Online Generalized Linear Regression with Stochastic Noise and Its Application to "
    "Heteroscedastic Bandits",
    authors=("Heyang Zhao", "Dongruo Zhou", "Jiafan He", "Quanquan Gu"),
    venue="ICML",
    year=2023,
    arxiv="2202.13603",
)

T, d, sigma = sp.symbols("T d sigma", positive=True)
R = sp.Function("R")  # realised regret against theta*, measured as "R"
R_hindsight = quantity("R_hindsight", r"R^{\mathrm{hind}}(T)")
dR = quantity("dR", r"\Delta R")  # (R(T) - R(T/10)) / log 10: regret growth per unit of log T

REGRET_OUTPUTS = ("R", "R_pseudo", "R_hindsight", "dR")  # what measure_regret returns
SETUP = {
    "model": "y_t = <x_t, theta*> + sigma eps_t, eps_t ~ N(0, 1); x_t ~ N(0, I/d); theta* uniform on the unit sphere",
    "algorithm": "FTRL with squared loss and lam ||theta||^2, lam = 1 (online ridge, Sherman-Morrison updates)",
    "replicates": "independent (theta*, data) draws, batched on a leading axis",
}


def _budgets(points: dict[str, tuple], replicates: tuple[int, int, int]) -> dict[str, Budget]:
    return {
        fidelity: Budget(grid(**points[fidelity]), replicates=reps, block=min(reps, 128))
        for fidelity, reps in zip(("quick", "standard", "full"), replicates, strict=True)
    }


REGRET_VS_T = Experiment(
    "regret-vs-T",
    "Regret after T rounds, d = 5, sigma = 1. The sweep starts at T = 1000 = 200 d: below that the o(log T) "
    "terms bend log-log slopes by more than the margin.",
    _budgets(
        {
            "quick": {"T": [1000, 3000, 10000, 30000, 100000], "d": 5, "sigma": 1.0, "lam": 1.0},
            "standard": {"T": [1000, 3000, 10000, 30000, 100000, 300000], "d": 5, "sigma": 1.0, "lam": 1.0},
            "full": {"T": [1000, 3000, 10000, 30000, 100000, 300000, 1000000], "d": 5, "sigma": 1.0,
                     "lam": 1.0},
        },
        (64, 256, 1024),
    ),
    measure=measure_regret,
    setup=SETUP,
    outputs=REGRET_OUTPUTS,
)
SLOPE_VS_SIGMA = Experiment(
    "log-slope-vs-sigma",
    "Regret growth per unit of log T between T/10 and T, swept over the noise level sigma (d = 5).",
    _budgets(
        {
            "quick": {"sigma": [0.25, 0.5, 1.0, 2.0, 4.0], "T": 4000, "d": 5, "lam": 1.0},
            "standard": {"sigma": [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], "T": 10000, "d": 5, "lam": 1.0},
            "full": {"sigma": [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], "T": 30000, "d": 5, "lam": 1.0},
        },
        (64, 256, 1024),
    ),
    measure=measure_regret,
    setup=SETUP,
    outputs=REGRET_OUTPUTS,
)
SLOPE_VS_D = Experiment(
    "log-slope-vs-d",
    "Regret growth per unit of log T between T/10 and T, swept over the dimension d (sigma = 1).",
    _budgets(
        {
            "quick": {"d": [2, 4, 8, 16, 32], "T": 4000, "sigma": 1.0, "lam": 1.0},
            "standard": {"d": [2, 4, 8, 16, 32, 40], "T": 10000, "sigma": 1.0, "lam": 1.0},
            "full": {"d": [2, 4, 8, 16, 32, 40], "T": 30000, "sigma": 1.0, "lam": 1.0},
        },
        (64, 256, 1024),
    ),
    measure=measure_regret,
    setup=SETUP,
    outputs=REGRET_OUTPUTS,
)

_UPPER = reconstructed(
    "Abstract: FTRL regret O(sigma^2 d log T) + o(log T) for sigma-sub-Gaussian noise. Inferred: linear link "
    "(online ridge), comparator theta*, theorem number and constants unknown."
)
_LOWER = reconstructed(
    "Abstract: Omega(sigma^2 d log(T/d)) lower bound for stochastic online linear regression (minimax over "
    "algorithms). Inferred: checked as 'FTRL's regret is not below this rate' on Gaussian designs."
)
_ASSUMPTIONS = (
    "sigma-sub-Gaussian label noise (here Gaussian)",
    "bounded features and parameter: E||x_t||^2 = 1, ||theta*|| = 1",
    "linear link f(z) = z",
)

CLAIMS = [
    RateClaim(
        "regret-log-horizon",
        PAPER,
        Asymptotic(R(T), "O", sigma**2 * d * sp.log(T)),
        REGRET_VS_T,
        _UPPER,
        description="The regret against theta* grows no faster than log T: the slope of log(R(T) / log T) on "
        "log T must stay below the margin.",
        assumptions=_ASSUMPTIONS,
        variable="T",
        margin=0.1,
        mutants=(
            Mutant("sqrt-horizon-growth", Asymptotic(R(T), "Theta", sigma**2 * d * sp.sqrt(T)),
                   "Regret of order sqrt(T), the rate of adversarial online learning with linear losses."),
        ),
    ),
    RateClaim(
        "hindsight-regret-log-horizon",
        PAPER,
        Asymptotic(R_hindsight, "O", sigma**2 * d * sp.log(T)),
        REGRET_VS_T,
        _UPPER,
        description="The same rate for the regret against the best linear predictor in hindsight (OLS), the "
        "comparator of the adversarial setting in the paper's introduction.",
        assumptions=_ASSUMPTIONS,
        variable="T",
        margin=0.1,
        mutants=(
            Mutant("sqrt-horizon-growth", Asymptotic(R_hindsight, "Theta", sigma**2 * d * sp.sqrt(T)),
                   "Regret of order sqrt(T) against the best predictor in hindsight."),
        ),
    ),
    RateClaim(
        "regret-sigma-squared",
        PAPER,
        Asymptotic(dR, "Theta", sigma**2 * d),
        SLOPE_VS_SIGMA,
        _UPPER,
        description="The regret's growth per unit of log T scales like sigma^2: fitted exponent in sigma within "
        "2 +- 0.1.",
        assumptions=_ASSUMPTIONS,
        variable="sigma",
        margin=0.1,
        mutants=(
            Mutant("sigma-linear", Asymptotic(dR, "Theta", sigma * d),
                   "Linear dependence on the noise level (sigma instead of sigma^2)."),
        ),
    ),
    RateClaim(
        "regret-linear-in-d",
        PAPER,
        Asymptotic(dR, "Theta", sigma**2 * d),
        SLOPE_VS_D,
        _UPPER,
        description="The regret's growth per unit of log T scales like d: fitted exponent in d within 1 +- 0.1.",
        assumptions=_ASSUMPTIONS,
        variable="d",
        margin=0.1,
        mutants=(
            Mutant("d-squared", Asymptotic(dR, "Theta", sigma**2 * d**2),
                   "Quadratic dependence on the dimension, as in cruder analyses."),
        ),
    ),
    RateClaim(
        "lower-bound-log-horizon",
        PAPER,
        Asymptotic(R(T), "Omega", sigma**2 * d * sp.log(T / d)),
        REGRET_VS_T,
        _LOWER,
        description="FTRL's regret does not grow slower than sigma^2 d log(T/d): the slope of "
        "log(R(T) / log(T/d)) on log T must stay above minus the margin.",
        assumptions=_ASSUMPTIONS,
        variable="T",
        margin=0.1,
        mutants=(
            Mutant("adversarial-sqrt-horizon", Asymptotic(R(T), "Omega", sigma**2 * d * sp.sqrt(T)),
                   "The sqrt(T) lower bound of adversarial online learning, wrongly carried over to "
                   "stochastic noise."),
        ),
    ),
]
