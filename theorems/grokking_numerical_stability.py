r"""Prieto, Barsbey, Mediano, Birdal. *Grokking at the Edge of Numerical Stability.* ICLR 2025, arXiv:2501.04697.

The paper (abstract): "without regularization, grokking tasks push models to the edge of numerical stability,
introducing floating point errors in the Softmax that we refer to as Softmax Collapse (SC)", and StableMax is "a
new activation function that prevents SC". What is checked here is the floating-point mechanism behind both,
exactly, on logit vectors; the training dynamics are not.

Setting. Logits z in R^K, the correct class c ahead of every other by a gap g: z_k = z_c - g - d_k, d_k >= 0. Let
r_k = e^{z_k - z_c} (k != c), s = sum_k r_k, r_max = max_k r_k, and u = 2^-p the unit roundoff (p = 24 for
float32, 53 for float64). Implementations (simulations.grokking_numerical_stability, array-API code):

* ``softmax`` -- NumPy's straightforward softmax, max-shifted: e = exp(z - max z), S = sum(e), p = e / S,
  loss -log p_c, gradient p - onehot;
* ``logsumexp`` -- lse = max z + log(sum exp(z - max z)), loss lse - z_c, gradient exp(z - lse) - onehot.

The float model (derived here). With the correct class ahead, e_c = exp(0) = 1 exactly and S = 1 + (the K - 1 small
terms), summed in *some* order. fl(1 + t) = 1 iff t <= u (round to nearest, ties to even: 1 + u rounds to 1, the
next float above 1 is 1 + 2u). Then p_c = 1 / S is exactly 1 iff S = 1, and so the loss -log p_c and the
correct-class gradient p_c - 1 are exactly 0 iff S = 1. The wrong-class gradients p_k = e_k / S stay about
r_k = e^{-(g + d_k)}: tiny but nonzero (no underflow here: g + d_k < 60). Whether S = 1 depends on the order of the
sum, and the sandwich that holds for *every* order is

    (Z) s <= u (1 - delta)        =>  collapse (every sub-sum of small terms is < u, so each addition to 1 rounds
                                      back to 1);
    (N) r_max > u (1 + delta)     =>  no collapse (the sub-sum holding the largest term exceeds u wherever it meets
                                      the 1, and positive additions never go back down).

For all-equal wrong logits this reads: collapse from g = ln((K - 1) 2^p) on, whatever the order; no collapse below
g = ln 2^p = p ln 2, whatever the order; in between it depends on the order. The "K - 1 factor" is the upper end:
it is the threshold only when the small terms are summed before they meet the 1. For ``logsumexp`` the loss is
zero when log S is absorbed by max z = b: fl(b + L) = b iff L <= h(b), half the spacing above b (h = 0 for
``softmax``). With S - 1 within s (1 + delta) + (K - 1) u (each addition to a sum holding the 1 rounds by at most
u), (Z) becomes s <= max(u, h - (K - 1) u)(1 - delta) and (N) r_max > (h + u)(1 + delta). For |b| >= 1 the gradient
exp(z_c - lse) - 1 is zero exactly when lse = b (exp(-x) for x >= one spacing of b is below 1), so loss and
gradient collapse together (measured: never apart).

The error allowance delta = (K + 3 G + 3 |b| + 8) u + h, with G = max_k |z_k - z_c| and b = z_c, bounds (a priori)
the rounding of z_k - max z (relative |d| u in e^d), exp (a few ulps), the sum of K - 1 positive terms ((K - 2) u),
the rounding of the logits themselves when an instance is built (onset claims: (|b| + 2G) u), and log(1 + x) = x
(1 - x/2) near x = h. It is not a fitted constant: the threshold is checked to about 1e-5 (float32) and 3e-14
(float64) relative in s, i.e. that much in g.

NumPy's summation order (measured, numpy 2.x, ``np.sum`` over the last axis): fewer than 8 terms are added left to
right; from 8 on, 8 interleaved accumulators are combined pairwise and the remainder added last. So the onset
depends on the correct class's index: last (summed after the small terms) gives the K - 1 law
g* = ln(sum_k e^{-d_k}) + p ln 2 to 4e-6 (float32) and 1.4e-14 (float64); first gives, for K < 9, the largest term
alone (each small term is absorbed by the 1 separately), g* = p ln 2 - min d_k; in between otherwise.

Claims (sure claims over an adversarial search of offsets, gap, class index and |b| in [1, 64] of either sign):

* ``collapse-below-threshold`` (Z) and ``no-collapse-above-threshold`` (N), both implementations, float32 and
  float64, K = 2, 10, 100 [3, 10, 100 standard];
* ``wrong-class-gradients-survive``: at every instance the computed wrong-class gradients p_k are within
  (2K + G + 2|b| + 12) u relative of the exact r_k / (1 + s); in particular nonzero after the collapse;
* ``onset-inside-float-model`` (upper) and ``onset-above-largest-term`` (lower): the onset gap found by bisection on
  g (60 halvings) lies in [p ln 2 - ln((1 + h/u)(1 + delta)) - min d_k, ln sum_k e^{-d_k} - ln(max(u, h - (K-1)u)
  (1 - delta))];
* ``onset-k-minus-one-law``: with the correct class last, NumPy's softmax collapses at g* = ln(sum_k e^{-d_k}) +
  p ln 2, i.e. ln((K - 1) 2^p) for equal wrong logits (16.64, 18.83, 21.23 for float32 at K = 2, 10, 100; 36.74,
  38.94, 41.33 for float64), within delta + 4 g u;
* ``stablemax-gradient-survives``: StableMax, s(x) = x + 1 (x >= 0), 1/(1 - x) (x < 0), q = s(z) / sum s(z), at
  gaps from just past softmax's collapse (ln((K-1) 2^p) + 1/2) to 1000, z_c = lam g with lam in [-1, 2]: the
  computed correct-class gradient (q_c - 1) / (1 + |z_c|) is at least (1 - eps) times its exact value,
  eps = (K + 3) u (1 + rho)^2 / rho + (K + 4) u, rho = sum_{k != c} s(z_k) / s(z_c). StableMax's wrong-class mass
  decays polynomially (rho >= (K - 1) / ((g/2 + 1)(g/2 + 13)) at lam = 1/2), so eps < 1 and the gradient is
  nonzero. Softmax's gradient is exactly 0 on all these instances (diagnostic ``softmax_grad``).

Provenance. The full text was not found (the search tools return the abstract and summaries; a third-party
summary describes the paper's absorption-error argument, a fork of the authors' code defines s(x) as above with a
1e-30 guard in 1/(1 - x)). The abstract sentences are quoted; every precise statement (thresholds, sandwich,
implementations, StableMax gradient form) is reconstructed, derived here as above. Not encoded: the
modular-arithmetic training dynamics (full-batch MLP on addition mod p, grokking vs SC with float32/float64,
StableMax and perpGrad), which need about 1e5 steps per run, far beyond the quick budget; perpGrad; float16.

What the measurements show (quick fidelity; standard in brackets; every claim consistent, every mutant refuted):

* (Z): live vectors are found with s within 0.14% [0.01%] of the collapse level (tightness 0.9986 [0.9999]);
  machine epsilon 2^-(p-1), float32's 2^-24 at float64 and a level 1% too high are refuted. (N): collapsed vectors
  reach 0.9982 [0.9994] of the no-collapse level; "collapse only when the whole sum is below u" (the K - 1 law for
  any order) is refuted by collapsed NumPy vectors with s up to 2.9 u [3.5 u]; 2^-(p+1) and 1% below are refuted.
* Wrong-class gradients: relative error up to 0.62 [0.64] of the (2K + G + 2|b| + 12) u allowance (about 18-50 u,
  mostly the rounding of z_k - max z, which costs |z_k - z_c| u); "they vanish too" and "within 4 ulps" refuted.
* Onset: always inside the sandwich; with the correct class last, |g_on - g*| reaches 0.52 [0.53] of delta + 4 g u
  (about 4e-6 in float32, 1.4e-14 in float64); equal wrong logits, b = 1 (notebook): float32 onsets 16.6355
  (first) .. 18.0218 (last) at K = 5, 20.5067 .. 21.2307 at K = 100; float64 36.7368 .. 38.1231 (K = 5),
  40.6080 .. 41.3319 (K = 100). Precision independence (f64 onset ~ 37 vs f32's ~ 17-21), machine epsilon (ln 2
  earlier), no K - 1 factor, the law shifted by 10 delta, and "the K - 1 law wherever the class sits" are refuted.
* StableMax: eps stays below 0.02 on the space (rho >= 4e-5 in float32), the computed gradient is within 1 - eps of
  exact at every instance, softmax's is exactly 0 at all of them; "StableMax collapses like softmax" is refuted.
  Outside the checked range StableMax does collapse, polynomially later: first exact zero near g = 8250 (K = 2) and
  16500 (K = 10, class first) in float32 at z_c = g/2 (notebook).

Quick verification costs 8-17 s of compute (measured; the spread is machine load), standard about 25 s.
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
    quantity,
    quoted,
    reconstructed,
)
from simulations.grokking_numerical_stability import (
    absorption_space,
    evaluate_absorption,
    evaluate_onset,
    evaluate_stablemax,
    onset_space,
    stablemax_space,
)

PAPER = Paper(
    key="grokking-numerical-stability",
    title="Grokking at the Edge of Numerical Stability",
    authors=("Lucas Prieto", "Melih Barsbey", "Pedro A. M. Mediano", "Tolga Birdal"),
    venue="ICLR",
    year=2025,
    arxiv="2501.04697",
)

p, K = sp.symbols("p K", positive=True)
s = quantity("s", r"s")
r_max = quantity("r_max", r"r_{\max}")
G = quantity("G", r"G")
b = quantity("base_abs", r"|b|")
h = quantity("h", r"h(b)")
s_live = quantity("s_live", r"s_{\mathrm{live}}")
s_dead = quantity("s_dead", r"s_{\mathrm{dead}}")
rmax_dead = quantity("rmax_dead", r"r_{\max,\mathrm{dead}}")
wrong_err = quantity("wrong_err", r"\max_k |\hat p_k / p_k - 1|")
wrong_dead = quantity("wrong_dead", r"\min_k \hat p_k \,[\mathrm{collapsed}]")
zero_grad = quantity("zero_grad", r"\mathbb{1}[\hat g_c = 0]")
zero_loss = quantity("zero_loss", r"\mathbb{1}[\hat\ell = 0]")
g_on = quantity("g_on", r"g_{\mathrm{on}}")
log_sum = quantity("log_sum", r"\ln \textstyle\sum_k e^{-d_k}")
d_min = quantity("d_min", r"\min_k d_k")
sm_grad = quantity("sm_grad", r"|\hat g_c^{\mathrm{SM}}|")
sm_exact = quantity("sm_exact", r"|g_c^{\mathrm{SM}}|")
rho = quantity("rho", r"\rho")
gap = quantity("gap", "g")
softmax_grad = quantity("softmax_grad", r"|\hat g_c^{\mathrm{softmax}}|")

u = sp.Float(2.0) ** (-p)
u32 = sp.Float(2.0) ** -24
delta = (K + 3 * G + 3 * b + 8) * u + h
ZERO_LEVEL = sp.Max(u, h - (K - 1) * u)  # s below this (times 1 - delta): collapse, whatever the sum's order
LIVE_LEVEL = h + u  # r_max above this (times 1 + delta): no collapse, whatever the order

_ABSORPTION_OUTPUTS = ("s", "r_max", "G", "base_abs", "h", "zero_grad", "zero_loss", "s_live", "s_dead", "rmax_dead",
                       "wrong_err", "wrong_dead")
_IMPLS = ["softmax", "logsumexp"]
ABSORPTION = Experiment(
    "absorption",
    "Logit vectors in float32 / float64: correct class c ahead by g, wrong classes at offsets d_k in [0, 12] below "
    "the gap, c anywhere, z_c = b with |b| in [1, 64] of either sign; gaps around both thresholds. Random draws "
    "(equal, uniform, one dominant and clustered offsets), then an adversarial search over every coordinate.",
    budgets(
        {"impl": _IMPLS, "p": [24, 53], "K": [2, 10, 100]},
        block=512,
        restarts=2,
        evaluations=30,  # per dimension: 5 at K = 2, 103 at K = 100
        quick=at(replicates=512),
        standard=at(replicates=2048, K=[2, 3, 10, 100], evaluations=60),
        full=at(replicates=8192, K=[2, 3, 5, 10, 30, 100], restarts=4, evaluations=120),
    ),
    search=InstanceSearch(absorption_space, evaluate_absorption),
    outputs=_ABSORPTION_OUTPUTS,
)
_ONSET_OUTPUTS = ("g_on", "log_sum", "d_min", "G", "base_abs", "h")
ONSET = Experiment(
    "onset-gap",
    "Per offset configuration (offsets in [0, 12], class index, |b| in [1, 64]): the smallest gap at which the "
    "computed correct-class gradient is exactly 0, by a batched bisection on g (60 halvings of a bracket the float "
    "model guarantees); random draws, then an adversarial search.",
    budgets(
        {"impl": _IMPLS, "p": [24, 53], "K": [2, 10, 100], "position": "any"},
        block=512,
        restarts=1,
        evaluations=4,  # each evaluation is a 60-step bisection
        quick=at(replicates=256, K=[10, 100]),
        standard=at(replicates=1024, K=[2, 3, 10, 100], evaluations=8),
        full=at(replicates=4096, K=[2, 3, 5, 10, 30, 100], restarts=2, evaluations=16),
    ),
    search=InstanceSearch(onset_space, evaluate_onset),
    outputs=_ONSET_OUTPUTS,
)
ONSET_LAST = Experiment(
    "onset-gap-class-last",
    "As onset-gap, NumPy's softmax only, with the correct class at the last index (summed after the wrong "
    "classes).",
    budgets(
        {"impl": "softmax", "p": [24, 53], "K": [2, 10, 100], "position": "last"},
        block=512,
        restarts=1,
        evaluations=4,
        quick=at(replicates=256),
        standard=at(replicates=1024, K=[2, 3, 10, 100], evaluations=8),
        full=at(replicates=4096, K=[2, 3, 5, 10, 30, 100], restarts=2, evaluations=16),
    ),
    search=InstanceSearch(onset_space, evaluate_onset),
    outputs=_ONSET_OUTPUTS,
)
STABLEMAX = Experiment(
    "stablemax-past-collapse",
    "Logit vectors past softmax's collapse (g from ln((K - 1) 2^p) + 1/2 to 1000, log-uniform), wrong offsets in "
    "[0, 12], z_c = lam g with lam in [-1, 2]: StableMax's computed correct-class gradient against its exact value "
    "(extended precision), and softmax's on the same logits.",
    budgets(
        {"p": [24, 53], "K": [2, 10, 100]},
        block=512,
        restarts=2,
        evaluations=30,
        quick=at(replicates=512),
        standard=at(replicates=2048, evaluations=60),
        full=at(replicates=8192, restarts=4, evaluations=120),
    ),
    search=InstanceSearch(stablemax_space, evaluate_stablemax),
    outputs=("sm_grad", "sm_exact", "rho", "gap", "softmax_grad"),
)

COLLAPSE_BELOW = Relation(sp.Ge(s_live, ZERO_LEVEL * (1 - delta)))
LIVE_ABOVE = Relation(sp.Le(rmax_dead, LIVE_LEVEL * (1 + delta)))
WRONG_SURVIVE = Relation(sp.Le(wrong_err, (2 * K + G + 2 * b + 12) * u))
G_COLLAPSE = log_sum - sp.log(ZERO_LEVEL * (1 - delta))
G_LIVE = -sp.log(LIVE_LEVEL * (1 + delta)) - d_min
ONSET_UPPER = Relation(sp.Le(g_on, G_COLLAPSE))
ONSET_LOWER = Relation(sp.Ge(g_on, G_LIVE))
G_STAR = log_sum + p * sp.log(2)
ONSET_LAW = Relation(sp.Le(sp.Abs(g_on - G_STAR), delta + 4 * g_on * u))
EPS_SM = (K + 3) * u * (1 + rho) ** 2 / rho + (K + 4) * u
STABLEMAX_SURVIVES = Relation(sp.Ge(sm_grad, sm_exact * (1 - EPS_SM)))

# the error allowances are derived into the bounds (delta, eps): the band on top of them is exact
_EXACT = {"rtol": 0.0, "atol": 0.0}
_FLOAT_MODEL = ("IEEE binary32 / binary64, round to nearest even, no underflow (gaps + offsets < 60)",
                "correct class strictly ahead of every wrong class",
                "any order of the sum (NumPy's pairwise order measured)")
_ORDER_NOTE = ("Derived from the float model (module docstring): valid for every summation order, so for NumPy's "
               "and array-api-strict's alike.")

CLAIMS = [
    SureClaim(
        "collapse-below-threshold",
        PAPER,
        COLLAPSE_BELOW,
        ABSORPTION,
        reconstructed("Abstract: 'floating point errors in the Softmax that we refer to as Softmax Collapse (SC)'. "
                      "Encoded as the absorption sandwich's sufficient side: s <= max(u, h - (K-1)u)(1 - delta) "
                      "makes loss and correct-class gradient exactly 0. " + _ORDER_NOTE),
        description="Every live logit vector (computed loss or correct-class gradient nonzero) has s = sum_k "
        "e^{z_k - z_c} >= max(2^-p, h - (K-1) 2^-p)(1 - delta): below that, 1 + s rounds to 1 (softmax) or log S "
        "is absorbed by max z (logsumexp).",
        assumptions=_FLOAT_MODEL,
        **_EXACT,
        diagnostics=("s", "zero_grad", "zero_loss"),
        mutants=(
            Mutant("machine-epsilon", Relation(sp.Ge(s_live, sp.Max(2 * u, h - (K - 1) * u) * (1 - delta))),
                   "The threshold at machine epsilon 2^-(p-1) (numpy.finfo.eps) instead of the unit roundoff "
                   "2^-p: collapse claimed for every s up to 2^-(p-1)."),
            Mutant("precision-independent", Relation(sp.Ge(s_live, sp.Max(u32, h - (K - 1) * u) * (1 - delta))),
                   "The collapse threshold does not depend on precision: float32's 2^-24 used for float64."),
            Mutant("one-percent-above", Relation(sp.Ge(s_live, ZERO_LEVEL * sp.Float(1.01))),
                   "The threshold 1% above the unit roundoff: collapse claimed up to s = 1.01 max(u, ...); near "
                   "the tightness the search reaches."),
        ),
    ),
    SureClaim(
        "no-collapse-above-threshold",
        PAPER,
        LIVE_ABOVE,
        ABSORPTION,
        reconstructed("Abstract (Softmax Collapse). Encoded as the sandwich's necessary side: a vector whose "
                      "largest wrong-class ratio exceeds (h + u)(1 + delta) keeps a nonzero loss and correct-class "
                      "gradient. " + _ORDER_NOTE),
        description="Every logit vector with a zero loss or zero correct-class gradient has r_max = max_k "
        "e^{z_k - z_c} <= (h + 2^-p)(1 + delta).",
        assumptions=_FLOAT_MODEL,
        **_EXACT,
        diagnostics=("r_max", "zero_grad", "zero_loss"),
        mutants=(
            Mutant("k-minus-one-law-for-any-order", Relation(sp.Le(s_dead, LIVE_LEVEL * (1 + delta))),
                   "Collapse only when the whole sum s is below the threshold (the K - 1 law): false for NumPy, "
                   "which absorbs small terms into the 1 one by one when the correct class comes first."),
            Mutant("half-unit-roundoff", Relation(sp.Le(rmax_dead, (h + u / 2) * (1 + delta))),
                   "The threshold at 2^-(p+1) (half the spacing below 1) instead of 2^-p."),
            Mutant("one-percent-below", Relation(sp.Le(rmax_dead, LIVE_LEVEL * sp.Float(0.99))),
                   "The threshold 1% below (h + u): near the tightness the search reaches."),
        ),
    ),
    SureClaim(
        "wrong-class-gradients-survive",
        PAPER,
        WRONG_SURVIVE,
        ABSORPTION,
        reconstructed("Derived (float model): p_k = e_k / S carries the roundings of z_k - max z, exp, the sum "
                      "and the division; after the collapse the wrong-class gradients are about e^{-(g + d_k)}, "
                      "nonzero, while the correct class's is exactly 0."),
        description="At every instance the computed wrong-class gradients are within (2K + G + 2|b| + 12) 2^-p "
        "relative of r_k / (1 + s); so they are nonzero when the correct class's has collapsed.",
        assumptions=_FLOAT_MODEL,
        **_EXACT,
        diagnostics=("wrong_dead",),
        mutants=(
            Mutant("wrong-class-gradients-vanish", Relation(sp.Le(wrong_dead, 0)),
                   "At the collapse every gradient entry is 0, the wrong classes' too."),
            Mutant("wrong-class-within-four-ulps", Relation(sp.Le(wrong_err, 8 * u)),
                   "Wrong-class gradients within 8 u (4 ulps) of exact: ignores the rounding of z_k - max z, "
                   "which costs |z_k - z_c| u."),
        ),
    ),
    SureClaim(
        "onset-inside-float-model",
        PAPER,
        ONSET_UPPER,
        ONSET,
        reconstructed("The commonly quoted form g* = ln((K - 1) 2^p) for equal wrong logits, generalised: the "
                      "measured onset gap is at most ln sum_k e^{-d_k} - ln(max(u, h - (K-1)u)(1 - delta)) "
                      "(the K - 1 law with h = 0), the gap where (Z) guarantees collapse."),
        description="The collapse onset found by bisection on g never exceeds the float model's guaranteed-collapse "
        "gap.",
        assumptions=_FLOAT_MODEL,
        **_EXACT,
        mutants=(
            Mutant("precision-independent-onset",
                   Relation(sp.Le(g_on, log_sum - sp.log(sp.Max(u32, h - (K - 1) * u) * (1 - delta)))),
                   "The float32 threshold 2^-24 used for float64: onsets near 16.6 + ln sum e^-d claimed at p = 53."),
            Mutant("machine-epsilon-onset",
                   Relation(sp.Le(g_on, log_sum - sp.log(sp.Max(2 * u, h - (K - 1) * u) * (1 - delta)))),
                   "2^-(p-1) instead of 2^-p: the onset ln 2 earlier."),
            Mutant("no-k-minus-one-factor", Relation(sp.Le(g_on, G_LIVE + 2 * delta)),
                   "Only the largest wrong class counts (g* = p ln 2 - min d_k, no K - 1 factor)."),
        ),
    ),
    SureClaim(
        "onset-above-largest-term",
        PAPER,
        ONSET_LOWER,
        ONSET,
        reconstructed("Derived from (N): no collapse while the largest wrong-class ratio exceeds (h + u)(1 + delta), "
                      "so the onset is at least p ln 2 - ln((1 + h/u)(1 + delta)) - min d_k."),
        description="The collapse onset is never below the gap where the largest wrong class alone is absorbed.",
        assumptions=_FLOAT_MODEL,
        **_EXACT,
        mutants=(
            Mutant("k-minus-one-law-for-numpy", Relation(sp.Ge(g_on, G_COLLAPSE - 2 * delta)),
                   "NumPy's onset is the K - 1 law ln sum_k e^{-d_k} + p ln 2 wherever the correct class sits."),
        ),
    ),
    SureClaim(
        "onset-k-minus-one-law",
        PAPER,
        ONSET_LAW,
        ONSET_LAST,
        reconstructed("The usual absorption estimate g*(dtype, K) = ln((K - 1) 2^p) (absorption of (K - 1) "
                      "e^{-g} into 1 at the unit roundoff 2^-p), for any offsets: g* = ln sum_k e^{-d_k} + p ln 2; "
                      "exact for NumPy's softmax when the correct class is summed last."),
        description="With the correct class at the last index, NumPy's softmax collapses at g* = ln sum_k e^{-d_k} "
        "+ p ln 2 (ln((K - 1) 2^p) for equal wrong logits), within delta + 4 g 2^-p.",
        assumptions=_FLOAT_MODEL + ("NumPy's np.sum over the last axis, correct class last",),
        **_EXACT,
        mutants=(
            Mutant("precision-independent-law", Relation(sp.Le(sp.Abs(g_on - log_sum - 24 * sp.log(2)),
                                                               delta + 4 * g_on * u)),
                   "g* = ln((K - 1) 2^24) for every precision (float32's collapse gap claimed for float64)."),
            Mutant("machine-epsilon-law", Relation(sp.Le(sp.Abs(g_on - G_STAR + sp.log(2)), delta + 4 * g_on * u)),
                   "g* = ln((K - 1) 2^(p-1)): machine epsilon instead of the unit roundoff."),
            Mutant("law-without-k-minus-one", Relation(sp.Le(sp.Abs(g_on - p * sp.log(2) + d_min),
                                                             delta + 4 * g_on * u)),
                   "g* = p ln 2 - min d_k: no K - 1 factor (only the largest wrong class)."),
            Mutant("law-shifted-by-ten-deltas", Relation(sp.Le(sp.Abs(g_on - G_STAR - 10 * delta),
                                                               delta + 4 * g_on * u)),
                   "g* off by 10 delta (1e-4 in float32, 3e-13 in float64): the resolution of the check."),
        ),
    ),
    SureClaim(
        "stablemax-gradient-survives",
        PAPER,
        STABLEMAX_SURVIVES,
        STABLEMAX,
        quoted("Abstract: 'StableMax, a new activation function that prevents SC'. Encoded (reconstructed form): "
               "at gaps from past softmax's collapse to 1000 the computed StableMax gradient is at least "
               "(1 - eps) of its exact nonzero value, eps < 1 on this space."),
        description="StableMax's computed correct-class gradient (q_c - 1)/(1 + |z_c|) >= (1 - eps) x its exact "
        "value, eps = (K + 3) u (1 + rho)^2 / rho + (K + 4) u: nonzero at every gap up to 1000, where softmax's is "
        "exactly 0.",
        assumptions=("IEEE binary32 / binary64, round to nearest even",
                     "gap from ln((K - 1) 2^p) + 1/2 to 1000, z_c = lam g, lam in [-1, 2], offsets in [0, 12]"),
        **_EXACT,
        diagnostics=("softmax_grad", "rho", "gap"),
        mutants=(
            Mutant("stablemax-collapses-like-softmax", Relation(sp.Le(sm_grad, 0)),
                   "StableMax also collapses past softmax's gap (~16.6 + ln(K - 1) in float32): its gradient is 0."),
            Mutant("stablemax-never-rounds-low", Relation(sp.Ge(sm_grad, sm_exact)),
                   "The computed StableMax gradient is never below its exact value (no rounding loss)."),
        ),
    ),
]
