r"""Andriushchenko, Varre, Pillaud-Vivien, Flammarion. *SGD with Large Step Sizes Learns Sparse Features.* ICML
2023 (PMLR 202), arXiv:2210.05337.

Setting (the authors' diagonal-linear-network experiment, ``diag_nets.py`` of tml-epfl/sgd-sparse-features):
sparse noiseless regression y = X beta*, X (n x d) Gaussian, n < d, beta* s-sparse with unit norm; the network
beta = u * v, the loss L(u, v) = ||X (u * v) - y||^2 / (2n), single-sample SGD from u_0 = alpha 1, v_0 = 0. The
schedule: a large step for T1 steps, then a small step until the data are interpolated.

The results checked (n = 30, d = 60, s = 3, alpha = 0.1):

1. As the large-step phase lengthens, the interpolator the schedule ends at approaches the basis-pursuit
   solution beta_BP = argmin ||beta||_1 s.t. X beta = y (cvxpy, HiGHS): lim_{T1 -> oo} ||beta(T1) - beta_BP|| /
   ||beta_BP|| = 0, within a tolerance of 0.02 (mean over instances) at T1 = 4000, and not growing along the
   sweep; not the minimum-l2 interpolator, not the small-step (T1 = 0) interpolator, not 1.05 beta_BP.
2. Lengthening the large-step phase (T1 / 4 -> T1) does not increase the distance to beta_BP, paired on the
   same instance and the same sample stream: E[dist(T1)] <= E[dist(T1 / 4)].
3. During the large-step phase the loss stays up: over the last quarter of the phase the training loss stays
   above that of the same SGD at half the step (below the stability scale, where SGD converges) on the same
   instance and sample stream, on geometric average: E[log10(L_eta[3T1/4, T1] / L_eta/2[3T1/4, T1])] >= 0.

The step size is chosen per instance, relative to it: eta_ref = 2 sum_i ||g_i||^2 / sum_i ||g_i||^4 (g_i the
per-sample gradients at the balanced factorisation of beta_BP, the mean-square stability scale of single-sample
SGD there) sets a grid c eta_ref, c in (0.5, 0.84, 1, 1.19, 1.41), and the large step is the largest grid step
below which every grid step keeps this replicate's own run bounded over the whole horizon (4000 steps). A step
fixed across instances diverges on many: the largest bounded step varies by about a factor 2 from instance to
instance (the authors' step of about 0.28 in their setup diverged for half of the seeds in a trial). The small
step phase is taken in its small-step limit: the exact end point of gradient flow from the iterate after T1
steps (``solvers.diagonal_networks.gradient_flow_limit``), so that what differs between T1 values is the
large-step phase alone.

Provenance. Claim 1 is quoted from the abstract, "we show empirically that the longer large step sizes keep SGD
high in the loss landscape valleys, the better the implicit regularization can operate and find sparse
representations", with the quantitative encoding reconstructed: "better implicit regularization" is read, for
the diagonal network on sparse noiseless data, as closer to the minimum-l1 interpolator (the sparse
representation this model's implicit bias can reach), the schedule's end taken in the gradient-flow limit.
Claim 2 is the same sentence read as a paired monotonicity (reconstructed). Claim 3 is quoted from the abstract,
"large step sizes (i) may lead the iterates to jump from one side of a valley to the other causing loss
stabilization", with the encoding (the loss of the last quarter of the phase against that of SGD at half the
step on the same stream) reconstructed.
The paper states these as empirical observations, not theorems, and gives no numbers to match.

What the measurements show (engine seeds; quick, 128 instances; measured). The mean distance of the schedule's
end to basis pursuit is 0.0123, 0.0110, 0.0098, 0.0094 at T1 = 500, 1000, 2000, 4000 (the one-sided interval at
4000 is below the tolerance 0.02; at 64 instances it was not: the distances are strongly skewed, a few instances
staying several percent away at every T1, hence 128). The small-step interpolator (T1 = 0) stays 0.12 away,
the minimum-l2 interpolator 1.02 and 1.05 beta_BP 0.055 (the near mutant). Paired, the distance after T1 is on
average 0.71 to 0.85 of that after T1 / 4: it keeps falling, slowly, so "halves" and "cuts by 30%" per four-fold
lengthening are refuted. The loss over the last quarter of the large-step phase stays above that of SGD at half
the step on the same stream by 10^0.61 to 10^1.39 on geometric average (growing with T1), but it too decreases
slowly: what is seen is a slow drift at a raised level, not a flat plateau; "10x above at every T1" is refuted
at T1 = 500. Per-instance steps (a trial run, 128 instances): the largest bounded grid step was c = 0.5 (2
instances), 0.84 (12), 1 (56), 1.19 (51), 1.41 (7) times eta_ref, i.e. eta = 0.23 to 0.67.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from boundlab import (
    Expectation,
    ExpectationClaim,
    Experiment,
    Limit,
    LimitClaim,
    Mutant,
    Paper,
    Relation,
    at,
    budgets,
    quantity,
    quoted,
    reconstructed,
    scaled_bound,
)
from simulations.large_step_sgd_sparse_features import measure_schedule

PAPER = Paper(
    key="large-step-sgd-sparse-features",
    title="SGD with Large Step Sizes Learns Sparse Features",
    authors=("Maksym Andriushchenko", "Aditya Varre", "Loucas Pillaud-Vivien", "Nicolas Flammarion"),
    venue="ICML",
    year=2023,
    arxiv="2210.05337",
)

T1 = quantity("T1", r"T_1")  # the sweep axis: the length of the large-step phase
_D = r"\| \beta(T_1) - "
dist_bp = quantity("dist_bp", _D + r"\beta_{\mathrm{BP}} \| / \|\beta_{\mathrm{BP}}\|")
dist_bp_shorter = quantity("dist_bp_shorter", r"\| \beta(T_1/4) - \beta_{\mathrm{BP}} \| / \|\beta_{\mathrm{BP}}\|")
dist_l2 = quantity("dist_l2", _D + r"\beta_{\ell_2} \| / \|\beta_{\ell_2}\|")
dist_small = quantity("dist_small", _D + r"\beta(0) \| / \|\beta(0)\|")
dist_bp_scaled = quantity("dist_bp_scaled", _D + r"1.05\,\beta_{\mathrm{BP}} \| / \|1.05\,\beta_{\mathrm{BP}}\|")
log_gap = quantity("log_loss_gap", r"\log_{10} \frac{\bar L_{\eta}[3T_1/4, T_1]}{\bar L_{\eta/2}[3T_1/4, T_1]}")

HORIZON = 4000

SCHEDULE = Experiment(
    "large-step-phase-length",
    "Sparse noiseless regression (n = 30, d = 60, s = 3), diagonal network beta = u * v from u = 0.1, v = 0; "
    "single-sample SGD at the largest bounded step of a per-instance grid for T1 steps (and T1 / 4), then the "
    "exact gradient-flow end point; distances to basis pursuit (cvxpy, HiGHS), the minimum-l2 interpolator and "
    "the small-step interpolator; the loss of the large-step phase. The same instance and sample stream at "
    "every T1.",
    budgets(
        {"T1": [500, 1000, 2000, HORIZON], "horizon": HORIZON, "shorter": 4, "n": 30, "d": 60, "s": 3,
         "alpha": 0.1},
        block=64,
        quick=at(replicates=128),
        standard=at(replicates=256),
        full=at(replicates=1024),
    ),
    measure=measure_schedule,
    outputs=("dist_bp", "dist_bp_shorter", "dist_bp_small", "dist_l2", "dist_small", "dist_bp_scaled",
             "loss_early", "loss_late", "log_loss_drop", "log_loss_drop_small", "loss_late_small", "log_loss_gap",
             "step_ratio", "eta"),
    common_random_numbers=True,  # replicate r is the same (X, beta*, sample stream) at every T1
)


def _final(params: Mapping[str, Any]) -> bool:
    """The limit region: the longest large-step phase."""
    return int(params["T1"]) >= HORIZON


def _limit(distance: sp.Symbol) -> Limit:
    return Limit(distance, sp.Integer(0), T1, sp.oo)


BP_LIMIT = _limit(dist_bp)
MONOTONE = Relation(sp.Le(Expectation(dist_bp), dist_bp_shorter))
STABILISES = Relation(sp.Ge(Expectation(log_gap), sp.Integer(0)))

_ASSUMPTIONS = ("X with i.i.d. N(0, 1) entries, n = 30 < d = 60", "beta* 3-sparse, ||beta*|| = 1, y = X beta*",
                "u_0 = 0.1, v_0 = 0; single-sample SGD with replacement",
                "large step: the largest bounded grid step c eta_ref(beta_BP), per instance",
                "annealed phase in the gradient-flow limit")

CLAIMS = [
    LimitClaim(
        "longer-large-steps-reach-basis-pursuit",
        PAPER,
        BP_LIMIT,
        SCHEDULE,
        reconstructed("Abstract (quoted sentence: 'the longer large step sizes keep SGD high in the loss landscape "
                      "valleys, the better the implicit regularization can operate and find sparse "
                      "representations'); encoded as a limit in T1 of the distance of the schedule's end to the "
                      "minimum-l1 (basis-pursuit) interpolator, which the paper states only qualitatively."),
        description="The interpolator the schedule ends at comes within 2% (relative, mean over instances, one-sided "
        "interval) of the basis-pursuit solution when the large-step phase lasts 4000 steps, and the distance falls "
        "along the sweep; the small-step schedule (T1 = 0) ends about 12% away. Mean, not largest: a few instances "
        "stay several percent away at every T1 (their large-step phase ends early in the stabilised regime).",
        tol=0.02,
        statistic="mean",
        final=_final,
        assumptions=_ASSUMPTIONS,
        mutants=(
            Mutant("ends-at-min-l2-interpolator", _limit(dist_l2),
                   "The schedule ends at the minimum-l2 interpolator X^T (X X^T)^{-1} y (the implicit bias of "
                   "gradient descent on beta itself)."),
            Mutant("large-steps-change-nothing", _limit(dist_small),
                   "The schedule ends where the small-step schedule (T1 = 0, gradient flow from the "
                   "initialisation) ends: the large-step phase has no effect."),
            Mutant("ends-at-1p05-basis-pursuit", _limit(dist_bp_scaled),
                   "The limit 1.05 beta_BP, a scale 5% off: about 2.5 tolerances from the truth, the near "
                   "mutant."),
        ),
    ),
    ExpectationClaim(
        "lengthening-the-phase-does-not-hurt",
        PAPER,
        MONOTONE,
        SCHEDULE,
        reconstructed("The abstract's 'the longer large step sizes keep SGD high ..., the better the implicit "
                      "regularization' read as a paired monotonicity: lengthening the large-step phase from "
                      "T1 / 4 to T1 does not increase the mean distance to basis pursuit."),
        description="On the same instance and sample stream, the distance to basis pursuit after T1 large steps is "
        "on average no larger than after T1 / 4 (margin 5% of the bound), at every T1.",
        relative_margin=0.05,
        assumptions=_ASSUMPTIONS,
        mutants=(
            scaled_bound(MONOTONE, 0.5, name="lengthening-halves-the-distance",
                         why="Each four-fold lengthening halves the mean distance."),
            scaled_bound(MONOTONE, 0.7, name="lengthening-cuts-the-distance-by-30-percent",
                         why="Each four-fold lengthening cuts the mean distance by 30% (the near mutant)."),
        ),
    ),
    ExpectationClaim(
        "loss-stabilises-during-large-steps",
        PAPER,
        STABILISES,
        SCHEDULE,
        quoted("Abstract: 'large step sizes (i) may lead the iterates to jump from one side of a valley to the "
               "other causing loss stabilization'; the comparison with SGD at half the step on the same stream "
               "(geometric mean over the last quarter of the phase) is our encoding."),
        description="Over the last quarter of the large-step phase, the training loss (recorded every 25 steps) "
        "stays above that of the same SGD at half the step on the same instance and sample stream, on geometric "
        "average: E[log10 of the ratio] >= 0. Half the step (0.5 eta_ref) is below the stability scale, where SGD "
        "converges; the large step keeps the loss up. The bound is 0, so the margin (relative to it) is 0 and the "
        "engine reports no relative resolution; the mutant (10x above at every T1) shows how sharp the test is.",
        relative_margin=0.05,
        assumptions=_ASSUMPTIONS,
        mutants=(
            Mutant("loss-ten-times-above-converging-run", Relation(sp.Ge(Expectation(log_gap), sp.Integer(1))),
                   "The large-step loss stays 10x above the half-step loss at every T1 (on geometric average); "
                   "the near mutant."),
            Mutant("loss-hundred-times-above-converging-run", Relation(sp.Ge(Expectation(log_gap), sp.Integer(2))),
                   "The large-step loss stays 100x above the half-step loss at every T1."),
        ),
    ),
]
