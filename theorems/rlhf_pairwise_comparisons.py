r"""Zhu, Jordan, Jiao. *Principled Reinforcement Learning with Human Feedback from Pairwise or K-wise
Comparisons.* ICML 2023 (PMLR 202:43037-43067), arXiv:2301.11270.

The setting. Rewards are linear, r_theta(s, a) = theta^T phi(s, a) with ||phi|| <= L, and theta* lies in
Theta_B = {<1, theta> = 0, ||theta|| <= B}. A comparison of a_1 against a_0 follows the Bradley-Terry-Luce (BTL)
model, P(a_1 > a_0) = sigmoid(theta*^T (phi(a_1) - phi(a_0))); a ranking of K items follows the Plackett-Luce
(PL) model. The MLE minimises the negative log-likelihood over Theta_B.

The results checked:

* (Lemma 3.1, BTL) for any lam > 0, with probability >= 1 - delta,
  ||theta_MLE - theta*||_{Sigma_D + lam I} <= C sqrt((d + log(1/delta)) / (gamma^2 n) + lam B^2), with
  gamma = 1 / (2 + e^{-LB} + e^{LB}), Sigma_D = (1/n) sum_i x_i x_i^T, x_i = phi(a_1^i) - phi(a_0^i). The
  constant C is universal but not given explicitly, so the lemma is checked as its rate (lam -> 0): the mean
  Sigma_D-error is Theta(sqrt(d / n)), swept in n (exponent -1/2) and in d (exponent +1/2).
* (Section 4, PL) the K-wise MLE (MLE_K) converges at the same rate, so does the MLE that splits each ranking
  into its K (K - 1) / 2 pairs (MLE_2), and MLE_K is asymptotically more efficient: E||.||^2 of MLE_2 is at least
  that of MLE_K.
* (Theorem 3.9) plain MLE fails: on a four-action bandit in which one action is compared only once, the greedy
  policy of the MLE is suboptimal by >= 0.1 with constant probability for every n, while (Theorem 3.2) the
  pessimistic MLE, pi_PE = argmax_pi min_{theta in Theta(theta_MLE, lam)} theta^T (phi(pi) - v), has
  suboptimality at most 2 f ||(Sigma_D + lam I)^{-1/2} (phi(a*) - v)||, f the radius of Lemma 3.1, and so
  converges.

Provenance. The paper's full text could not be read here (the stored copies of arXiv 2301.11270 stop after the
abstract and introduction). The abstract is quoted for "MLE converges under BTL and PL", "MLE fails while a
pessimistic MLE provides policies with improved performance" and "the true MLE is asymptotically more
efficient". The constants (gamma, the radius, Sigma_D, the parameter set) and the counterexample's instance
(phi(a1) = (1, 1, 0), phi(a2) = (1, 0, 0), phi(a3) = 0, phi(a4) = (0, 1, 0), theta* = (-1, 0.1, 0.9); n - 1
comparisons of (a1, a2) and one of (a2, a3)) come from a third-party re-implementation
(divyaksh-shukla/principled-rlhf, src/pessimistic_mle.py and src/linear_bandit_env.py, "based on the example
in Appendix B.3 (Theorem 3.9 proof)") and from a summary of the paper (Theorem 3.9: ">= 0.1-suboptimal for
every sample size", a 4-action bandit). Everything is therefore marked *reconstructed*. Inferred here: (a) the
failure probability. On this instance the single (a2, a3) comparison goes to a2 with probability sigmoid(-1) =
1 / (1 + e); the likelihood then increases without bound in theta_1, so the MLE sits on the sphere ||theta|| = B
with theta_1 > 0 and its greedy policy picks a1 or a2 (suboptimality >= 1). Hence P[SubOpt(pi_MLE) >= 0.1] >=
1 / (1 + e) for every n, and this bound is attained as n -> oo. (b) The pessimistic policy. We use the
ellipsoid's closed form theta_hat^T phi(a) - f ||phi(a)||_{(Sigma_D + lam I)^{-1}} with v = phi(a3) = 0, C = 1,
lam = 1 / n, delta = 0.05, B = 2, L = sqrt(2) (as in the re-implementation). This drops the intersection with
Theta_B, which only makes the policy more pessimistic; Theorem 3.2's argument needs only theta* in the ellipsoid,
so the bound 2 f ||phi(a*) - v|| is unchanged. (c) The K-wise data covariance Sigma_D = 2 / (K (K - 1) n) sum_i
sum_{j < k} (phi_j - phi_k)(phi_j - phi_k)^T, the norm both K-wise estimators are measured in.

The MLE comes from solvers/choice_mle.py: a batched Newton method on the unnormalised likelihood over Theta_B
(the hyperplane through an orthonormal basis, the ball ||theta|| <= B exactly through a log-barrier phase for
the replicates whose minimiser lies on the sphere). It is tested against cvxpy (CLARABEL, exponential cone) in
tests/test_rlhf_pairwise_comparisons.py.

What the measurements show (quick fidelity; standard in brackets). The BTL Sigma_D-error falls like n^{-1/2}:
deviation -0.01 [-0.03, +0.01] of an exponent over n = 100..3200 (standard -0.01 [-0.03, -0.01]), resolution
0.10 (0.08), so n^{-0.6}, n^{-0.4} and 1/n are refuted. In d it grows like sqrt(d - 1): deviation +0.04 [+0.01,
+0.07] over d = 4..32 (standard +0.03), resolution 0.16; encoded first with sqrt(d) the same data gave +0.09
[+0.05, +0.13], straddling the margin 0.1 (inconclusive), which is the d - 1 free directions of Theta_B (about
+0.06) plus the effects listed in the claim. MLE_K and MLE_2 both fall like n^{-1/2} (deviations -0.01, resolution
0.12), and MLE_2's mean squared error is 1.08 [1.05, 1.12] times MLE_K's at n = 400 (standard 1.06-1.09 at n =
400 and 1600). On the four-action bandit the greedy MLE policy is 0.1-suboptimal with frequency 0.26-0.50 at
every n from 10^2 to 10^7 (0.50 at n = 100, where theta_hat_2 also often has the wrong sign; 0.26-0.27, i.e.
1 / (1 + e), from n = 10^4 on); the pessimistic policy keeps the safe a3 (suboptimality 0.1, at most 0.34 of the
Theorem 3.2 bound) up to n = 10^5 and picks the optimal a4 at n = 10^6 and 10^7 in every replicate; no replicate
exceeds the bound.
"""

