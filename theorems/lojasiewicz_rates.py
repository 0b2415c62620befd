r"""Liu, Yang, Hayou, Li. *From Optimization Dynamics to Generalization Bounds via Lojasiewicz Gradient
Inequality.* Transactions on Machine Learning Research, 2022, arXiv:2202.10670.

The results checked: the gradient-flow part (rates and path length). Let theta' = -grad L(theta) and suppose
the Lojasiewicz gradient inequality ||grad L(theta)|| >= c (L(theta) - L*)^alpha, alpha in [1/2, 1), holds
along the trajectory. With g(t) = L(theta_t) - L*, g' = -||grad L||^2 <= -c^2 g^{2 alpha}, so

* alpha = 1/2: (log g)' <= -c^2, i.e. g(t) <= e^{-c^2 t} g(0);
* alpha > 1/2: (g^{1 - 2 alpha})' = (2 alpha - 1) g^{-2 alpha} ||grad L||^2 >= c^2 (2 alpha - 1), i.e.
  g(t) <= [c^2 (2 alpha - 1) t + g(0)^{1 - 2 alpha}]^{-1/(2 alpha - 1)}, so g = O(t^{-1/(2 alpha - 1)});
* path length: (g^{1 - alpha})' = -(1 - alpha) g^{-alpha} ||grad L||^2 <= -c (1 - alpha) ||theta'||, so
  int_0^inf ||theta'|| dt <= g(0)^{1 - alpha} / (c (1 - alpha)).

These are derived here (the three lines above are the whole proof). They are checked on four losses whose
exponent and a valid constant are known exactly (simulations.lojasiewicz_rates): (1/4)||w||^4 (alpha = 3/4,
c = 4^{3/4}, equality everywhere, so every bound is attained), sum_j w_j^{2k} (alpha = 1 - 1/(2k), c = 2k
d^{-(k-1)/(2k)} by the power-mean inequality, attained when all |w_j| are equal), least squares (alpha = 1/2,
c = sqrt(2 mu), mu the smallest eigenvalue of the Hessian, attained along its eigenvector) and realisable quartic
regression (1/4n) sum (x_i^T w - y_i)^4 (alpha = 3/4, c = 4^{3/4} sigma_min(X) / sqrt(n), derived in the
simulation module; not attained). The rate claims check the exponent -1/(2 alpha - 1) itself: Theta(t^{-2}) for
quartic regression and Theta(t^{-3/2}) for sum_j w_j^6 (alpha = 5/6).

Provenance. The arXiv id, title, authors and abstract were confirmed (huggingface.co/papers/2202.10670: "Leveraging
the Uniform-LGI, we first derive convergence rates for gradient flow algorithm, then we give generalization bounds
..."). The full text was not found in the sources available, so the theorem numbers, and whether the paper states
the bounds in exactly these forms, are unconfirmed: every claim is marked reconstructed. The authors' public code
(github.com/mathematicallfs/Uniform-LGI, plot_lgi.py) fits the exponent theta and constant c of
||grad L|| >= c (L - L*)^theta from training curves, which confirms the form of the inequality used here (the
paper writes the exponent as theta); its generalisation bound is plotted as 1 / (sqrt(n) c^2 (1 - theta)^2) +
sqrt(m / n). The generalisation part is not checked.

What the measurements show (quick fidelity; standard in brackets; see the notebook): every bound holds on every
random and searched instance. On (1/4)||w||^4 the loss and path bounds are attained to rounding (tightness 1), and
the searches also come within 0.2% of the path bound for least squares and the power sums (initial points on the
extremal directions: the softest eigenvector, equal |w_j|). Loss-bound tightness is 1 for every problem, partly
because every trajectory starts on its bound (t -> 0); the 2%-faster mutants are refuted all the same. For quartic
regression the derived constant is nearly sharp: the search reached 0.970 (0.994) of the path bound. The rate fits
give exponents -1.99 [-2.00, -1.98] and -1.50 within their 0.1 margins at resolution 0.12; t^{-1}, t^{-1.75},
t^{-2.25} and, for alpha = 5/6, t^{-2} are refuted. Finite-t corrections are real: with initial coordinates near
their minimiser, or data whose quartic is nearly degenerate in some direction, the local slope of the mean only
reached -1.99 at t ~ 1e6 in exploration, so the rate replicates start with |w_j0| in [1/2, 1] and the sweep at
t = 100.
"""

