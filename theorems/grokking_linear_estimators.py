r"""Levi, Beck, Bar-Sinai. *Grokking in Linear Estimators -- A Solvable Model that Groks without Understanding.*
arXiv:2310.16441, 2023.

Setting (Section 3). A linear student S imitates a linear teacher T (S, T in R^{d x k}, k = d_out) on N Gaussian
inputs x ~ N(0, I_d), lambda = d / N; D = S - T, Sigma = X^T X / N. Losses L_tr = Tr(D^T Sigma D) / k (Eq. 1) and
L_gen = ||D||^2 / k (Eq. 2); full-batch gradient descent with weight decay gamma (Eq. 3):
D_{t+1} = (I - 2 eta Sigma / k) D_t - (eta gamma / k) (D_t + T). A sample counts as correct when its squared
error is below eps; the accuracy reaches erf(sqrt 2) = 95.45% when L = eps / 4, and the grokking time is
Delta t = t*_gen - t*_tr, the difference of those two crossing times (Section 3.1.3).

The results checked:

* Eq. 3 is solved exactly in the eigenbasis of Sigma (the paper's Eqs. 4-5 and Appendix D, here in discrete time):
  with a_i = 1 - eta (2 nu_i + gamma) / k and D_inf = -gamma (2 Sigma + gamma I)^{-1} T, P^T D_t = a^t P^T (D_0 -
  D_inf) + P^T D_inf. Sure claims: both losses computed by iterating gradient descent equal the spectral formula,
  for any inputs, initialisation, step size below the stability limit, weight decay, lambda < 1 or > 1.
* Eq. 12: Delta t ~ log(1 / (1 - sqrt(lambda))) / (2 eta_0 (1 - sqrt(lambda))^2), i.e. with
  kappa = 1 / (1 - sqrt(lambda)) (the inverse square root of the Marchenko-Pastur lower edge (1 - sqrt(lambda))^2),
  Delta t = Theta(kappa^2 log kappa) as lambda -> 1^-. Rate claim in kappa.
* Eq. 12 with its constant, as the limit it is: for eps -> 0 the delay of a sample of dimension d tends to
  log(1 / nu_min) / (-2 log(1 - 2 eta nu_min)), and nu_min -> (1 - sqrt(lambda))^2 as d -> infinity, so the ratio
  of that delay to Eq. 12 tends to 1. Limit claim in d at lambda = 4/9.

Provenance. The paper's text was read in a public markdown transcription (the abstract matches arXiv:2310.16441).
Eqs. 3, 4 and 12 are quoted. The discrete-time spectral solution is reconstructed: the paper solves the gradient
flow limit (Eq. 4) and the weight-decay case in Appendix D; the discrete solution follows from the same
diagonalisation and is what gradient descent at a finite step does. Eq. 12 is a double limit: the paper
expands first for eps << 1 (late times), and the form holds only when the threshold is small compared with the
distance to lambda = 1. At fixed eps the delay stays finite as lambda -> 1. So the rate claim is checked at
eps = 1e-12. The limit claim takes eps -> 0 exactly, then d -> infinity.

What the measurements show (quick fidelity, 64 replicates a point; standard fidelity in brackets):

* Gradient descent and the spectral formula agree to within 1e-14 of the initial loss (at most 3e-4 of the band) on
  random and searched instances. Gradient flow (Eq. 4 at time eta t) is not the solution at finite steps, and the
  search refutes it at once. A formula 1e-7 off is refuted as well (about 100 bands).
* At eps = 1e-12 and d = 288 the measured delay is 0.87-0.89 of Eq. 12 at every kappa in {2, 3, 4, 5, 7} (lambda
  = 0.25 to 0.73). The fitted deviation from kappa^2 log kappa is -0.04 [-0.09, +0.01] of an exponent, resolution
  0.18 [-0.06 [-0.09, -0.03], resolution 0.14]. The slight negative drift is the finite-d edge: nu_min sits above
  (1 - sqrt(lambda))^2 by a few percent, more at larger kappa. The pure (1 - sqrt(lambda))^-2 law without the
  logarithm is refuted, with a deviation of +0.52 [+0.47, +0.57]. The 1 / (1 - lambda) law and kappa^(2 +- 1/4)
  log kappa are refuted too.
* With eps -> 0 the mean distance of the delay over Eq. 12 from 1 (lambda = 4/9) falls along d, from 0.22 at
  d = 36 to 0.064 at d = 288 [0.044 at d = 576]. The weight-decay form log(1 + sqrt(lambda)) (Eq. 16) used in place
  of Eq. 12's logarithm is refuted (distance 1.03), and so is a constant 20% too large (distance 0.25).
* Exploratory, from Marchenko-Pastur quadrature at d = infinity (not a claim): at the paper's eps = 1e-3 the
  delay is 0.62 of Eq. 12 at kappa = 2 and 0.40 at kappa = 16. At eps = 1e-6 it is 0.79 and 0.77, at
  eps = 1e-12 0.90 and 0.91: Eq. 12 is approached slowly, like 1 / log(1 / eps).
"""