from __future__ import annotations

import sympy as sp

from boundlab import (
    Asymptotic,
    Expectation,
    ExpectationClaim,
    Experiment,
    HighProbabilityClaim,
    Limit,
    LimitClaim,
    Mutant,
    Paper,
    Probability,
    RateClaim,
    Relation,
    at,
    budgets,
    faster,
    quantity,
    reconstructed,
    slower,
    wrong_limit,
)
from simulations.rlhf_pairwise_comparisons import measure_btl_error, measure_counterexample, measure_kwise_error

PAPER = Paper(
    key="rlhf-pairwise-comparisons",
    title="Principled Reinforcement Learning with Human Feedback from Pairwise or K-wise Comparisons",
    authors=("Banghua Zhu", "Michael I. Jordan", "Jiantao Jiao"),
    venue="ICML",
    year=2023,
    arxiv="2301.11270",
)

n, d, K, B, delta = sp.symbols("n d K B delta", positive=True)
err = quantity("err", r"\|\hat\theta_{\mathrm{MLE}} - \theta^*\|_{\Sigma_D}")
err_k = quantity("err_k", r"\|\hat\theta_{\mathrm{MLE}_K} - \theta^*\|_{\Sigma_D}")
err_2 = quantity("err_2", r"\|\hat\theta_{\mathrm{MLE}_2} - \theta^*\|_{\Sigma_D}")
subopt_mle = quantity("subopt_mle", r"\mathrm{SubOpt}(\hat\pi_{\mathrm{MLE}})")
subopt_pe = quantity("subopt_pe", r"\mathrm{SubOpt}(\hat\pi_{\mathrm{PE}})")

