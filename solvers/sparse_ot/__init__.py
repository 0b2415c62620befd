"""Batched solvers for sparsity-constrained optimal transport (Liu, Puigcerver, Blondel, ICLR 2023).

Conventions (the POT convention, ``ot.smooth.SparsityConstrained``):

* data: ``a`` in the simplex of R^m, ``b`` in the simplex of R^n, cost ``C`` in R^{m x n};
  ``Omega(t) = (gamma/2) ||t||^2``; at most ``k`` nonzeros per *column* of the plan.
* primal  ``P_k = min_{T in U(a,b), ||T[:,j]||_0 <= k} <T,C> + (gamma/2) ||T||_F^2`` (nonconvex);
* dual    ``D_k = max_{alpha,beta} a.alpha + b.beta - sum_j delta_k(alpha + beta_j - c_j)`` with
  ``delta_k(s) = (1/(2 gamma)) sum_{i<=k} [s]_{+,(i)}^2``;
* semi-dual ``S_k = max_alpha a.alpha - sum_j b_j max_{k, gamma b_j}(alpha - c_j)`` with
  ``max_{k,scale}(s) = max_{t in simplex, ||t||_0 <= k} s.t - (scale/2) ||t||^2``.
  Weak duality: ``D_k <= S_k <= P_k``.

Every function works on arrays of any namespace that follows the Python array API standard (NumPy,
array-api-strict, CuPy, ...), through ``array_api_compat.array_namespace``.  NumPy inputs take a fast path
for top-k selection (k + 1 ``argmax`` passes for k <= 4, ``np.argpartition`` above: O(m) per column instead
of a sort); it returns the same values.  Batched problems carry a leading batch axis: ``a`` (B, m), ``b`` (B, n),
``C`` (B, m, n).  Internally the cost is stored transposed, (B, n, m), so that every column operation runs along
the last axis.

Batching: every iterative stage works on the *active set* only.  Instances that stop are written back to the
full-batch outputs (boolean-mask assignment) and dropped from the working arrays (boolean-mask indexing), so a
line-search trial, a Newton step or a polish round costs only the instances that still need it.  Every
operation is row-wise, so an instance's iterates and results do not depend on the other instances of its batch
(bitwise, on NumPy).

Solvers (see :func:`solve_semi_dual`, :func:`solve_dual`):

1. *main dual method*: batched quasi-Newton method with a weak Wolfe line search on the (concave, nonsmooth
   for k < m) semi-dual or dual: full BFGS when the number of potentials is <= ``_FULL_BFGS_MAX_DIM`` (256),
   L-BFGS above (Lewis & Overton 2013: BFGS copes with kinks much better than L-BFGS).  Its iteration count per
   instance is the one reported.  Stopping metric, per instance:
   the l1 norm of the gradient (= marginal violation of the dual plan) <= ``gtol``, or the relative objective
   improvement of one iteration ``(f_t - f_{t-1}) / max(|f_t|, |f_{t-1}|) <= tol``, or a failed line search
   (the usual end on a kink), or ``max_iter``.
2. *k = 1 refinement*: the k = 1 semi-dual is piecewise linear (unregularised OT plus gamma/2 ||b||^2), where
   the quasi-Newton method stalls up to ~1e-3 below the optimum.  Quadratic regularisation is an exact
   regularisation of OT, so the optimum is recovered exactly by semismooth Newton on QROT(eps) for decreasing
   eps and a Bellman-Ford crossover to complementary-slackness potentials on the support of its plan, certified
   when the dual value there equals the primal value of that plan (:func:`_refine_k1`).
3. *primal polish*: for k < m the dual plans violate the row marginals (1e-2 typical), because the optimum sits
   on a kink where the plan is a mixture of k-sparse columns.  The polish picks a support pattern from the
   potentials (top-(k+2) candidates per column), solves the support-restricted quadratically regularised OT
   exactly by a semismooth Newton method on its (smooth) restricted semi-dual, and then greedily removes the
   smallest entry of every column that still has more than k nonzeros, re-solving after each batch of removals
   (halving the batch when a removal makes the restricted problem infeasible).  The result is an exactly
   feasible, k-sparse plan, hence ``primal_value >= P_k >= value``: ``primal_value - value`` certifies the
   gap.  When the greedy ends in a dead end (every over-full column stuck: Dirichlet marginals, k = 3..5), it is
   rerun from the top-(k+2) pattern joined with the support of the north-west-corner plan of the sorted marginals
   (feasible, <= 3 rows per column on the instances tried), whose entries are protected from removal, so every
   visited pattern is feasible (``polish._staircase_polish``); these plans are feasible but further from optimal
   (certified gap median 13 % of the value on 47 such instances, against 3e-5 for the plain greedy).  When no
   feasible pattern is found (or a restricted linear system is singular) the raw dual plan is returned,
   ``polished`` is False and a :class:`SparseOTPolishWarning` says that a k-sparse plan may not exist; the other
   instances of the batch are unaffected.  For k = 1 the optimal plan of the k = 1 LP from stage 2 is returned as
   ``lp_plan``, and as ``plan`` (without polishing) where it is 1-sparse per column, hence optimal for P_1.

Inputs (``validation._validate``): any real dtype (computed in float64, marginal tolerance max(1e-8, 16 n eps of
the dtype)); marginals renormalised when their sum is off by more than round-off; gamma a real scalar or 0-d array,
rejected when gamma / (n k max(1, max|C|)) <= 256 eps (below float64 resolution: the solver made 0 iterations).
Zero-mass rows and columns are dropped, solved, and restored (``api._reduced_solve``).

``value`` is always the dual objective evaluated at the returned potentials (a lower bound on P_k, up to
round-off in that evaluation): stages 2 and 3 propose candidate potentials, which are kept only where they
raise it.
"""

from ._arrays import Array
from ._arrays import _ns as _ns  # private; tests/test_sparse_ot.py uses it
from .api import SparseOTPolishWarning, SparseOTResult, best_beta, solve_dual, solve_semi_dual
from .objectives import (
    dual_plan,
    dual_value_grad,
    feasibility_gap,
    max_column_nnz,
    primal_value,
    semi_dual_plan,
    semi_dual_value_grad,
)
from .projections import delta_k, max_k, projection_simplex, projection_sparse_simplex
from .quasi_newton import STOP_GRADIENT, STOP_LINESEARCH, STOP_MAX_ITER, STOP_STALL, STOPPING_METRIC
from .restricted_qrot import _solve_batched as _solve_batched  # private; tests/test_sparse_ot.py uses it

__all__ = [
    "Array",
    "STOPPING_METRIC",
    "STOP_GRADIENT",
    "STOP_LINESEARCH",
    "STOP_MAX_ITER",
    "STOP_STALL",
    "SparseOTPolishWarning",
    "SparseOTResult",
    "best_beta",
    "delta_k",
    "dual_plan",
    "dual_value_grad",
    "feasibility_gap",
    "max_column_nnz",
    "max_k",
    "primal_value",
    "projection_simplex",
    "projection_sparse_simplex",
    "semi_dual_plan",
    "semi_dual_value_grad",
    "solve_dual",
    "solve_semi_dual",
]