from __future__ import annotations

import sympy as sp

from boundlab import (
    Asymptotic,
    Experiment,
    InstanceSearch,
    Limit,
    LimitClaim,
    Mutant,
    Paper,
    RateClaim,
    Relation,
    SureClaim,
    at,
    budgets,
    faster,
    grid,
    quantity,
    quoted,
    reconstructed,
    scaled_bound,
    slower,
    wrong_limit,
)
from simulations.grokking_linear_estimators import dynamics_space, evaluate_dynamics, measure_grokking

PAPER = Paper(
    key="grokking-linear-estimators",
    title="Grokking in Linear Estimators -- A Solvable Model that Groks without Understanding",
    authors=("Noam Levi", "Alon Beck", "Yohai Bar-Sinai"),
    venue="arXiv",
    year=2023,
    arxiv="2310.16441",
)

kappa, d, eta = sp.symbols("kappa d eta", positive=True)
tr_gd = quantity("tr_gd", r"\mathcal{L}_{tr}^{GD}(t) / \mathcal{L}_{gen}(0)")
tr_spectral = quantity("tr_spectral", r"\mathcal{L}_{tr}^{spec}(t) / \mathcal{L}_{gen}(0)")
tr_flow = quantity("tr_flow", r"\mathcal{L}_{tr}^{flow}(\eta t) / \mathcal{L}_{gen}(0)")
gen_gd = quantity("gen_gd", r"\mathcal{L}_{gen}^{GD}(t) / \mathcal{L}_{gen}(0)")
gen_spectral = quantity("gen_spectral", r"\mathcal{L}_{gen}^{spec}(t) / \mathcal{L}_{gen}(0)")
gen_flow = quantity("gen_flow", r"\mathcal{L}_{gen}^{flow}(\eta t) / \mathcal{L}_{gen}(0)")
delay = quantity("delay", r"\Delta t_{grok}")
limit_delay = quantity("limit_delay", r"\lim_{\epsilon \to 0} \Delta t_{grok}")

DYNAMICS = Experiment(
    "gd-vs-spectral-solution",
    "Full-batch gradient descent on MSE with weight decay (iterated), against the exact solution in the "
    "eigenbasis of the training covariance; random Gaussian instances, then an adversarial search over the inputs, "
    "the initial student and teacher, the step (as a fraction of the stability limit) and the weight decay.",
    budgets(
        block=256,
        restarts=2,
        evaluations=10,  # per dimension: 50 dimensions (N = 4, k = 2) and 86 (N = 12, k = 1)
        # lambda = 1.5 (null directions, the generalisation loss plateaus) and lambda = 0.5
        quick=at(replicates=256, points=grid(N=4, d=6, k=2, steps=200) + grid(N=12, d=6, k=1, steps=200)),
        standard=at(replicates=1024, points=grid(N=4, d=6, k=2, steps=[20, 200])
                    + grid(N=12, d=6, k=1, steps=[20, 200]), evaluations=20),
        full=at(replicates=4096, points=grid(N=[4, 12], d=6, k=[1, 2], steps=[20, 200, 1000]), restarts=4,
                evaluations=40),
    ),
    search=InstanceSearch(dynamics_space, evaluate_dynamics),
    outputs=("tr_gd", "tr_spectral", "tr_flow", "gen_gd", "gen_spectral", "gen_flow"),
)
# kappa = 1 / (1 - sqrt(d / N)) with N = 288 kappa^2 / (kappa - 1)^2 an integer: N = 1152, 648, 512, 450, 392
_KAPPAS = [2, 3, 4, 5, 7]
GROKKING_TIME = Experiment(
    "grokking-time-vs-mp-edge",
    "Delay between the 95.45%-accuracy crossings (L = eps / 4) of the generalisation and training losses, gradient "
    "descent with eta = 0.01, d = 288, eps = 1e-12, exact Wishart training covariances (Bartlett), as lambda -> 1.",
    budgets(
        {"kappa": _KAPPAS, "d": 288, "eps": 1e-12, "eta": 0.01},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=256),
        full=at(replicates=1024),
    ),
    measure=measure_grokking,
    outputs=("delay", "limit_delay", "t_tr", "t_gen", "delay_ratio", "limit_ratio", "nu_min"),
)
LARGE_DIMENSION = Experiment(
    "vanishing-threshold-delay-vs-d",
    "The eps -> 0 grokking delay of gradient descent (eta = 0.01) at lambda = 4/9 (N = 9 d / 4), over d.",
    budgets(
        {"kappa": 3, "d": [36, 72, 144, 288], "eps": 1e-12, "eta": 0.01},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=256, d=[36, 72, 144, 288, 576]),
        full=at(replicates=1024, d=[36, 72, 144, 288, 576]),
    ),
    measure=measure_grokking,
    outputs=("delay", "limit_delay", "t_tr", "t_gen", "delay_ratio", "limit_ratio", "nu_min"),
)