_RANDOM_DESIGN = {
    "model": "theta* uniform on the unit sphere of <1, theta> = 0 in R^d; each comparison: two actions with "
             "features uniform on the unit sphere (L = 1), winner drawn from the BTL model",
    "estimator": "MLE over Theta_B, B = 3 (solvers.choice_mle, unnormalised likelihood, tol 1e-12)",
    "replicates": "independent (theta*, data) draws, batched on a leading axis",
}
_KWISE_DESIGN = {
    "model": "theta* as in the pairwise design; each query: K = 4 items with features uniform on the unit sphere, "
             "ranked by the Plackett-Luce model (Gumbel-max)",
    "estimators": "MLE_K (K - 1 choice events per ranking) and MLE_2 (the K (K - 1) / 2 pairs as independent BTL "
                  "comparisons), both over Theta_B, B = 3, on the same rankings",
}
_BANDIT = {
    "instance": "phi(a1) = (1, 1, 0), phi(a2) = (1, 0, 0), phi(a3) = 0, phi(a4) = (0, 1, 0); theta* = (-1, 0.1, 0.9)",
    "data": "n - 1 comparisons of (a1, a2), one of (a2, a3) (binomial counts as likelihood weights)",
    "pessimism": "f = sqrt((d + log(1/delta)) / (gamma^2 n) + lam B^2), C = 1, lam = 1/n, B = 2, L = sqrt(2), "
                 "v = phi(a3) = 0",
}

BTL_VS_N = Experiment(
    "btl-error-vs-n",
    "Sigma_D-error of the BTL MLE after n comparisons in d = 4, with common random numbers (replicate r at n is "
    "the first n comparisons of replicate r at every larger n).",
    budgets(
        {"n": [100, 200, 400, 800, 1600, 3200], "d": 4, "B": 3.0},
        block=64,
        quick=at(replicates=192),
        standard=at(replicates=512, n=[100, 200, 400, 800, 1600, 3200, 6400]),
        full=at(replicates=1024, n=[100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600]),
    ),
    measure=measure_btl_error,
    setup=_RANDOM_DESIGN,
    outputs=("err", "converged"),
    common_random_numbers=True,
)
BTL_VS_D = Experiment(
    "btl-error-vs-d",
    "Sigma_D-error of the BTL MLE from n = 2000 comparisons, swept over the dimension d (n / d >= 60).",
    budgets(
        {"d": [4, 8, 16, 32], "n": 2000, "B": 3.0},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=192),
        full=at(replicates=512, d=[4, 8, 16, 32, 64], n=4000),
    ),
    measure=measure_btl_error,
    setup=_RANDOM_DESIGN,
    outputs=("err", "converged"),
)
KWISE_VS_N = Experiment(
    "kwise-error-vs-n",
    "Sigma_D-errors of MLE_K and MLE_2 from n rankings of K = 4 items in d = 4, with common random numbers.",
    budgets(
        {"n": [50, 150, 500, 1600], "d": 4, "K": 4, "B": 3.0},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=128, n=[50, 150, 500, 1600, 5000]),
        full=at(replicates=512, n=[50, 150, 500, 1600, 5000]),
    ),
    measure=measure_kwise_error,
    setup=_KWISE_DESIGN,
    outputs=("err_k", "err_2", "gap_sq", "converged"),
    common_random_numbers=True,
)
KWISE_EFFICIENCY = Experiment(
    "kwise-efficiency",
    "MLE_K against MLE_2 on the same n = 400 rankings of K = 4 items (paired replicates).",
    budgets(
        {"n": 400, "d": 4, "K": 4, "B": 3.0},
        block=64,
        quick=at(replicates=256),
        standard=at(replicates=384, n=[400, 1600]),
        full=at(replicates=2048, n=[400, 1600]),
    ),
    measure=measure_kwise_error,
    setup=_KWISE_DESIGN,
    outputs=("err_k", "err_2", "gap_sq", "converged"),
)
BANDIT = Experiment(
    "four-action-bandit",
    "The counterexample of Theorem 3.9 (reconstructed): greedy MLE and pessimistic MLE policies after n "
    "comparisons, n from 10^2 to 10^7 (sufficient statistics make every n cost the same).",
    budgets(
        {"n": [100, 1000, 10**4, 10**5, 10**6, 10**7], "B": 2.0, "delta": 0.05},
        block=1000,
        quick=at(replicates=4000),
        standard=at(replicates=16000),
        full=at(replicates=64000),
    ),
    measure=measure_counterexample,
    setup=_BANDIT,
    outputs=("subopt_mle", "subopt_pe", "pe_bound", "converged"),
)

