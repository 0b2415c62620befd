r"""Evron, Moroshko, Buzaglo, Khriesh, Marjieh, Srebro, Soudry. *Continual Learning in Linear Classification on
Separable Data.* ICML 2023, arXiv:2306.03534.

The result checked: weakly regularised continual learning of a linear classifier reduces to sequential max-margin
(SMM) projections. For a sequence of jointly separable tasks S_1, ..., S_T (rows a_i = y_i x_i), w_0 = 0,

    w_t(lam) = argmin_w sum_{i in S_t} log(1 + exp(-y_i x_i^T w)) + (lam / 2) ||w - w_{t-1}(lam)||^2,
    w_t^SMM  = argmin_w ||w - w_{t-1}^SMM||^2   s.t.  y_i x_i^T w >= 1 for all i in S_t,

and the claim is lim_{lam -> 0} w_t(lam) / ln(1/lam) = w_t^SMM for every t, measured as the largest relative
distance over the tasks, max_t ||w_t(lam) / ln(1/lam) - w_t^SMM|| / ||w_t^SMM||, on every replicate.

Provenance. Reconstructed. The paper's full text could not be read here: the stored copies (ar5iv 2306.03534 and
abstract pages) give the abstract ("learning with weak regularization reduces to solving a sequential max-margin
problem, corresponding to a special case of the Projection Onto Convex Sets (POCS) framework") and the caption of
Figure 1 (each sample induces the halfspace y w^T x >= 1, a task's feasible set is their intersection, and the SMM
dynamics are the paper's "Scheme 2" in Section 3). The regularised scheme (logistic loss, an L2 pull towards the
previous iterate with the same lam at every task), the normaliser ln(1/lam) and the form of the limit were
inferred from that and from the single-task theory of the regularisation path (Rosset, Zhu, Hastie 2004), whose
exponential tail forces margins ln(1/lam) + O(ln ln(1/lam)) on the support vectors; the theorem's number, its
exact assumptions (e.g. "almost all datasets") and the forgetting bounds of the later sections are not encoded.

Setting (quick): T = 3 tasks of 10 Gaussian samples in d = 5, labelled by a random teacher and pushed to teacher
margin >= 0.2 (so the tasks are jointly separable), 64 task sequences, lam = 1e-2 ... 1e-128 (ln(1/lam) = 4.6 ...
295). The regularised problems are solved by a batched Newton method on the objective rescaled by
lam ln(1/lam)^2 in the variable w / ln(1/lam), with the loss in log space (``simulations/continual_max_margin.py``);
the SMM projections by a batched interior-point method (``solvers/polyhedral_projection.py``). Both are tested
against cvxpy (CLARABEL) and scipy.

What the measurements show (engine seeds; measured). The largest relative distance to the SMM projections, over
64 sequences (quick), falls steadily with L = ln(1/lam): 0.43, 0.32, 0.21, 0.13, 0.074, 0.043, 0.024 at
lam = 1e-2, 1e-4, ..., 1e-128 (L = 4.6 ... 295), a little less than halving per doubling of L; L times the distance
grows like ln L (4.7, 5.5, 6.3, 7.1 for L = 37 ... 295), so the approach is of order ln ln(1/lam) / ln(1/lam):
slow, hence the sweep out to lam = 1e-128 and the tolerance of 0.05 at its end. Standard (256 sequences, the
sweep extended to lam = 1e-256, L = 589): 0.026 at 1e-128 and 0.014 at 1e-256. Every wrong limit object stays
away at the end of the quick sweep: each task's own max-margin solution (the past forgotten: 1.78, and growing
with L), the offline max-margin of the tasks so far (0.62), projections onto the intersection of all tasks so far
(a learner that never forgets: 0.61), single-sample POCS (1.61), and the sequential projections with margin 1.1
(0.11, about two tolerances: the near mutant).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from boundlab import Experiment, Limit, LimitClaim, Mutant, Paper, at, budgets, quantity, reconstructed
from simulations.continual_max_margin import measure_limit

PAPER = Paper(
    key="continual-max-margin",
    title="Continual Learning in Linear Classification on Separable Data",
    authors=("Itay Evron", "Edward Moroshko", "Gon Buzaglo", "Maroun Khriesh", "Badea Marjieh", "Nathan Srebro",
             "Daniel Soudry"),
    venue="ICML",
    year=2023,
    arxiv="2306.03534",
)

lam = quantity("lam", r"\lambda")  # the sweep axis (regularisation strength), typeset as lambda
_W = r"\max_t \left\| \frac{w_t(\lambda)}{\ln(1/\lambda)} - "
dist_smm = quantity("dist_smm", _W + r"w_t^{\mathrm{SMM}} \right\| / \|w_t^{\mathrm{SMM}}\|")
dist_forget = quantity("dist_forget", _W + r"w_t^{\mathrm{MM}(S_t)} \right\| / \|w_t^{\mathrm{MM}(S_t)}\|")
dist_joint = quantity("dist_joint", _W + r"w^{\mathrm{MM}(S_1 \cup \dots \cup S_t)} \right\| / \|\cdot\|")
dist_remember = quantity("dist_remember", _W + r"h_t \right\| / \|h_t\|")
dist_samplewise = quantity("dist_samplewise", _W + r"k_t \right\| / \|k_t\|")
dist_margin = quantity("dist_margin_1p1", _W + r"1.1\, w_t^{\mathrm{SMM}} \right\| / \|1.1\, w_t^{\mathrm{SMM}}\|")

FINAL_LAM = 1e-128  # the end of the sweep at every fidelity (standard adds 1e-256 beyond it)

WEAK_REGULARISATION = Experiment(
    "weak-regularisation-sweep",
    "Sequences of T jointly separable tasks (n_t Gaussian samples each in d dimensions, teacher margin >= gamma); "
    "sequential L2-regularised logistic regression solved exactly (batched Newton) at each lam, against the "
    "sequential max-margin projections and the wrong limit objects (batched interior point). The same task "
    "sequences at every lam.",
    budgets(
        {"lam": [1e-2, 1e-4, 1e-8, 1e-16, 1e-32, 1e-64, FINAL_LAM], "T": 3, "n_t": 10, "d": 5, "gamma": 0.2},
        block=64,
        quick=at(replicates=64),
        standard=at(replicates=256, lam=[1e-2, 1e-4, 1e-8, 1e-16, 1e-32, 1e-64, FINAL_LAM, 1e-256]),
        full=at(replicates=1024, lam=[1e-2, 1e-4, 1e-8, 1e-16, 1e-32, 1e-64, FINAL_LAM, 1e-256], d=[5, 10],
                T=[3, 5]),
    ),
    measure=measure_limit,
    outputs=("dist_smm", "dist_forget", "dist_joint", "dist_remember", "dist_samplewise", "dist_margin_1p1"),
    common_random_numbers=True,  # replicate r is the same task sequence at every lam
)


def _final(params: Mapping[str, Any]) -> bool:
    """The limit region: lam at or below the end of the quick sweep."""
    return float(params["lam"]) <= FINAL_LAM


def _limit(distance: sp.Symbol) -> Limit:
    return Limit(distance, sp.Integer(0), lam, sp.Integer(0))


SMM_LIMIT = _limit(dist_smm)

CLAIMS = [
    LimitClaim(
        "weak-regularisation-is-sequential-max-margin",
        PAPER,
        SMM_LIMIT,
        WEAK_REGULARISATION,
        reconstructed("Section 3 (abstract: 'learning with weak regularization reduces to solving a sequential "
                      "max-margin problem'): lim_{lam -> 0} w_t(lam) / ln(1/lam) = w_t^SMM, the projection of "
                      "w_{t-1}^SMM onto {w : y_i x_i^T w >= 1, i in S_t}; the regularised scheme (logistic loss, "
                      "pull lam/2 ||w - w_{t-1}(lam)||^2) and the normaliser ln(1/lam) were inferred, as the full "
                      "text could not be read."),
        description="On every task sequence, the regularised iterates divided by ln(1/lam) come within 5% (relative, "
        "largest over tasks) of the sequential max-margin projections by lam = 1e-128, and the distance does not grow "
        "along the sweep. Tolerance 0.05: the approach is only of order ln ln(1/lam) / ln(1/lam) (measured 0.024 at "
        "the end of the quick sweep, 0.026 over 256 sequences), so nothing much finer can be asked at L = 295.",
        tol=0.05,
        statistic="max",
        final=_final,
        assumptions=("tasks jointly separable (teacher margin >= gamma)", "w_0 = 0", "the same lam at every task"),
        mutants=(
            Mutant("limit-forgets-the-past", _limit(dist_forget),
                   "Each task's own max-margin solution (the projection of 0 onto W_t): the limit that forgets "
                   "the earlier tasks."),
            Mutant("limit-is-offline-max-margin", _limit(dist_joint),
                   "The offline max-margin solution of tasks 1 .. t together."),
            Mutant("limit-never-forgets", _limit(dist_remember),
                   "Projections of the previous iterate onto the intersection of every task seen so far: a "
                   "learner with no forgetting."),
            Mutant("limit-is-samplewise-pocs", _limit(dist_samplewise),
                   "POCS over single samples (one pass of halfspace projections per task) instead of over tasks."),
            Mutant("limit-has-margin-1p1", _limit(dist_margin),
                   "The sequential projections with margin 1.1, i.e. 1.1 w_t^SMM (a normaliser off by 10%): about "
                   "two tolerances from the truth at the end of the sweep, the near mutant."),
        ),
    ),
]
