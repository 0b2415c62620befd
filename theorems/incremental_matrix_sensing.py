r"""Jin, Li, Lyu, Du, Lee. *Understanding Incremental Learning of Gradient Descent: A Fine-grained Analysis of
Matrix Sensing.* ICML 2023 (PMLR 202:15200-15238), arXiv:2301.11500.

Setting: symmetric matrix sensing of a rank-r PSD ground truth X* (eigenvalues lambda_1 > ... > lambda_r > 0) from
m symmetrised Gaussian measurements A_i (near-isotropic: E <A_i, X> A_i = X), y_i = <A_i, X*>, by gradient descent
with step eta on

    f(U) = 1/(2m) sum_i (<A_i, U U^T> - y_i)^2,     U in R^{d x r'},   U_0 = alpha Ubar.

The results checked, as the initialisation scale alpha -> 0:

1. Plateau times. With this normalisation grad f(U) = (2/m) sum_i (<A_i, U U^T> - y_i) A_i U, so near U = 0 GD is
   U_{t+1} = (I + 2 eta M) U_t with M = (1/m) sum_i y_i A_i -> X*: the k-th eigendirection is multiplied by
   1 + 2 eta lambda_k per step (with a loss 1/(4m) sum it would be 1 + eta lambda_k). With isotropic measurements
   the part of the k-th direction orthogonal to the learned ones keeps this factor through the earlier plateaus,
   so the time T_k(alpha) at which the k-th eigenvalue of U U^T is learned (crosses lambda_k / 2) grows like
   log(1/alpha) / log(1 + 2 eta lambda_k). Checked as a limit of the slope of T_k in log(1/alpha), per replicate
   with the same measurements and Ubar at every alpha: S_k(alpha) = (T_k(alpha) - T_k(sqrt alpha)) /
   log(1/sqrt alpha), and lim_{alpha -> 0} max_k |S_k log(1 + 2 eta lambda_k) - 1| = 0 (within 1%).
2. Incremental learning: in the middle of the k-th plateau (step floor((T_k + T_{k+1}) / 2)), U U^T tends to the
   best rank-k solution X_k* = argmin_{rank X <= k, X >= 0} 1/(2m) sum_i (<A_i, X> - y_i)^2 (k < r), measured as
   the largest relative Frobenius distance over k.
3. Over-parameterised (r' = d), under-determined sensing (m < d(d+1)/2): the end of training tends to the
   minimum-nuclear-norm PSD solution of A(X) = y, which is the ground truth on the instances used, not to the
   minimum-Frobenius-norm (least-squares) solution.
4. Under-parameterised (r' = 2 < r): the end of training tends to the best rank-2 solution X_2*.

Provenance. Reconstructed. Only the abstract and the introduction of the paper could be read here (arXiv listing,
PMLR page, the authors' page): "GD with small initialization behaves similarly to the greedy low-rank learning
heuristics ... GD sequentially learns solutions with increasing ranks until it recovers the ground truth matrix",
and "our analysis of the incremental learning procedure also applies to the under-parameterized regime". The
theorem numbers, the paper's normalisation of the loss, its exact time scale T_k^alpha and its RIP constants were
not seen. The time law is derived above from the linearised dynamics (so its constant log(1 + 2 eta lambda_k) belongs
to the 1/(2m) normalisation used here); that the plateaus are the best rank-k solutions follows the abstract's
"solutions with increasing ranks"; the minimum-nuclear-norm limit is the conjecture of Gunasekar et al. (2017) in
the regime where the ground truth is recovered, which is what "recovers the ground truth" amounts to there.
The paper's assumptions are encoded on the instances: RIP is approached by many measurements (m = 10^6 for the
time law, 300 > d(d+1)/2 = 55 for the plateaus), distinct eigenvalues (3, 1.5, 0.75), and, for claim 3, instances
conditioned on exact recovery by nuclear-norm minimisation (a dual certificate checked per replicate; failures are
redrawn). The measurements only enter through their Gram operator, which for the time law is drawn exactly as
Wishart(m, I) / m; float64 limits alpha to >= 1e-16 (below that the directions still to be learned sink under the
rounding error of the learned ones).

What the measurements show (engine seeds, quick; measured):
- Time law (d = 10, r' = 5, eta = 0.02, m = 10^6, 64 replicates, alpha = 1e-4, 1e-8, 1e-16): the largest
  |S_k log(1 + 2 eta lambda_k) - 1| over replicates and k is 0.0052, 0.0055, 0.0055 (the per-k means are within
  0.3% of 1): the O(RIP) error of the rates at m = 10^6. At m = 10^4 it is 0.06 in a trial run: the law holds
  exactly for the eigenvalues of the measured operator, for lambda_k only up to O(delta), which is why m = 10^6.
  The linearised gradient-flow constant 2 eta lambda_k (the near mutant: 6% off for k = 1, 2 eta lambda_1 = 0.12)
  stays 0.062 away; T_k proportional to 1 / lambda_k^2 (0.76) and every rank learned at the first time (2.86) are
  far.
- Plateaus (d = 10, r' = 10, m = 300, eta = 0.05, 32 replicates): the mean distance to X_k* (largest over k = 1, 2)
  falls 0.10, 0.032, 0.0071, 0.0010 at alpha = 1e-2, 1e-4, 1e-8, 1e-16; the largest over replicates at 1e-16 is
  0.024, from instances whose approach exponent is small (see the claim). The rank-k truncation of X* (close to
  X_k* under RIP) stays 0.11 away on average, the rank-(k+1) solution 0.46.
- Nuclear norm (d = 20, r' = 20, m = 170 < 210, eta = 0.08, 32 replicates): the largest distance of the end of
  training to the certified minimum-nuclear-norm solution is 0.0093, 0.0032, 1.5e-4, 2.0e-6 at alpha = 1e-2, 1e-4,
  1e-8, 1e-12; the minimum-Frobenius-norm solution stays 0.58 away, and 1.01 X* (a limit 1% off) 0.0099. The end of
  training is a fixed horizon, 1.3 log(1/alpha) / log(1 + 2 eta lambda_3) + 400 steps: over-parameterised GD
  converges sublinearly near X*, and what remains at that horizon is the slowly decaying part whose size shrinks
  with alpha (at alpha = 1e-8 and 128 replicates the largest distance was 0.0011, above the tolerance: hence the
  sweep to 1e-12).
- Under-parameterised (r' = 2, same instances as the plateaus): the end of training is X_2* to 1.2e-9 at every
  alpha; the rank-2 truncation of X* is 0.080 away and X* itself 0.23.
- Standard fidelity (256 / 128 / 128 replicates, the time sweep adding 1e-12): every claim consistent and every
  mutant violated; final distances 0.0055 (times, largest), 5.2e-4 (plateaus, mean), 1.25e-4 (nuclear norm, largest:
  the slow tail again, eight times inside the tolerance), 1.2e-9 (under-parameterised).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sympy as sp

from boundlab import Experiment, Limit, LimitClaim, Mutant, Paper, at, budgets, quantity, reconstructed
from simulations.incremental_matrix_sensing import measure_nuclear, measure_plateau_times, measure_plateaus

PAPER = Paper(
    key="incremental-matrix-sensing",
    title="Understanding Incremental Learning of Gradient Descent: A Fine-grained Analysis of Matrix Sensing",
    authors=("Jikai Jin", "Zhiyuan Li", "Kaifeng Lyu", "Simon S. Du", "Jason D. Lee"),
    venue="ICML",
    year=2023,
    arxiv="2301.11500",
)

alpha = quantity("alpha", r"\alpha")  # the sweep axis: the initialisation scale
_S = r"\max_k \left| S_k(\alpha)\, "
slope_err = quantity("slope_err", _S + r"\log(1 + 2\eta\lambda_k) - 1 \right|")
slope_err_linear = quantity("slope_err_linear", _S + r"2\eta\lambda_k - 1 \right|")
slope_err_square = quantity("slope_err_square", _S + r"\log(1 + 2\eta\lambda_1) \lambda_k^2 / \lambda_1^2 - 1 \right|")
slope_err_simultaneous = quantity("slope_err_simultaneous", _S + r"\log(1 + 2\eta\lambda_1) - 1 \right|")
_P = r"\max_{k<r} \| U U^\top(t_k^{\mathrm{mid}}) - "
plateau_err = quantity("plateau_err", _P + r"X_k^* \|_F / \|X_k^*\|_F")
plateau_err_next = quantity("plateau_err_next", _P + r"X_{k+1}^* \|_F / \|X_{k+1}^*\|_F")
plateau_err_truncation = quantity("plateau_err_truncation", _P + r"[X^*]_k \|_F / \|[X^*]_k\|_F")
_E = r"\| U U^\top(\infty) - "
nuclear_err = quantity("nuclear_err", _E + r"X_{\mathrm{nuc}} \|_F / \|X_{\mathrm{nuc}}\|_F")
frobenius_err = quantity("frobenius_err", _E + r"X_{\mathrm{Fro}} \|_F / \|X_{\mathrm{Fro}}\|_F")
nuclear_err_scaled = quantity("nuclear_err_scaled", _E + r"1.01 X_{\mathrm{nuc}} \|_F / \|1.01 X_{\mathrm{nuc}}\|_F")
_U = r"\| U_{r'=2} U_{r'=2}^\top(\infty) - "
under_err = quantity("under_err", _U + r"X_2^* \|_F / \|X_2^*\|_F")
under_err_truncation = quantity("under_err_truncation", _U + r"[X^*]_2 \|_F / \|[X^*]_2\|_F")
under_err_truth = quantity("under_err_truth", _U + r"X^* \|_F / \|X^*\|_F")

_SPECTRUM = {"r": 3, "lam_top": 3.0, "ratio": 0.5}  # lambda = (3, 1.5, 0.75)
SMALLEST = 1e-16
NUCLEAR_SMALLEST = 1e-12

PLATEAU_TIMES = Experiment(
    "plateau-times",
    "Rank-3 X* (lambda = 3, 1.5, 0.75) in d = 10, Gram operator of m = 10^6 symmetrised Gaussian measurements "
    "(drawn exactly as Wishart / m), GD on U (d x 5) from alpha Ubar and from sqrt(alpha) Ubar in one batch; the "
    "plateau times' slope in log(1/alpha) against each law. The same instance at every alpha.",
    budgets(
        {"alpha": [1e-4, 1e-8, SMALLEST], "eta": 0.02, "d": 10, "m": 10**6, "width": 5, **_SPECTRUM},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=256, alpha=[1e-4, 1e-8, 1e-12, SMALLEST]),
        full=at(replicates=1024, alpha=[1e-4, 1e-6, 1e-8, 1e-12, SMALLEST]),
    ),
    measure=measure_plateau_times,
    outputs=("slope_err", "slope_err_linear", "slope_err_square", "slope_err_simultaneous",
             "slope_ratio_1", "slope_ratio_2", "slope_ratio_3"),
    common_random_numbers=True,  # replicate r is the same (X*, H, Ubar) at every alpha
)

PLATEAUS = Experiment(
    "plateaus-and-under-parameterised",
    "Rank-3 X* in d = 10, m = 300 symmetrised Gaussian measurements; GD on U (d x d) recorded along the run and "
    "snapshotted in the middle of plateaus 1 and 2, against the best rank-k solutions (batched GD to a gradient "
    "norm of 1e-11 from the rank-k truncation); GD on U (d x 2) to the end against X_2*. Same instance at every "
    "alpha.",
    budgets(
        {"alpha": [1e-2, 1e-4, 1e-8, SMALLEST], "eta": 0.05, "d": 10, "m": 300, "width": 10, **_SPECTRUM},
        block=32,
        quick=at(replicates=32),
        standard=at(replicates=128),
        full=at(replicates=512, alpha=[1e-2, 1e-4, 1e-6, 1e-8, 1e-12, SMALLEST]),
    ),
    measure=measure_plateaus,
    outputs=("plateau_err", "plateau_err_next", "plateau_err_truncation", "under_err", "under_err_truncation",
             "under_err_truth"),
    common_random_numbers=True,
)

NUCLEAR = Experiment(
    "end-of-training-under-determined",
    "Rank-3 X* in d = 20, m = 170 < d(d+1)/2 = 210 symmetrised Gaussian measurements, instances conditioned on "
    "X* being the certified unique minimum-nuclear-norm PSD solution; GD on U (d x d) to the end, against that "
    "solution and the minimum-Frobenius-norm one. Same instance at every alpha.",
    budgets(
        {"alpha": [1e-2, 1e-4, 1e-8, NUCLEAR_SMALLEST], "eta": 0.08, "d": 20, "m": 170, "width": 20, **_SPECTRUM},
        block=32,
        quick=at(replicates=32),
        standard=at(replicates=128),
        full=at(replicates=512, alpha=[1e-2, 1e-4, 1e-6, 1e-8, 1e-10, NUCLEAR_SMALLEST]),
    ),
    measure=measure_nuclear,
    outputs=("nuclear_err", "frobenius_err", "nuclear_err_scaled", "final_grad_norm", "certificate"),
    common_random_numbers=True,
)


def _at_most(level: float) -> Callable[[Mapping[str, Any]], bool]:
    """The limit region: alpha at or below ``level``."""
    return lambda params: float(params["alpha"]) <= level


def _to_zero(distance: sp.Symbol) -> Limit:
    return Limit(distance, sp.Integer(0), alpha, sp.Integer(0))


SLOPES = _to_zero(slope_err)
PLATEAU_LIMIT = _to_zero(plateau_err)
NUCLEAR_LIMIT = _to_zero(nuclear_err)
UNDER_LIMIT = _to_zero(under_err)
_ASSUMPTIONS = ("X* PSD of rank 3 with distinct eigenvalues (3, 1.5, 0.75)",
                "symmetrised Gaussian measurements A_i = (G_i + G_i^T) / 2, noiseless y_i = <A_i, X*>",
                "loss 1/(2m) sum_i (<A_i, U U^T> - y_i)^2, U_0 = alpha Ubar")

CLAIMS = [
    LimitClaim(
        "plateau-times-log-one-over-alpha",
        PAPER,
        SLOPES,
        PLATEAU_TIMES,
        reconstructed("Abstract ('GD sequentially learns solutions with increasing ranks'); the time scale was "
                      "derived from the linearised dynamics U_{t+1} = (I + 2 eta M) U_t of the 1/(2m) loss: "
                      "T_k(alpha) = log(1/alpha) / log(1 + 2 eta lambda_k) + O(1), checked as the slope of T_k in "
                      "log(1/alpha); the paper's own time scale could not be read."),
        description="The step at which the k-th eigenvalue is learned grows by 1 / log(1 + 2 eta lambda_k) steps "
        "per unit of log(1/alpha), for every k, within 1% on every replicate (measured 0.5%, the rates' RIP error at "
        "m = 10^6), and the error does not grow as alpha falls to 1e-16.",
        tol=0.01,
        statistic="max",
        final=_at_most(SMALLEST),
        assumptions=(*_ASSUMPTIONS, "m = 10^6 (RIP constant ~ 1e-2)", "alpha >= 1e-16 (float64)"),
        mutants=(
            Mutant("linearised-gradient-flow-constant", _to_zero(slope_err_linear),
                   "The gradient-flow time scale T_k = log(1/alpha) / (2 eta lambda_k): 6% off the discrete "
                   "constant at 2 eta lambda_1 = 0.12, 3% at lambda_2, 1.5% at lambda_3 (the near mutant)."),
            Mutant("times-inverse-square-eigenvalue", _to_zero(slope_err_square),
                   "T_k proportional to 1 / lambda_k^2 (matched at k = 1)."),
            Mutant("all-ranks-learned-at-once", _to_zero(slope_err_simultaneous),
                   "No incremental learning: every eigenvalue learned at the first plateau time, T_k = T_1."),
        ),
    ),
    LimitClaim(
        "plateaus-are-best-rank-k-solutions",
        PAPER,
        PLATEAU_LIMIT,
        PLATEAUS,
        reconstructed("Abstract: 'GD sequentially learns solutions with increasing ranks until it recovers the "
                      "ground truth matrix'; the rank-k solution taken to be the best rank-k PSD solution of the "
                      "empirical loss (the greedy low-rank learning picture), located in the middle of the k-th "
                      "plateau; the paper's exact statement could not be read."),
        description="In the middle of the k-th plateau (k = 1, 2), U U^T comes within 1% (relative Frobenius, mean "
        "over instances, one-sided interval) of the best rank-k solution X_k* by alpha = 1e-16, and the distance "
        "falls along the sweep. The mean, not the largest distance: the approach is a power of alpha whose exponent "
        "varies from instance to instance (down to about 0.1, e.g. 0.13, 0.051, 0.021, 0.0083 at alpha = 1e-4, 1e-8, "
        "1e-12, 1e-16 on the slowest of 64), so the largest over replicates at alpha = 1e-16 is set by the slowest "
        "instance drawn, not by the limit.",
        tol=0.01,
        statistic="mean",
        final=_at_most(SMALLEST),
        assumptions=(*_ASSUMPTIONS, "m = 300 > d(d+1)/2 = 55", "over-parameterised: r' = d = 10"),
        mutants=(
            Mutant("plateau-is-rank-k-truncation", _to_zero(plateau_err_truncation),
                   "The k-th plateau at the rank-k truncation [X*]_k of the ground truth instead of the best rank-k "
                   "fit to the measurements (under RIP the two differ by O(delta): at least 0.077 here, the near "
                   "mutant)."),
            Mutant("plateau-is-rank-k-plus-one", _to_zero(plateau_err_next),
                   "The k-th plateau at the rank-(k+1) solution (one rank ahead)."),
        ),
    ),
    LimitClaim(
        "over-parameterised-limit-min-nuclear-norm",
        PAPER,
        NUCLEAR_LIMIT,
        NUCLEAR,
        reconstructed("Abstract: 'until it recovers the ground truth matrix' (over-parameterised regime), in the "
                      "form of the minimum-nuclear-norm conjecture (Gunasekar et al. 2017), on instances where "
                      "that solution is the ground truth (certified); the paper's statement could not be read."),
        description="With fewer measurements than unknowns (m = 170 < 210), the end of training comes within 1e-3 "
        "(relative Frobenius) of the minimum-nuclear-norm PSD solution on every replicate by alpha = 1e-8 "
        "(measured 8.4e-5), and not of the least-squares (minimum-Frobenius-norm) solution.",
        tol=1e-3,
        statistic="max",
        final=_at_most(NUCLEAR_SMALLEST),
        assumptions=(*_ASSUMPTIONS, "m = 170 < d(d+1)/2 = 210, d = 20", "over-parameterised: r' = d",
                     "X* certified the unique minimum-nuclear-norm PSD solution (dual certificate < 1)"),
        mutants=(
            Mutant("limit-is-min-frobenius-norm", _to_zero(frobenius_err),
                   "The limit is the minimum-Frobenius-norm (least-squares, pseudo-inverse) solution of "
                   "A(X) = y, the implicit bias of GD on X itself."),
            Mutant("limit-off-by-one-percent", _to_zero(nuclear_err_scaled),
                   "The limit 1.01 X_nuc (a scale 1% off): ten tolerances from the truth, the near mutant."),
        ),
    ),
    LimitClaim(
        "under-parameterised-limit-best-rank-2",
        PAPER,
        UNDER_LIMIT,
        PLATEAUS,
        reconstructed("Abstract: 'our analysis of the incremental learning procedure also applies to the "
                      "under-parameterized regime'; encoded as: with r' = 2 < r = 3, GD ends at the best rank-2 "
                      "solution X_2*; the paper's statement could not be read."),
        description="With only two columns, the end of training is the best rank-2 solution X_2* to within 1e-6 "
        "(relative Frobenius; both are GD solves to a gradient norm of about 1e-11, measured 5e-12 apart) at every "
        "alpha.",
        tol=1e-6,
        statistic="max",
        final=_at_most(SMALLEST),
        assumptions=(*_ASSUMPTIONS, "m = 300", "under-parameterised: r' = 2 < r = 3"),
        mutants=(
            Mutant("under-limit-is-rank-2-truncation", _to_zero(under_err_truncation),
                   "The limit is the rank-2 truncation [X*]_2 of the ground truth (at least 0.045 away here)."),
            Mutant("under-limit-is-ground-truth", _to_zero(under_err_truth),
                   "The limit is X* itself, which rank 2 cannot represent."),
        ),
    ),
]