from __future__ import annotations

import sympy as sp

from boundlab import (
    Asymptotic,
    Experiment,
    InstanceSearch,
    Mutant,
    Paper,
    RateClaim,
    Relation,
    SureClaim,
    at,
    budgets,
    faster,
    quantity,
    reconstructed,
    scaled_bound,
    slower,
)
from simulations.lojasiewicz_rates import evaluate_loss, evaluate_path, loss_space, measure_gap, path_space

PAPER = Paper(
    key="lojasiewicz-rates",
    title="From Optimization Dynamics to Generalization Bounds via Łojasiewicz Gradient Inequality",
    authors=("Fusheng Liu", "Haizhao Yang", "Soufiane Hayou", "Qianxiao Li"),
    venue="TMLR",
    year=2022,
    arxiv="2202.10670",
)

alpha, t = sp.symbols("alpha t", positive=True)
gap_t = quantity("gap_t", r"L(\theta_t) - L^*")
gap_0 = quantity("gap_0", r"L(\theta_0) - L^*")
t_inst = quantity("time", "t")
c = quantity("c", "c")
length = quantity("length", r"\int_0^\infty \|\dot\theta_t\|\,dt")
gap = quantity("gap", r"L(\theta_t) - L^*")

_QN = {"problem": "quartic-norm", "d": 3, "alpha": 0.75}
_PS2 = {"problem": "power-sum", "k": 2, "d": 3, "alpha": 0.75}
_PS3 = {"problem": "power-sum", "k": 3, "d": 2, "alpha": 5 / 6}
_LS3 = {"problem": "linear-regression", "d": 3, "alpha": 0.5}
_LS5 = {"problem": "linear-regression", "d": 5, "alpha": 0.5}
_QR = {"problem": "quartic-regression", "d": 2, "n": 4, "alpha": 0.75}
_QR3 = {"problem": "quartic-regression", "d": 3, "n": 6, "alpha": 0.75}

