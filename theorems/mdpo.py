r"""Tomar, Shani, Efroni, Ghavamzadeh. *Mirror Descent Policy Optimization.* ICLR 2022, arXiv:2005.09814.

MDPO's claims are conceptual and empirical (TRPO, PPO and SAC read as mirror descent; a trust region is not a
necessity). What can be checked exactly is the tabular update it builds on: the mirror-descent step
pi_{k+1}(.|s) proportional to pi_k(.|s) exp(t_k Q^{pi_k}(s, .)), which is the softmax natural policy gradient
(NPG) with t_k = eta / (1 - gamma). Its convergence bound, as BoundLab checks it:

    V*(rho) - V^{pi_T}(rho) <= log|A| / (eta T) + 1 / ((1 - gamma)^2 T)

for every MDP with rewards in [0, 1], every start distribution rho, every eta > 0 and T >= 1, with pi_0 uniform
(Agarwal, Kakade, Lee and Mahajan, *On the Theory of Policy Gradient Methods*, JMLR 2021, Theorem 16, the NPG
bound that MDPO's tabular analysis and Shani, Efroni and Mannor (AAAI 2020) build on).

Provenance. Reconstructed: the bound is Agarwal et al.'s Theorem 16 as restated in the literature on MDPO (the
theorem's text could not be read here), with its conventions: softmax parameters theta <- theta + eta / (1 -
gamma) A^{(t)}, rewards in [0, 1], uniform start. It is checked as a sure claim on random MDPs and an adversarial
search over the kernel, the rewards and rho, at several step sizes and horizons.

What the search found (3 states, 2 actions): the bound is loose. The largest ratio suboptimality / bound was
about 0.29 (gamma 0.5, eta 0.1, T 10) and below 0.13 elsewhere, so a bound a quarter as large is refuted, and so
is the bound without its horizon term (ratios up to 25 at gamma 0.9, eta 10, T 1). The mirror-descent term made
ten times smaller was not refuted at the standard sweep (ratio 0.67): on these MDPs it is never the binding part,
so that variant is not used as a mutant.
"""

from __future__ import annotations

import sympy as sp

from boundlab import (
    Experiment,
    InstanceSearch,
    Mutant,
    Paper,
    Relation,
    SureClaim,
    at,
    budgets,
    grid,
    quantity,
    reconstructed,
    scaled_bound,
)
from simulations.mdpo import evaluate_npg, mdp_space

PAPER = Paper(
    key="mdpo",
    title="Mirror Descent Policy Optimization",
    authors=("Manan Tomar", "Lior Shani", "Yonathan Efroni", "Mohammad Ghavamzadeh"),
    venue="ICLR",
    year=2022,
    arxiv="2005.09814",
)

A, T, eta, gamma = sp.symbols("A T eta gamma", positive=True)
subopt = quantity("subopt", r"V^*(\rho) - V^{\pi_T}(\rho)")

NPG_RUNS = Experiment(
    "npg-suboptimality",
    "Exact softmax NPG (the tabular mirror-descent step with t = eta / (1 - gamma)) for T steps from the uniform "
    "policy on MDPs with rewards in [0, 1]; V* by exact policy iteration. Random draws, then an adversarial search "
    "over kernel, rewards and rho.",
    budgets(
        {"S": 3, "A": 2, "gamma": [0.5, 0.9], "eta": [0.1, 1.0, 10.0], "T": [1, 10]},
        block=256,
        restarts=2,
        evaluations=60,  # per dimension (27 at S = 3, A = 2); every evaluation runs T exact NPG steps
        # quick: where the bound is tightest (gamma 0.5, small eta, T = 10) and where its horizon term matters
        quick=at(replicates=256, points=grid(S=3, A=2, gamma=0.5, eta=[0.1, 10.0], T=10)
                 + grid(S=3, A=2, gamma=0.9, eta=10.0, T=1)),
        standard=at(replicates=1024),
        full=at(replicates=4096, S=[3, 5], A=[2, 3], T=[1, 10, 100], restarts=4, evaluations=150),
    ),
    search=InstanceSearch(mdp_space, evaluate_npg),
    outputs=("subopt",),
)

BOUND = sp.log(A) / (eta * T) + 1 / ((1 - gamma) ** 2 * T)
NPG_BOUND = Relation(sp.Le(subopt, BOUND))

CLAIMS = [
    SureClaim(
        "npg-sublinear-rate",
        PAPER,
        NPG_BOUND,
        NPG_RUNS,
        reconstructed("Agarwal, Kakade, Lee, Mahajan (JMLR 2021), Theorem 16: V*(rho) - V^(T)(rho) <= log|A| / "
                      "(eta T) + 1 / ((1 - gamma)^2 T) for softmax NPG from the uniform policy; the exact tabular "
                      "update of MDPO with step eta / (1 - gamma)."),
        description="After T exact NPG steps the suboptimality from rho is at most log|A| / (eta T) + 1 / ((1 - "
        "gamma)^2 T).",
        assumptions=("rewards in [0, 1]", "pi_0 uniform", "exact Q-values"),
        rtol=1e-9,
        atol=1e-10,  # V* and V^T are exact solves of size <= 1 / (1 - gamma) = 10: rounding ~1e-14
        mutants=(
            scaled_bound(NPG_BOUND, sp.Rational(1, 4), name="a-quarter-of-the-bound",
                         why="Near the tightness the search reaches (about 0.29, at gamma 0.5, eta 0.1, T 10)."),
            Mutant("no-horizon-term", Relation(sp.Le(subopt, sp.log(A) / (eta * T))),
                   "The bound without its 1 / ((1 - gamma)^2 T) term."),
        ),
    ),
]