_LEMMA = reconstructed(
    "Lemma 3.1: ||theta_MLE - theta*||_{Sigma_D + lam I} <= C sqrt((d + log(1/delta)) / (gamma^2 n) + lam B^2) "
    "with probability >= 1 - delta (form and constants as in the third-party re-implementation; C is not "
    "explicit). Checked as its rate in the mean, lam -> 0: E||theta_MLE - theta*||_{Sigma_D} = Theta(sqrt(d / n))."
)
_KWISE = reconstructed(
    "Abstract: 'under the PL model, the true MLE and an alternative MLE that splits the K-wise comparison into "
    "pairwise comparisons both converge'; the rate sqrt(d / n) in the K-wise Sigma_D-norm is inferred from the "
    "pairwise lemma (its K-wise form, Theorem 4.1, could not be read)."
)
_EFFICIENT = reconstructed(
    "Abstract: 'the true MLE is asymptotically more efficient' (than the pairwise-split MLE). Read as: the mean "
    "squared Sigma_D-error of MLE_2 is at least that of MLE_K, at n = 400 rankings of K = 4 items."
)
_FAILS = reconstructed(
    "Theorem 3.9 (as summarised: the MLE's greedy policy is >= 0.1-suboptimal with constant probability for every "
    "n, on a four-action bandit). The probability 1 / (1 + e) is derived here for the instance of the "
    "re-implementation (the single (a2, a3) comparison won by a2 drives theta_1 to the sphere)."
)
_PESSIMISM = reconstructed(
    "Theorem 3.2: with probability >= 1 - delta, SubOpt(pi_PE) <= 2 f ||(Sigma_D + lam I)^{-1/2} (phi(a*) - v)||, "
    "f the Lemma 3.1 radius (here with C = 1, lam = 1/n, v = phi(a3) = 0); hence SubOpt(pi_PE) -> 0."
)
_BTL_ASSUMPTIONS = ("BTL comparisons with linear rewards", "theta* in Theta_B: <1, theta*> = 0, ||theta*|| = 1 <= B",
                    "||phi|| <= L = 1")
_BANDIT_ASSUMPTIONS = ("BTL comparisons with linear rewards", "theta* = (-1, 0.1, 0.9) in Theta_B, B = 2",
                       "||phi|| <= L = sqrt(2)")

RATE = Asymptotic(err, "Theta", sp.sqrt(d / n))
RATE_D = Asymptotic(err, "Theta", sp.sqrt((d - 1) / n))   # the same rate in d, counting the free directions
RATE_K = Asymptotic(err_k, "Theta", sp.sqrt(d / n))
RATE_2 = Asymptotic(err_2, "Theta", sp.sqrt(d / n))
MORE_EFFICIENT = Relation(sp.Ge(Expectation(err_2**2), Expectation(err_k**2)))
E_CONST = sp.E
MLE_FAILS = Probability(Relation(sp.Lt(subopt_mle, sp.Rational(1, 10))), E_CONST / (1 + E_CONST))
PE_CONVERGES = Limit(subopt_pe, sp.Integer(0), n, sp.oo)
# Theorem 3.2's bound on the bandit: 2 f ||(Sigma_D + lam I)^{-1/2} phi(a4)|| with ||.|| = 1 exactly (Sigma_D + lam I
# has (2, 2) entry (n - 1)/n + 1/n), f the Lemma 3.1 radius with C = 1, d = 3, lam = 1/n, L = sqrt(2)
GAMMA = 1 / (2 + sp.exp(-sp.sqrt(2) * B) + sp.exp(sp.sqrt(2) * B))
RADIUS = sp.sqrt((3 + sp.log(1 / delta)) / (GAMMA**2 * n) + B**2 / n)
PE_BOUND = Probability(Relation(sp.Gt(subopt_pe, 2 * RADIUS)), delta)

_N_MARGIN = (
    "Margin 0.05 of an exponent of n: the MLE's error is sqrt(tr(Sigma_D I(theta*)^{-1}) / n) to first order, "
    "with O(d / n) corrections (bias of the MLE, the sqrt of a chi-square's mean) below 4% at n >= 100, d = 4, "
    "i.e. below 0.01 of slope over the sweep; the nearest false rates, n^{-0.6} and n^{-0.4}, lie 0.1 away."
)