_CLOSED = "closed-form gradient flows"
LOSS_POLYNOMIAL = Experiment(
    "loss-at-time-t-polynomial",
    f"Loss gap at a time t in [1e-2, 1e3] ({_CLOSED}) on (1/4)||w||^4 and sum_j w_j^{{2k}}; random draws, then a "
    "search over the initial point and t.",
    budgets(
        block=256, restarts=2, evaluations=40,
        quick=at(replicates=256, points=(_QN, _PS2, _PS3)),
        standard=at(replicates=1024, evaluations=100, points=(_QN, _PS2, _PS3, {**_PS3, "d": 4})),
        full=at(replicates=4096, restarts=4, evaluations=200, points=(_QN, _PS2, _PS3, {**_PS3, "d": 4})),
    ),
    search=InstanceSearch(loss_space, evaluate_loss),
    outputs=("gap_t", "gap_0", "time", "c"),
)
LOSS_EXPONENTIAL = Experiment(
    "loss-at-time-t-least-squares",
    f"Loss gap at a time t in [1e-2, 1e2] ({_CLOSED}: eigendecomposition; c^2 t <= 200 avoids underflow) for "
    "least squares with Hessian spectrum in [0.1, 1]; random draws, then a search over the Hessian, the initial "
    "point and t.",
    budgets(
        block=256, restarts=2, evaluations=40,
        quick=at(replicates=256, points=(_LS3,)),
        standard=at(replicates=1024, evaluations=100, points=(_LS3, _LS5)),
        full=at(replicates=4096, restarts=4, evaluations=200, points=(_LS3, _LS5)),
    ),
    search=InstanceSearch(loss_space, evaluate_loss),
    outputs=("gap_t", "gap_0", "time", "c"),
)
LOSS_QUARTIC_REGRESSION = Experiment(
    "loss-at-time-t-quartic-regression",
    "Loss gap at a time t in [1e-2, 1e3] for realisable quartic regression (adaptive Dormand-Prince in log(1 + t), "
    "local rtol 1e-10); random draws, then a search over the data, the initial point and t.",
    budgets(
        block=128, restarts=1, evaluations=12,
        quick=at(replicates=128, points=(_QR,)),
        standard=at(replicates=512, restarts=2, evaluations=40, points=(_QR, _QR3)),
        full=at(replicates=2048, restarts=4, evaluations=100, points=(_QR, _QR3)),
    ),
    search=InstanceSearch(loss_space, evaluate_loss),
    outputs=("gap_t", "gap_0", "time", "c"),
)
PATH = Experiment(
    "path-length",
    "Path length of the whole trajectory: closed form for (1/4)||w||^4, otherwise the flow in the loss clock "
    "log(gap_0 / gap) to 12 p (p the loss's degree) plus the chord to the minimiser; random draws, then a search "
    "over the initial point (and the Hessian).",
    budgets(
        block=128, restarts=1, evaluations=12,
        quick=at(replicates=128, points=(_QN, _PS3, _LS3)),
        standard=at(replicates=512, restarts=2, evaluations=40, points=(_QN, _PS2, _PS3, _LS3, _LS5)),
        full=at(replicates=2048, restarts=4, evaluations=100, points=(_QN, _PS2, _PS3, _LS3, _LS5)),
    ),
    search=InstanceSearch(path_space, evaluate_path),
    outputs=("length", "gap_0", "c"),
)
PATH_QUARTIC_REGRESSION = Experiment(
    "path-length-quartic-regression",
    "Path length for realisable quartic regression (flow in the loss clock to 48 plus the chord); random draws, "
    "then a search over the data and the initial point.",
    budgets(
        block=64, restarts=1, evaluations=8,
        quick=at(replicates=64, points=(_QR,)),
        standard=at(replicates=256, restarts=2, evaluations=30, points=(_QR, _QR3)),
        full=at(replicates=1024, restarts=4, evaluations=80, points=(_QR, _QR3)),
    ),
    search=InstanceSearch(path_space, evaluate_path),
    outputs=("length", "gap_0", "c"),
)
_T_GRID = [100, 300, 1000, 3000, 10000, 30000, 100000]
RATE_QUARTIC = Experiment(
    "gap-vs-t-quartic-regression",
    "Loss gap of realisable quartic regression (n = 4, d = 2) at times t, random data and initial points; replicate "
    "r is one trajectory seen at every t.",
    budgets(
        {"problem": "quartic-regression", "d": 2, "n": 4, "t": _T_GRID},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=256, t=[*_T_GRID, 300000]),
        full=at(replicates=1024, t=[*_T_GRID, 300000, 1000000]),
    ),
    measure=measure_gap,
    outputs=("gap",),
    common_random_numbers=True,
)
RATE_POWER6 = Experiment(
    "gap-vs-t-sum-of-sixth-powers",
    "Loss gap of sum_j w_j^6 (d = 3, closed-form flow) at times t, random initial points; replicate r is one "
    "trajectory seen at every t.",
    budgets(
        {"problem": "power-sum", "k": 3, "d": 3, "t": _T_GRID},
        block=256,
        quick=at(replicates=256),
        standard=at(replicates=1024, t=[*_T_GRID, 300000]),
        full=at(replicates=4096, t=[*_T_GRID, 300000, 1000000]),
    ),
    measure=measure_gap,
    outputs=("gap",),
    common_random_numbers=True,
)

POLY_BOUND = (c**2 * (2 * alpha - 1) * t_inst + gap_0 ** (1 - 2 * alpha)) ** (-1 / (2 * alpha - 1))
LOSS_POLY = Relation(sp.Le(gap_t, POLY_BOUND))
LOSS_EXP = Relation(sp.Le(gap_t, sp.exp(-(c**2) * t_inst) * gap_0))
PATH_BOUND = Relation(sp.Le(length, gap_0 ** (1 - alpha) / (c * (1 - alpha))))
RATE_M2 = Asymptotic(gap, "Theta", t**-2)
RATE_M32 = Asymptotic(gap, "Theta", t ** sp.Rational(-3, 2))

_DERIVED = ("Derived for gradient flow from d/dt (L - L*) = -||grad L||^2 and the Lojasiewicz inequality (module "
            "docstring); the paper's convergence-rate statement for gradient flow under the Uniform-LGI is "
            "inferred from its abstract, its full text was not available.")
