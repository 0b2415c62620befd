r"""Schulman, Levine, Moritz, Jordan, Abbeel. *Trust Region Policy Optimization.* ICML 2015 (PMLR 37:1889-1897),
arXiv:1502.05477.

Definitions (Section 2). eta(pi) = E[sum_t gamma^t r(s_t)] with state rewards r(s); rho_pi(s) = sum_t gamma^t
P(s_t = s | pi), the unnormalised discounted visitation; the local approximation

    L_pi(pi~) = eta(pi) + sum_s rho_pi(s) sum_a pi~(a|s) A_pi(s, a).

The results checked (pi = pi_old, pi~ = pi_new):

* Theorem 1. With alpha = D_TV^max(pi_old, pi_new) = max_s 1/2 ||pi_old(.|s) - pi_new(.|s)||_1 and
  eps = max_{s,a} |A_{pi_old}(s, a)|,  eta(pi_new) >= L_{pi_old}(pi_new) - 4 eps gamma alpha^2 / (1 - gamma)^2.
* Eq. (9). With C = 4 eps gamma / (1 - gamma)^2 and D_KL^max(pi, pi~) = max_s KL(pi(.|s) || pi~(.|s)),
  eta(pi~) >= L_pi(pi~) - C D_KL^max(pi, pi~)  (from D_TV^2 <= D_KL).
* The proof of Theorem 1 (Appendix A: |E_{s_t ~ pi~}[Abar(s_t)] - E_{s_t ~ pi}[Abar(s_t)]| <=
  4 eps alpha (1 - (1 - alpha)^t), summed over t with weights gamma^t) gives the sharper two-sided bound
  |eta(pi_new) - L_{pi_old}(pi_new)| <= 4 eps gamma alpha^2 / ((1 - gamma)(1 - gamma (1 - alpha))).

Provenance. Theorem 1 and Eq. (9) are quoted as restated in the paper's summaries (the constant C, the max-TV and
max-KL definitions, unnormalised rho); the two-sided form is reconstructed by summing the per-step bound of
the appendix's proof, as shown above. Pinsker's inequality gives D_TV^2 <= D_KL / 2, so Eq. (9) also holds with
C / 2: the paper's KL form is loose by a factor 2 against its own Theorem 1, and ``kl-form-pinsker`` checks that
sharper corollary (it is a claim, not a mutant, since it is true).

Each bound is a sure claim: random MDPs (which use about 5% of the bound) and an adversarial search over the
MDP, the initial distribution and both policies in one instance space. The report gives the tightness (the
largest gap / bound) each reached; a claim and its mutants share every instance their searches found.

What the searches found (measured, 2 states or 3, 2 actions, gamma 0.5 and 0.9):

* Theorem 1 is far from tight on small MDPs. With 2 states the ratio gap / (C alpha^2) never exceeded 1/2 (ours
  and 12 Nelder-Mead + Powell runs of 30,000 evaluations each, at gamma 0.5 and 0.9, and with 3 actions); with
  3 states at gamma 0.9 Nelder-Mead reached 0.72, so "C / 2" (Kakade and Langford's constant) is false. Our
  search is not reliable there: one standard-fidelity run reached 0.59, the current standard budget 0.50. C / 2
  is therefore not a mutant; the check uses the nearest variant it refutes every time, 2/5 C.
* The KL form is looser still: gap / (C D_KL^max) reached about 0.13 (0.065 at 3 states, gamma 0.9).
* eps measured on the *new* policy's advantages, a natural misreading, was never violated in an exploratory
  search (12 Nelder-Mead runs at 3 states, gamma 0.9; not part of the verification): the ratio approached 1 from
  below. It is not used as a mutant, since nothing here shows it is false.
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
    quoted,
    reconstructed,
)
from simulations.trpo import evaluate_policy_pair, mdp_space

PAPER = Paper(
    key="trpo",
    title="Trust Region Policy Optimization",
    authors=("John Schulman", "Sergey Levine", "Philipp Moritz", "Michael I. Jordan", "Pieter Abbeel"),
    venue="ICML",
    year=2015,
    arxiv="1502.05477",
)

gamma = sp.Symbol("gamma", positive=True)
gap = quantity("gap", r"L_{\pi_{old}}(\pi_{new}) - \eta(\pi_{new})")
eps = quantity("eps", r"\epsilon")
alpha = quantity("alpha", r"\alpha")
kl = quantity("kl", r"D_{KL}^{\max}")

POLICY_PAIRS = Experiment(
    "policy-pairs",
    "Tabular MDPs with state rewards in [-1, 1] and pairs of policies, evaluated exactly (batched linear "
    "solves); random draws, then an adversarial search over kernel, rewards, mu0, pi_old and pi_new.",
    budgets(
        {"S": [2, 3], "A": 2, "gamma": [0.5, 0.9]},
        block=512,
        restarts=4,
        evaluations=300,  # per dimension: 20 dimensions at S = A = 2, 36 at S = 3
        # quick: the two corners of the standard sweep (at S = 2 the TV ratio stays below 1/2, see above)
        quick=at(replicates=512, points=grid(S=2, A=2, gamma=0.5) + grid(S=3, A=2, gamma=0.9)),
        standard=at(replicates=2048),
        full=at(replicates=8192, A=[2, 3], gamma=[0.5, 0.9, 0.99], restarts=8, evaluations=600),
    ),
    search=InstanceSearch(mdp_space, evaluate_policy_pair),
    outputs=("gap", "eps", "alpha", "kl"),
)

C = 4 * eps * gamma / (1 - gamma) ** 2
TV_FORM = Relation(sp.Le(gap, C * alpha**2))
KL_FORM = Relation(sp.Le(gap, C * kl))
PINSKER = Relation(sp.Le(gap, C / 2 * kl))
TWO_SIDED = Relation(sp.Le(sp.Abs(gap), 4 * eps * gamma * alpha**2 / ((1 - gamma) * (1 - gamma * (1 - alpha)))))

_TOL = {"rtol": 1e-9, "atol": 1e-12}  # exact linear algebra: the band is float64 rounding of O(1/(1-gamma)) values
_ASSUMPTIONS = ("finite MDP, state rewards r(s) in [-1, 1]", "any pair of stochastic policies", "0 <= gamma < 1")

CLAIMS = [
    SureClaim(
        "theorem-1-tv-form",
        PAPER,
        TV_FORM,
        POLICY_PAIRS,
        quoted("Theorem 1: eta(pi_new) >= L_{pi_old}(pi_new) - 4 eps gamma alpha^2 / (1 - gamma)^2, "
               "alpha = D_TV^max, eps = max_{s,a} |A_pi(s, a)|."),
        description="The surrogate overestimates the new policy's return by at most 4 eps gamma alpha^2 / "
        "(1 - gamma)^2, written as gap = L - eta(pi_new) <= C alpha^2.",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            # near the tightness the search reaches (about 1/2): a penalty 2/5 of Theorem 1's
            Mutant("two-fifths-of-the-constant", Relation(sp.Le(gap, C * sp.Rational(2, 5) * alpha**2)),
                   "A constant 2/5 of 4 eps gamma / (1 - gamma)^2: near the tightness the search reaches."),
            Mutant("one-power-of-the-horizon", Relation(sp.Le(gap, 4 * eps * gamma * alpha**2 / (1 - gamma))),
                   "(1 - gamma) to the first power instead of the second."),
        ),
    ),
    SureClaim(
        "eq-9-kl-form",
        PAPER,
        KL_FORM,
        POLICY_PAIRS,
        quoted("Eq. (9): eta(pi~) >= L_pi(pi~) - C D_KL^max(pi, pi~), C = 4 eps gamma / (1 - gamma)^2."),
        description="The KL form of Theorem 1 (via D_TV^2 <= D_KL).",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            Mutant("kl-tenth-of-the-constant", Relation(sp.Le(gap, C / 10 * kl)),
                   "C / 10: near the tightness the search reaches for the KL form (about 1/8)."),
        ),
    ),
    SureClaim(
        "kl-form-pinsker",
        PAPER,
        PINSKER,
        POLICY_PAIRS,
        reconstructed("Derived: Theorem 1 with Pinsker's inequality D_TV^2 <= D_KL / 2 (TV = half the l1 "
                      "distance), a factor 2 sharper than Eq. (9)."),
        description="Eq. (9) with C / 2: the factor the paper's D_TV^2 <= D_KL gives away.",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            Mutant("kl-tenth-of-the-constant", Relation(sp.Le(gap, C / 10 * kl)),
                   "C / 10, a fifth of the Pinsker form: near the tightness the search reaches."),
        ),
    ),
    SureClaim(
        "appendix-two-sided",
        PAPER,
        TWO_SIDED,
        POLICY_PAIRS,
        reconstructed("Derived from the proof of Theorem 1 (Appendix A): the per-step bound 4 eps alpha "
                      "(1 - (1 - alpha)^t) summed with weights gamma^t, for both signs of the gap."),
        description="|eta(pi_new) - L_{pi_old}(pi_new)| <= 4 eps gamma alpha^2 / ((1 - gamma)(1 - gamma (1 - "
        "alpha))): two-sided and sharper than Theorem 1.",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            Mutant("two-sided-half-constant",
                   Relation(sp.Le(sp.Abs(gap), 2 * eps * gamma * alpha**2 / ((1 - gamma) * (1 - gamma * (1 - alpha))))),
                   "Half the constant of the two-sided bound."),
        ),
    ),
]