CLAIMS = [
    RateClaim(
        "btl-mle-rate-in-n",
        PAPER,
        RATE,
        BTL_VS_N,
        _LEMMA,
        description="The BTL MLE's Sigma_D-error falls like n^{-1/2}. " + _N_MARGIN,
        assumptions=_BTL_ASSUMPTIONS,
        diagnostics=("converged",),
        variable="n",
        exponent_margin=0.05,
        mutants=(
            slower(RATE, n ** sp.Rational(1, 10), name="rate-n-to-minus-0p6",
                   why="A faster false decay n^{-0.6}, 0.1 away: near the check's resolution."),
            faster(RATE, n ** sp.Rational(1, 10), name="rate-n-to-minus-0p4",
                   why="A slower false decay n^{-0.4}, 0.1 away on the other side."),
            slower(RATE, sp.sqrt(n), name="fast-rate-one-over-n",
                   why="The rate of the squared error, 1/n, mistaken for that of the error."),
        ),
    ),
    RateClaim(
        "btl-mle-rate-in-d",
        PAPER,
        RATE_D,
        BTL_VS_D,
        _LEMMA,
        description="At fixed n the BTL MLE's Sigma_D-error grows like d^{1/2}, written sqrt((d - 1) / n): the "
        "constraint <1, theta> = 0 leaves d - 1 free directions, and to first order the error is "
        "sqrt(tr(Sigma_D I(theta*)^{-1}) / n) with a trace over them (the same rate as sqrt(d / n); with d in "
        "place of d - 1 the shape bends by +0.06 of an exponent over d = 4..32). Margin 0.1 of an exponent of d: "
        "the mean of a chi distribution with d - 1 degrees of freedom adds about +0.03, the logits' spread "
        "shrinking like 1/sqrt(d) about -0.03, the MLE's O(d / n) bias at most +0.02 (d / n <= 0.016); the "
        "mutants d^{0.3} and d^{0.7} lie 0.2 away. No additive constant in the fit (offset=False): to first "
        "order the error is that pure power, with no d-independent term.",
        assumptions=_BTL_ASSUMPTIONS,
        diagnostics=("converged",),
        variable="d",
        exponent_margin=0.1,
        offset=False,
        mutants=(
            slower(RATE_D, d ** sp.Rational(1, 5), name="rate-d-to-0p3",
                   why="A weaker false dimension dependence d^{0.3}, 0.2 away: near the resolution."),
            faster(RATE_D, d ** sp.Rational(1, 5), name="rate-d-to-0p7",
                   why="A stronger false dimension dependence d^{0.7}, 0.2 away."),
            faster(RATE_D, sp.sqrt(d), name="linear-in-d",
                   why="Error linear in d, as a union bound over coordinates would give."),
        ),
    ),
    RateClaim(
        "kwise-mle-rate-in-n",
        PAPER,
        RATE_K,
        KWISE_VS_N,
        _KWISE,
        description="The K-wise (Plackett-Luce) MLE's Sigma_D-error falls like n^{-1/2} in the number n of "
        "K-item rankings. Margin 0.05 as for the pairwise rate: first-order asymptotics with O(d / n) "
        "corrections (K - 1 = 3 choice events per ranking make them smaller still).",
        assumptions=("Plackett-Luce rankings of K = 4 items with linear rewards", "theta* in Theta_B, B = 3",
                     "||phi|| <= L = 1"),
        diagnostics=("converged",),
        variable="n",
        exponent_margin=0.05,
        mutants=(
            slower(RATE_K, n ** sp.Rational(3, 20), name="rate-n-to-minus-0p65",
                   why="A faster false decay n^{-0.65}, 0.15 away: near the resolution (0.12 at quick)."),
            faster(RATE_K, n ** sp.Rational(3, 20), name="rate-n-to-minus-0p35",
                   why="A slower false decay n^{-0.35}, 0.15 away."),
        ),
    ),
    RateClaim(
        "pairwise-split-mle-rate-in-n",
        PAPER,
        RATE_2,
        KWISE_VS_N,
        _KWISE,
        description="The MLE that treats the K (K - 1) / 2 pairs of each ranking as independent BTL comparisons "
        "(a misspecified likelihood: the pairs of one ranking are dependent) still converges at n^{-1/2}. "
        "Margin 0.05 as for MLE_K.",
        assumptions=("Plackett-Luce rankings of K = 4 items with linear rewards", "theta* in Theta_B, B = 3",
                     "||phi|| <= L = 1"),
        diagnostics=("converged",),
        variable="n",
        exponent_margin=0.05,
        mutants=(
            slower(RATE_2, n ** sp.Rational(3, 20), name="rate-n-to-minus-0p65",
                   why="A faster false decay n^{-0.65}, 0.15 away: near the resolution (0.12 at quick)."),
            faster(RATE_2, sp.sqrt(n), name="split-mle-inconsistent", order="Theta",
                   why="The split estimator does not converge (its error stays of order one), as one might "
                       "fear from its misspecified independence assumption."),
        ),
    ),
    ExpectationClaim(
        "kwise-mle-more-efficient",
        PAPER,
        MORE_EFFICIENT,
        KWISE_EFFICIENCY,
        _EFFICIENT,
        description="On the same rankings, the pairwise-split MLE's mean squared Sigma_D-error is at least the "
        "K-wise MLE's. Margin 0.02 of E||MLE_K - theta*||^2: Monte Carlo slack only (the statement is an "
        "inequality between two measured means, paired by replicate).",
        assumptions=("Plackett-Luce rankings of K = 4 items", "both estimators on the same data"),
        diagnostics=("converged",),
        relative_margin=0.02,
        mutants=(
            Mutant("split-as-efficient", Relation(sp.Eq(Expectation(err_2**2), Expectation(err_k**2))),
                   "Splitting the rankings into pairs loses nothing: equal mean squared errors."),
            Mutant("split-loses-a-fifth", Relation(sp.Ge(Expectation(err_2**2), sp.Rational(5, 4)
                                                         * Expectation(err_k**2))),
                   "A larger false lower bound: the split estimator's mean squared error at least 1.25 times "
                   "the K-wise one's (near the measured ratio)."),
        ),
    ),
    HighProbabilityClaim(
        "mle-policy-fails",
        PAPER,
        MLE_FAILS,
        BANDIT,
        _FAILS,
        description="On the four-action bandit, the greedy policy of the MLE is suboptimal by at least 0.1 "
        "with probability at least 1 / (1 + e) at every n: written as P[SubOpt(pi_MLE) < 0.1] <= e / (1 + e). "
        "The bound is attained as n -> oo, so the check sits at its truth; relative margin 0.05 on delta = "
        "0.731 (up to 0.768), against a Monte Carlo error of 0.007 at 4000 replicates.",
        assumptions=_BANDIT_ASSUMPTIONS,
        diagnostics=("converged",),
        relative_margin=0.05,
        mutants=(
            Mutant("fails-with-probability-0p3",
                   Probability(Relation(sp.Lt(subopt_mle, sp.Rational(1, 10))), sp.Rational(7, 10)),
                   "A larger false failure probability, 0.3 instead of 1 / (1 + e) = 0.269: near the resolution."),
            Mutant("plain-mle-converges",
                   Probability(Relation(sp.Ge(subopt_mle, sp.Rational(1, 10))), sp.Rational(1, 20)),
                   "Plain MLE also converges: its policy is 0.1-suboptimal with probability at most 0.05."),
        ),
    ),
    LimitClaim(
        "pessimistic-mle-converges",
        PAPER,
        PE_CONVERGES,
        BANDIT,
        _PESSIMISM,
        description="On the same bandit the pessimistic policy's mean suboptimality falls below 0.01 by n = "
        "10^7 and does not grow along the sweep (it keeps the safe reference a3, suboptimality 0.1, until the "
        "confidence radius is small enough to trust a4).",
        assumptions=_BANDIT_ASSUMPTIONS,
        diagnostics=("converged",),
        tol=0.01,
        statistic="mean",
        mutants=(
            wrong_limit(PE_CONVERGES, sp.Rational(1, 10), name="stuck-on-the-reference",
                        why="Pessimism is too conservative for ever: the policy stays with a3 (suboptimality "
                            "0.1)."),
            Mutant("plain-mle-converges", Limit(subopt_mle, sp.Integer(0), n, sp.oo),
                   "Pessimism is unnecessary: the greedy MLE policy's mean suboptimality also vanishes."),
        ),
    ),
    HighProbabilityClaim(
        "pessimistic-suboptimality-bound",
        PAPER,
        PE_BOUND,
        BANDIT,
        _PESSIMISM,
        description="The pessimistic policy's suboptimality exceeds Theorem 3.2's bound 2 f ||(Sigma_D + lam "
        "I)^{-1/2} phi(a4)|| (C = 1) with probability at most delta = 0.05. Relative margin 0.5 on delta.",
        assumptions=_BANDIT_ASSUMPTIONS,
        diagnostics=("converged",),
        relative_margin=0.5,
        mutants=(
            Mutant("a-third-of-the-bound",
                   Probability(Relation(sp.Gt(subopt_pe, 2 * RADIUS / 3)), delta),
                   "The bound three times too small: near the largest ratio SubOpt / bound measured (0.34 at "
                   "n = 10^5)."),
        ),
    ),
]