_LGI = "||grad L|| >= c (L - L*)^alpha everywhere, c derived per problem (simulations.lojasiewicz_rates)"
_TIGHTER_TIME = Mutant(
    "time-constant-2-percent-larger",
    Relation(sp.Le(gap_t, (sp.Rational(51, 50) * c**2 * (2 * alpha - 1) * t_inst + gap_0 ** (1 - 2 * alpha))
                   ** (-1 / (2 * alpha - 1)))),
    "c^2 (2 alpha - 1) t replaced by 1.02 c^2 (2 alpha - 1) t: 2% faster, near the tightness (attained on "
    "(1/4)||w||^4).")
_DROPPED = Mutant(
    "two-alpha-minus-one-dropped",
    Relation(sp.Le(gap_t, (c**2 * t_inst + gap_0 ** (1 - 2 * alpha)) ** (-1 / (2 * alpha - 1)))),
    "The factor (2 alpha - 1) dropped from the time term: a bound decaying 2x (alpha = 3/4) or 1.5x (5/6) faster.")

CLAIMS = [
    SureClaim(
        "loss-bound-alpha-above-half",
        PAPER,
        LOSS_POLY,
        LOSS_POLYNOMIAL,
        reconstructed(_DERIVED),
        description="For alpha in (1/2, 1): L_t - L* <= [c^2 (2 alpha - 1) t + (L_0 - L*)^{1 - 2 alpha}]^{-1/(2 alpha "
        "- 1)} at every time t (here t in [1e-2, 1e3]); exact closed-form flows.",
        assumptions=(_LGI, "gradient flow from any initial point in [-1, 1]^d"),
        rtol=1e-9,  # closed forms: the band is float64 rounding (the bound is attained on (1/4)||w||^4)
        atol=1e-300,
        mutants=(_TIGHTER_TIME, _DROPPED),
    ),
    SureClaim(
        "loss-bound-quartic-regression",
        PAPER,
        LOSS_POLY,
        LOSS_QUARTIC_REGRESSION,
        reconstructed(_DERIVED + " The constant c = 4^{3/4} sigma_min(X) / sqrt(n) is derived here."),
        description="The alpha = 3/4 loss bound on realisable quartic regression, with the derived constant.",
        assumptions=(_LGI, "X = [I_d; B], B in [-1, 1]^{(n-d) x d}, realisable labels"),
        rtol=1e-6,  # integrator: local rtol 1e-10, measured error against solve_ivp below 1e-8 (tests)
        atol=1e-300,
        mutants=(
            Mutant("constant-doubled",
                   Relation(sp.Le(gap_t, (4 * c**2 * (2 * alpha - 1) * t_inst + gap_0 ** (1 - 2 * alpha))
                                  ** (-1 / (2 * alpha - 1)))),
                   "c doubled (4 c^2 in the time term): as if sigma_min(X) were replaced by a twice larger "
                   "singular value."),
        ),
    ),
    SureClaim(
        "loss-bound-alpha-one-half",
        PAPER,
        LOSS_EXP,
        LOSS_EXPONENTIAL,
        reconstructed(_DERIVED),
        description="For alpha = 1/2 (Polyak-Lojasiewicz): L_t - L* <= e^{-c^2 t} (L_0 - L*), with c^2 = 2 mu for "
        "least squares; exact closed-form flow.",
        assumptions=(_LGI, "least squares with Hessian spectrum in [0.1, 1]"),
        rtol=1e-9,  # closed form (eigendecomposition): float64 rounding
        atol=1e-300,
        mutants=(
            Mutant("rate-2c-squared", Relation(sp.Le(gap_t, sp.exp(-2 * c**2 * t_inst) * gap_0)),
                   "e^{-2 c^2 t}: the rate of the distance, mistaken for the loss's (twice too fast)."),
            Mutant("rate-2-percent-faster",
                   Relation(sp.Le(gap_t, sp.exp(-sp.Rational(51, 50) * c**2 * t_inst) * gap_0)),
                   "e^{-1.02 c^2 t}: 2% too fast, near the tightness (attained along the softest eigenvector)."),
        ),
    ),
    SureClaim(
        "path-length-bound",
        PAPER,
        PATH_BOUND,
        PATH,
        reconstructed(_DERIVED),
        description="The trajectory's length int ||theta'|| dt is at most (L_0 - L*)^{1 - alpha} / (c (1 - alpha)).",
        assumptions=(_LGI, "gradient flow from any initial point in [-1, 1]^d"),
        rtol=1e-6,  # integrated lengths: measured error below 1e-8 against solve_ivp and closed forms (tests)
        atol=1e-300,
        mutants=(
            Mutant("one-minus-alpha-dropped", Relation(sp.Le(length, gap_0 ** (1 - alpha) / c)),
                   "The factor 1 / (1 - alpha) dropped: (L_0 - L*)^{1 - alpha} / c."),
            Mutant("constant-halved", Relation(sp.Le(length, gap_0 ** (1 - alpha) / (2 * c * (1 - alpha)))),
                   "Half the bound."),
            scaled_bound(PATH_BOUND, 0.99, name="one-percent-tighter",
                         why="1% below the bound: near the tightness (attained on (1/4)||w||^4)."),
        ),
    ),
    SureClaim(
        "path-length-quartic-regression",
        PAPER,
        PATH_BOUND,
        PATH_QUARTIC_REGRESSION,
        reconstructed(_DERIVED + " The constant c = 4^{3/4} sigma_min(X) / sqrt(n) is derived here."),
        description="The path-length bound on realisable quartic regression, with the derived constant.",
        assumptions=(_LGI, "X = [I_d; B], B in [-1, 1]^{(n-d) x d}, realisable labels"),
        rtol=1e-6,  # integrated lengths: measured error below 1e-8 against solve_ivp (tests)
        atol=1e-300,
        mutants=(
            Mutant("constant-quartered", Relation(sp.Le(length, gap_0 ** (1 - alpha) / (4 * c * (1 - alpha)))),
                   "A quarter of the bound: the derived constant's slack is smaller than that."),
        ),
    ),
    RateClaim(
        "rate-t-minus-2-quartic-regression",
        PAPER,
        RATE_M2,
        RATE_QUARTIC,
        reconstructed(_DERIVED + " The lower bound (Theta) holds because ||grad L|| <= C (L - L*)^{3/4} too, for "
                      "a homogeneous quartic."),
        description="L_t - L* = Theta(t^{-1/(2 alpha - 1)}) = Theta(t^{-2}) for alpha = 3/4. Margin 0.1 of an "
        "exponent: finite-t corrections (for a few data sets the direction of w_t - w* settles slowly) keep the "
        "local slope of the mean within 0.05 of -2 from t = 100 on (measured, 256 replicates).",
        assumptions=("realisable quartic regression, X = [I_d; B]", "initial coordinates |(w_0 - w*)_j| in [1/2, 1]"),
        variable="t",
        exponent_margin=0.1,
        mutants=(
            faster(RATE_M2, t, name="rate-t-minus-1",
                   why="t^{-1}, the exponent of the convex O(1/t) rate, the common wrong answer."),
            faster(RATE_M2, t ** sp.Rational(1, 4), name="rate-t-minus-1p75",
                   why="t^{-1.75}: 0.25 away, near the resolution."),
            slower(RATE_M2, t ** sp.Rational(1, 4), name="rate-t-minus-2p25",
                   why="t^{-2.25}: 0.25 away on the other side."),
        ),
    ),
    RateClaim(
        "rate-t-minus-3-halves-sixth-powers",
        PAPER,
        RATE_M32,
        RATE_POWER6,
        reconstructed(_DERIVED),
        description="L_t - L* = Theta(t^{-3/2}) for sum_j w_j^6 (alpha = 5/6, -1/(2 alpha - 1) = -3/2). Margin 0.1: "
        "relative corrections O(1/t): the local slope of the mean is within 0.02 of -3/2 from t = 100 on.",
        assumptions=("initial coordinates |w_j0| in [1/2, 1]",),
        variable="t",
        exponent_margin=0.1,
        mutants=(
            slower(RATE_M32, sp.sqrt(t), name="rate-t-minus-2",
                   why="t^{-2}, the alpha = 3/4 exponent misapplied (or the exponent -1/(2 alpha - 1) misread)."),
            faster(RATE_M32, sp.sqrt(t), name="rate-t-minus-1",
                   why="t^{-1}: the convex O(1/t) rate."),
        ),
    ),
]
