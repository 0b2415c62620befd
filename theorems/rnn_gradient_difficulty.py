r"""Pascanu, Mikolov and Bengio. *On the difficulty of training Recurrent Neural Networks.* ICML 2013 (PMLR
28(3):1310-1318), arXiv:1211.5063.

Setting (Section 2, eq. (2)). x_t = W_rec sigma(x_{t-1}) + W_in u_t + b, with |sigma'| <= gamma (gamma = 1 for tanh,
1/4 for the sigmoid) and lambda_1 the largest singular value of W_rec. The long-term factor of the gradient is
d x_t / d x_k = prod_{k < i <= t} d x_i / d x_{i-1} (eq. (5)), with d x_i / d x_{i-1} = W_rec diag(sigma'(x_{i-1})) (the
paper prints W_rec^T; the transpose is a slip that does not change any 2-norm used below).

The results checked (sure claims, on random and adversarial instances):

* Eq. (6) chained over the window: ||d x_L / d x_0|| <= prod_{t<L} ||W_rec|| ||diag sigma'(x_t)|| (``eq-6-per-step``).
* Eq. (7) with eta = gamma lambda_1, the sufficient condition for vanishing gradients: ||d x_L / d x_0|| <=
  (gamma lambda_1)^L, so that gamma lambda_1 < 1 makes long-term factors vanish exponentially (``vanishing-bound``).
* The necessary condition for exploding gradients, in finite form: if some factor ||d x_t / d x_0|| (1 <= t <= L)
  exceeds 1, then gamma lambda_1 > 1; i.e. with gamma lambda_1 <= 1 no window ever amplifies
  (``exploding-needs-gamma-lambda-above-one``). It is the contrapositive of the bound (every window of a trajectory
  is the prefix of a restarted one), checked on every prefix rather than only at horizon L.
* Algorithm 1 (gradient norm clipping): ||clip(g)|| = min(||g||, threshold) (``clipping-norm``) and clip(g) is
  parallel to g, cosine 1 (``clipping-direction``).

Instances (simulations/rnn_gradient_difficulty.py). W_rec = lambda_1 D / ||D|| with D in [-1, 1]^(n x n), so lambda_1 is
exactly the sweep parameter ``lam``, and a trajectory x_0, ..., x_{L-1} in [-3, 3]^n. With W_in = I every trajectory
is realised by exactly one input sequence, which the evaluator computes and runs forward through eq. (2); moving the
states instead of the inputs lets the search reach the linear regime without fighting an unstable recurrence.
Random draws are trajectories of the model: D Gaussian, orthogonal or upper-triangular (strongly non-normal); a
rest point x* uniform in [-3, 3]^n times a log-uniform scale in [1e-6, 1], made a fixed point by the bias b = x* -
W sigma(x*);
x_0 near x*; inputs b + noise of log-uniform scale 1e-6 to 3 (from the network near rest, sigma' ~ gamma, to
saturation). The adversarial search then moves D and every state. The Jacobian products are exact (batched
matmuls), tested against central finite differences of the forward map and slow per-instance loops, on NumPy and
array-api-strict. Clipping acts on vectors 10^a v, a in [-3, 3], v in [-1, 1]^20, thresholds 1 and 6.

Provenance. The arXiv/PMLR text itself was not retrieved. The sentences of Section 2.1 were matched in verbatim
quotations: the sufficient condition and eq. (6) in a quotation on stats.stackexchange.com (question 293862), which
reads "lambda_1 is the largest singular value of W_rec"; the necessary condition ("By inverting this proof we get the
necessary condition for exploding gradients, namely that the largest eigenvalue lambda_1 is larger than 1/gamma") in
a public Lean formalisation of Section 2.1, and Algorithm 1 (with ">=") in a public reading card of arXiv v2. Other
quotations of the same sentence (ai.stackexchange.com question 20378, the Lean files, the v2 card) read "lambda_1 is
the absolute value of the largest eigenvalue of W_rec": the versions differ. With the eigenvalue (spectral radius
rho) both statements are false, and that reading is a mutant of the bound and of the necessary condition
(``spectral-radius-...``): the proof bounds ||W_rec^T||, which rho does not bound (a nilpotent W_rec with rho = 0 and
factors growing like 2^t is in the tests and the notebook). The claims use the singular value, for which the proof
is correct.

What the measurements show (measured; quick fidelity n = 4, L = 10, 512 draws per point; standard, in brackets,
adds n = 6, L = 20 with 2048 draws):

* Eq. (6) chained and (gamma lambda_1)^L hold on every instance and are tight: at every point with gamma lambda_1
  <= 1.05 draws near a rest point close to 0 reach the bound to 1e-9 (sigmoid included, since its rest point needs
  the bias); at gamma lambda_1 = 2 they reach 1 - 4e-6 at L = 10, but only 0.72 (tanh) and 0.96 (sigmoid) at L = 20,
  where the rest point amplifies perturbations by 2^20. The adversarial search found nothing beyond the best
  draws (at most 1e-6 of ratio more): the tightness is the draws'. "0.1% tighter" is refuted at every run.
* The per-unit mean of sigma' in place of its max, gamma = 1/5 for the sigmoid, the exponent L/2 and the spectral
  radius in place of lambda_1 are refuted by random draws by factors 3.5e4, 9, 32 and 2000 (quick).
* Necessary condition: at gamma lambda_1 <= 1 the largest factor over all horizons is 0.5 (gamma lambda_1 = 0.5: the
  one-step factor at rest) and 1 - 4e-14 (gamma lambda_1 = 1). At gamma lambda_1 = 1.05 factors reach 1.6 [2.7], so
  the condition is sharp ("no growth up to 1.1" refuted); with the spectral radius it fails (factor 7 at gamma rho
  <= 1); and it is not sufficient: saturated networks above the threshold have factors below 1e-14, and sigmoid
  networks at lambda_1 = 2 below 1e-11.
* Algorithm 1: ||clip(g)|| = min(||g||, threshold) and cosine 1 to within 3e-4 and 6e-4 of the 1e-12 relative band;
  element-wise clipping turns gradients down to cosine 0.75.
* Quick verification, mutants included: about 9 s of compute; standard about 60 s.
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
    scaled_bound,
)
from simulations.rnn_gradient_difficulty import (
    evaluate_clipping,
    evaluate_recurrent,
    gradient_space,
    recurrent_space,
)

PAPER = Paper(
    key="rnn-gradient-difficulty",
    title="On the difficulty of training Recurrent Neural Networks",
    authors=("Razvan Pascanu", "Tomas Mikolov", "Yoshua Bengio"),
    venue="ICML",
    year=2013,
    arxiv="1211.5063",
)

L, lam, gamma, threshold = sp.symbols("L lam gamma threshold", positive=True)
gain = quantity("gain", r"\|\partial x_L / \partial x_0\|")
gain_max = quantity("gain_max", r"\max_{t \le L} \|\partial x_t / \partial x_0\|")
rho = quantity("rho", r"\rho(W_{rec})")
dsig_max = quantity("dsig_max", r"\textstyle\prod_t \|\operatorname{diag} \sigma'(x_t)\|")
dsig_mean = quantity("dsig_mean", r"\textstyle\prod_t \overline{\sigma'(x_t)}")
lam1 = quantity("lam1", r"\|W_{rec}\|_2")
norm = quantity("norm", r"\|g\|")
clipped_norm = quantity("clipped_norm", r"\|\operatorname{clip}(g)\|")
cosine = quantity("cosine", r"\cos(\operatorname{clip}(g), g)")
cosine_elementwise = quantity("cosine_elementwise", r"\cos(\operatorname{clip}_{elem}(g), g)")


def _points(n: int, L_: int) -> tuple[dict, ...]:
    """lambda_1 gamma in {0.5, 1, 1.05, 2}: vanishing, the boundary, just above it, exploding; both activations."""
    return (grid(act="tanh", gamma=1.0, lam=[0.5, 1.0, 1.05, 2.0], n=n, L=L_)
            + grid(act="sigmoid", gamma=0.25, lam=[2.0, 4.0, 4.2, 8.0], n=n, L=L_))


TRAJECTORIES = Experiment(
    "jacobian-products",
    "Recurrent networks x_t = W_rec sigma(x_{t-1}) + u_t with ||W_rec||_2 = lam, tanh or sigmoid: exact products of "
    "the step Jacobians W_rec diag(sigma'(x_{t-1})) along each trajectory (batched); random draws, then an "
    "adversarial search over W_rec's direction, x_0 and every input.",
    budgets(
        block=512,
        restarts=2,
        evaluations=60,  # per dimension: 56 dimensions at n = 4, L = 10
        quick=at(replicates=512, points=_points(4, 10)),
        standard=at(replicates=2048, evaluations=60, points=_points(4, 10) + _points(6, 20)),
        full=at(replicates=8192, restarts=4, evaluations=120, points=_points(4, 10) + _points(6, 20) + _points(8, 40)),
    ),
    search=InstanceSearch(recurrent_space, evaluate_recurrent),
    outputs=("gain", "gain_max", "lam1", "rho", "dsig_max", "dsig_mean"),
)

CLIPPING = Experiment(
    "gradient-clipping",
    "Algorithm 1 on gradient vectors 10^a v (a in [-3, 3], v in [-1, 1]^p), norms spread over six decades around "
    "the threshold; element-wise clipping at the same threshold alongside.",
    budgets(
        {"p": 20, "threshold": [1.0, 6.0]},
        block=512,
        restarts=2,
        evaluations=20,
        quick=at(replicates=512),
        standard=at(replicates=4096),
        full=at(replicates=16384, threshold=[0.1, 1.0, 6.0, 45.0]),
    ),
    search=InstanceSearch(gradient_space, evaluate_clipping),
    outputs=("norm", "clipped_norm", "cosine", "cosine_elementwise"),
)

_TOL = {"rtol": 1e-9, "atol": 1e-12}  # exact products of L small matrices: float64 rounding is ~1e-15 relative
_CLIP_TOL = {"rtol": 1e-12, "atol": 0.0}  # a norm and a dot product of 20 numbers: rounding is ~1e-15 relative
_ASSUMPTIONS = ("x_t = W_rec sigma(x_{t-1}) + W_in u_t + b (eq. (2)), here W_in = I, b = 0",
                "|sigma'| <= gamma: tanh (gamma = 1) or sigmoid (gamma = 1/4)",
                "lambda_1 = ||W_rec||_2, the largest singular value")

VANISHING = Relation(sp.Le(gain, (gamma * lam) ** L))
PER_STEP = Relation(sp.Le(gain, lam**L * dsig_max))
EXPLODING = Relation(sp.Le(gain_max, sp.Piecewise((1, gamma * lam <= 1), (sp.oo, True))))

CLAIMS = [
    SureClaim(
        "eq-6-per-step",
        PAPER,
        PER_STEP,
        TRAJECTORIES,
        quoted("Section 2.1, eq. (6): for all k, ||d x_{k+1} / d x_k|| <= ||W_rec^T|| ||diag(sigma'(x_k))|| (here "
               "multiplied over the L steps of the window by submultiplicativity)."),
        description="The long-term factor is at most the product of the per-step bounds lambda_1 ||diag sigma'(x_t)||, "
        "with the derivative measured on the trajectory (sharper than (gamma lambda_1)^L).",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            scaled_bound(PER_STEP, sp.Rational(999, 1000), name="a-tenth-of-a-percent-tighter"),
            Mutant("mean-derivative", Relation(sp.Le(gain, lam**L * dsig_mean)),
                   "The mean of |sigma'| over the units in place of its maximum (the 2-norm of the diagonal)."),
        ),
    ),
    SureClaim(
        "vanishing-bound",
        PAPER,
        VANISHING,
        TRAJECTORIES,
        quoted("Section 2.1: \"it is sufficient for lambda_1 < 1/gamma, where lambda_1 is the largest singular value "
               "of W_rec, for the vanishing gradient problem to occur\"; eq. (7) with eta = lambda_1 gamma from eq. "
               "(6): the long-term factor is at most eta^{t-k}."),
        description="||d x_L / d x_0|| <= (gamma lambda_1)^L on every trajectory: below lambda_1 = 1/gamma the "
        "long-term factors vanish exponentially in the horizon.",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            scaled_bound(VANISHING, sp.Rational(999, 1000), name="a-tenth-of-a-percent-tighter"),
            Mutant("spectral-radius-in-place-of-lambda-1", Relation(sp.Le(gain, (gamma * rho) ** L)),
                   "lambda_1 read as the absolute value of the largest eigenvalue (the wording of other versions of "
                   "Section 2.1): the spectral radius does not bound ||W_rec||."),
            Mutant("half-the-exponent", Relation(sp.Le(gain, (gamma * lam) ** (L / 2))),
                   "(gamma lambda_1)^(L/2): tighter wherever gamma lambda_1 > 1."),
            Mutant("sigmoid-gamma-one-fifth",
                   Relation(sp.Le(gain, (sp.Piecewise((sp.Rational(1, 5), gamma < sp.Rational(1, 2)), (gamma, True))
                                         * lam) ** L)),
                   "gamma = 1/5 for the sigmoid instead of sup |sigmoid'| = sigmoid'(0) = 1/4."),
        ),
    ),
    SureClaim(
        "exploding-needs-gamma-lambda-above-one",
        PAPER,
        EXPLODING,
        TRAJECTORIES,
        quoted("Section 2.1: \"By inverting this proof we get the necessary condition for exploding gradients, namely "
               "that the largest eigenvalue lambda_1 is larger than 1/gamma\" (lambda_1 read as the largest singular "
               "value, as defined with the sufficient condition; with the eigenvalue it is the mutant below)."),
        description="If gamma lambda_1 <= 1, no long-term factor ||d x_t / d x_0||, 1 <= t <= L, exceeds 1 (where "
        "gamma lambda_1 > 1 the statement says nothing: the bound is +inf). Its mutants show that the condition is "
        "necessary but not sufficient, and sharp.",
        assumptions=_ASSUMPTIONS,
        **_TOL,
        mutants=(
            Mutant("threshold-ten-percent-higher",
                   Relation(sp.Le(gain_max, sp.Piecewise((1, gamma * lam <= sp.Rational(11, 10)), (sp.oo, True)))),
                   "No amplification up to gamma lambda_1 = 1.1: false if the condition is sharp (points at 1.05)."),
            Mutant("spectral-radius-condition",
                   Relation(sp.Le(gain_max, sp.Piecewise((1, gamma * rho <= 1), (sp.oo, True)))),
                   "The condition with the spectral radius (the eigenvalue wording): non-normal W_rec with gamma "
                   "rho <= 1 < gamma lambda_1 amplify."),
            Mutant("sufficient-for-exploding",
                   Relation(sp.Ge(gain, sp.Piecewise((1, gamma * lam > 1), (0, True)))),
                   "gamma lambda_1 > 1 also sufficient: every factor at horizon L is >= 1 there (saturated units "
                   "vanish instead)."),
            Mutant("sigmoid-explodes-above-one",
                   Relation(sp.Ge(gain, sp.Piecewise((1, sp.And(lam > 1, gamma < sp.Rational(1, 2))), (0, True)))),
                   "\"Sigmoid networks explode whenever lambda_1 > 1\" (gamma forgotten): at lambda_1 = 2 a sigmoid "
                   "network's factors are at most 2^-L."),
        ),
    ),
    SureClaim(
        "clipping-norm",
        PAPER,
        Relation(sp.Eq(clipped_norm, sp.Min(norm, threshold))),
        CLIPPING,
        quoted("Algorithm 1 (Section 3.2): g <- dE/dtheta; if ||g|| >= threshold then g <- (threshold / ||g||) g."),
        description="The clipped gradient has norm min(||g||, threshold): exactly the threshold when clipped, "
        "unchanged below it.",
        assumptions=("any gradient vector", "threshold > 0"),
        **_CLIP_TOL,
        mutants=(
            Mutant("threshold-lower-by-1e-9",
                   Relation(sp.Eq(clipped_norm, sp.Min(norm, threshold * (1 - sp.Rational(1, 10**9))))),
                   "A clipped norm 1e-9 below the threshold (1000 times the tolerance band)."),
            Mutant("threshold-higher-by-1e-9",
                   Relation(sp.Eq(clipped_norm, sp.Min(norm, threshold * (1 + sp.Rational(1, 10**9))))),
                   "A clipped norm 1e-9 above the threshold."),
            Mutant("always-rescaled", Relation(sp.Eq(clipped_norm, threshold)),
                   "Every gradient rescaled to the threshold (normalisation instead of clipping)."),
        ),
    ),
    SureClaim(
        "clipping-direction",
        PAPER,
        Relation(sp.Eq(cosine, 1)),
        CLIPPING,
        reconstructed("Derived from Algorithm 1: the update multiplies g by the positive scalar min(1, threshold / "
                      "||g||), so its direction is kept; Section 3.2 contrasts this with element-wise clipping."),
        description="The clipped gradient points along the raw gradient (cosine 1).",
        assumptions=("any nonzero gradient vector", "threshold > 0"),
        **_CLIP_TOL,
        mutants=(
            Mutant("elementwise-clipping-keeps-direction", Relation(sp.Eq(cosine_elementwise, 1)),
                   "Element-wise clipping (Mikolov, 2012) also keeps the direction."),
            Mutant("cosine-below-one-by-1e-10", Relation(sp.Eq(cosine, 1 - sp.Rational(1, 10**10))),
                   "A direction off by 1e-10 in cosine (100 times the tolerance band)."),
            Mutant("cosine-above-one-by-1e-10", Relation(sp.Eq(cosine, 1 + sp.Rational(1, 10**10))),
                   "The other side of the identity, 1e-10 above."),
        ),
    ),
]