_TOL = {"rtol": 1e-9, "atol": 1e-11}  # losses over the initial loss: rounding of 200 steps and of eigh is ~1e-14
_DYN_ASSUMPTIONS = ("any training inputs X (N x d), any S_0 and T (d x d_out)", "weight decay gamma >= 0",
                    "step eta = s d_out / (2 nu_max + gamma) with s in (0, 1.95]: every mode contracts")
TRAIN = Relation(sp.Eq(tr_gd, tr_spectral))
GEN = Relation(sp.Eq(gen_gd, gen_spectral))

ROOT_LAMBDA = 1 - 1 / kappa  # sqrt(lambda) as a function of kappa = 1 / (1 - sqrt(lambda))
LAMBDA = ROOT_LAMBDA**2
RATE = Asymptotic(delay, "Theta", kappa**2 * sp.log(kappa))
EQ12_RATIO = limit_delay * 2 * eta * (1 - ROOT_LAMBDA) ** 2 / sp.log(1 / (1 - ROOT_LAMBDA))
EQ12_LIMIT = Limit(EQ12_RATIO, sp.Integer(1), d, sp.oo)

CLAIMS = [
    SureClaim(
        "gd-training-loss-spectral",
        PAPER,
        TRAIN,
        DYNAMICS,
        reconstructed("Eqs. 1, 3 and Appendix D: gradient descent D_{t+1} = (I - 2 eta Sigma / k) D_t - (eta gamma / "
                      "k)(D_t + T) solved in the eigenbasis of Sigma at a finite step (the paper gives the gradient "
                      "flow limit, Eq. 4)."),
        description="The training loss after t steps of gradient descent equals sum_i nu_i ||a_i^t (P^T (D_0 - "
        "D_inf))_i + (P^T D_inf)_i||^2 / k, a_i = 1 - eta (2 nu_i + gamma) / k.",
        assumptions=_DYN_ASSUMPTIONS,
        **_TOL,
        mutants=(
            Mutant("gradient-flow-training-loss", Relation(sp.Eq(tr_gd, tr_flow)),
                   "Gradient flow at time eta t (factors exp(-eta (2 nu + gamma) t / k), Eq. 4) taken for gradient "
                   "descent at a finite step."),
            scaled_bound(TRAIN, 1 + sp.Rational(1, 10**7), name="training-loss-off-by-1e-7",
                         why="A formula 1e-7 off (100 tolerance bands): the agreement is finer than that."),
        ),
    ),
    SureClaim(
        "gd-generalization-loss-spectral",
        PAPER,
        GEN,
        DYNAMICS,
        reconstructed("Eqs. 2, 3 and Appendix D, as for the training loss: L_gen = ||D_t||^2 / k from the same "
                      "spectral solution, including the weight-decay fixed point D_inf = -gamma (2 Sigma + gamma)^-1 "
                      "T."),
        description="The generalisation loss after t steps equals sum_i ||a_i^t (P^T (D_0 - D_inf))_i + (P^T "
        "D_inf)_i||^2 / k.",
        assumptions=_DYN_ASSUMPTIONS,
        **_TOL,
        mutants=(
            Mutant("gradient-flow-generalization-loss", Relation(sp.Eq(gen_gd, gen_flow)),
                   "Gradient flow at time eta t taken for gradient descent at a finite step."),
            scaled_bound(GEN, 1 + sp.Rational(1, 10**7), name="generalization-loss-off-by-1e-7",
                         why="A formula 1e-7 off (100 tolerance bands)."),
        ),
    ),
    RateClaim(
        "eq-12-grokking-time-rate",
        PAPER,
        RATE,
        GROKKING_TIME,
        quoted("Eq. 12: Delta t_grok = t*_gen - t*_tr ~ log(1 / (1 - sqrt(lambda))) / (2 eta_0 (1 - "
               "sqrt(lambda))^2); 'the grokking time diverges quadratically' near lambda = 1 (up to this log)."),
        description="The grokking time grows like kappa^2 log kappa, kappa = 1 / (1 - sqrt(lambda)), as lambda = "
        "d / N -> 1 from below. Margin 0.1 of an exponent of kappa: over kappa in [2, 7] the finite-d edge "
        "(nu_min above (1 - sqrt(lambda))^2 by a few percent, more at larger kappa) and the finite threshold bend "
        "the law by a few hundredths of an exponent (measured: -0.04 to -0.06).",
        assumptions=("Gaussian inputs, d = 288, lambda = (1 - 1/kappa)^2 < 1", "d_out = 1, no weight decay",
                     "eta = 0.01, eps = 1e-12 (the small-threshold regime Eq. 12 is derived in)"),
        variable="kappa",
        exponent_margin=0.1,
        mutants=(
            Mutant("pure-quadratic", Asymptotic(delay, "Theta", 1 / (1 - ROOT_LAMBDA) ** 2),
                   "Delta t proportional to (1 - sqrt(lambda))^-2 with no logarithm."),
            Mutant("inverse-one-minus-lambda", Asymptotic(delay, "Theta", 1 / (1 - LAMBDA)),
                   "Delta t proportional to 1 / (1 - lambda): the divergence set by the bulk, not by the squared "
                   "edge (exponent -1)."),
            slower(RATE, kappa ** sp.Rational(1, 4), name="kappa-to-1p75-log",
                   why="kappa^1.75 log kappa: 0.25 of an exponent slower, near the check's resolution."),
            faster(RATE, kappa ** sp.Rational(1, 4), name="kappa-to-2p25-log",
                   why="kappa^2.25 log kappa: 0.25 of an exponent faster, near the check's resolution."),
        ),
    ),
    LimitClaim(
        "eq-12-constant-large-d",
        PAPER,
        EQ12_LIMIT,
        LARGE_DIMENSION,
        quoted("Eq. 12 with its constant: Delta t_grok ~ log(1 / (1 - sqrt(lambda))) / (2 eta_0 (1 - "
               "sqrt(lambda))^2), the eps << 1 expansion of Appendix B, with d, N -> infinity at fixed lambda."),
        description="The eps -> 0 delay over Eq. 12 tends to 1 as d -> infinity at lambda = 4/9: its mean "
        "distance to 1 is below 0.1 at d = 288 and does not grow along d. The tolerance is what d = 288 can show: "
        "the smallest eigenvalue sits about 5% above the Marchenko-Pastur edge there.",
        tol=0.1,
        statistic="mean",
        mutants=(
            Mutant("eq-16-logarithm",
                   Limit(limit_delay * 2 * eta * (1 - ROOT_LAMBDA) ** 2 / sp.log(1 + ROOT_LAMBDA),
                         sp.Integer(1), d, sp.oo),
                   "The weight-decay form log(1 + sqrt(lambda)) / (2 eta (1 - sqrt(lambda))^2) (Eq. 16) in place of "
                   "Eq. 12."),
            wrong_limit(EQ12_LIMIT, sp.Rational(6, 5), name="constant-off-by-20-percent",
                        why="Eq. 12 with a constant 20% too large (two tolerances away)."),
        ),
    ),
]
