"""Regression tests of the defects found by an independent check of solvers.sparse_ot (each failed before its fix).

1. zero-mass rows / columns (a NaN value and plan for b_j = 0);
2. marginals off by 1e-9, accepted by the validation, left the semi-dual unbounded (plan unpolished);
3. float32 marginals and float32 / 0-d array gamma were rejected with misleading messages;
4. at k = 1 the polished plan was up to 1e-2 above the LP optimum although the k = 1 refinement computes it;
5. gamma below the float64 resolution of the costs gave 0 iterations, flagged only by converged = False;
6. on Dirichlet marginals with k = 5 the greedy polish ended in dead ends although 5-sparse plans exist.

References are independent of the package: scipy.optimize.linprog (HiGHS) for the k = 1 LP, and direct NumPy sums
for the marginals and the column supports.
"""

from __future__ import annotations

import math
import warnings

import array_api_strict as xps
import numpy as np
import pytest
from scipy.optimize import linprog

from simulations.sparsity_constrained_ot import instance, instances
from solvers import sparse_ot as so

SOLVERS = [so.solve_semi_dual, so.solve_dual]


def _marginal_gap(T: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """||T1 - a||_1 + ||T^T 1 - b||_1 computed here, independently of the package."""
    return np.abs(T.sum(-1) - a).sum(-1) + np.abs(T.sum(-2) - b).sum(-1)


# ------------------------------------------------------------------ 1. zero-mass rows and columns
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k", [1, 2, 6])
def test_zero_mass_rows_and_columns_are_dropped_and_restored(solver, k):
    a, b, C = instance(6, 5, 0, "dirichlet")
    a, b = a.copy(), b.copy()
    a[1], b[2] = 0.0, 0.0
    a, b = a / a.sum(), b / b.sum()
    keep_r, keep_c = a > 0, b > 0
    a_ok, b_ok, C_ok = instance(6, 5, 3, "uniform")
    A, Bm, Cb = np.stack([a, a_ok]), np.stack([b, b_ok]), np.stack([C, C_ok])
    r = solver(A, Bm, Cb, 0.5, k)
    ref = solver(a[keep_r], b[keep_c], C[keep_r][:, keep_c], 0.5, min(k, int(keep_r.sum())))
    alone = solver(a_ok, b_ok, C_ok, 0.5, k)
    assert np.all(np.isfinite(r.value)) and np.all(np.isfinite(r.plan)) and np.all(np.isfinite(r.alpha))
    # the plan is zero on the zero-mass row and column, and the reduced problem's plan elsewhere
    assert np.all(r.plan[0][~keep_r] == 0) and np.all(r.plan[0][:, ~keep_c] == 0)
    # same computation on the same reduced data: equal up to round-off (1e-12)
    assert abs(float(r.value[0]) - float(ref.value[0])) <= 1e-12
    np.testing.assert_allclose(r.plan[0][keep_r][:, keep_c], ref.plan[0], atol=1e-12)
    assert bool(r.polished[0]) == bool(ref.polished[0])
    # the restored alpha gives the same semi-dual value with the zero-mass row kept (it never enters a column;
    # the semi-dual itself divides by b_j, so the zero column is left out of this evaluation)
    S, _ = so.semi_dual_value_grad(r.alpha[:1], A[:1], Bm[:1][:, keep_c], Cb[:1][:, :, keep_c], 0.5, k)
    assert abs(float(S[0]) - float(r.value[0])) <= 1e-12
    if r.beta is not None:
        D, _, _ = so.dual_value_grad(r.alpha[:1], r.beta[:1], A[:1], Bm[:1], Cb[:1], 0.5, k)
        assert abs(float(D[0]) - float(r.value[0])) <= 1e-12
    # the instance without zeros is unaffected by its neighbour
    assert float(r.value[1]) == float(alone.value[0])
    assert np.array_equal(r.plan[1], alone.plan[0])


# ------------------------------------------------------------------ 2. renormalisation after validation
@pytest.mark.parametrize("rel", [1e-9, -5e-9, 9e-9])
def test_marginals_off_by_1e_9_are_renormalised(rel):
    a, b, C = instances(np.random.default_rng(1), 8, 20, 20, "uniform")
    b_off = b * (1.0 + rel)  # accepted by the validation (tolerance 1e-8)
    r = so.solve_semi_dual(a, b_off, C, 0.1, 3)
    b_n = b_off / b_off.sum(-1, keepdims=True)
    ref = so.solve_semi_dual(a, b_n, C, 0.1, 3)
    assert np.all(r.polished)
    assert np.all(_marginal_gap(r.plan, a, b_n) <= 1e-9)
    np.testing.assert_allclose(r.value, ref.value, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ 3. dtypes
def test_float32_marginals_and_scalar_gamma_types_accepted():
    a, b, C = instance(8, 7, 2, "dirichlet")
    a32, b32, C32 = (v.astype(np.float32) for v in (a, b, C))
    r32 = so.solve_semi_dual(a32, b32, C32, 0.5, 2)
    a64, b64 = (v.astype(np.float64) for v in (a32, b32))
    ref = so.solve_semi_dual(a64 / a64.sum(), b64 / b64.sum(), C32.astype(np.float64), 0.5, 2)
    assert r32.value.dtype == np.float64 and r32.plan.dtype == np.float64  # computed in float64
    assert abs(float(r32.value[0]) - float(ref.value[0])) <= 1e-12
    base = so.solve_semi_dual(a, b, C, 0.5, 2)
    for g in (np.float32(0.5), np.float64(0.5), np.array(0.5), np.array(0.5, dtype=np.float32), 1 / 2,
              xps.asarray(0.5)):
        r = so.solve_dual(a, b, C, g, 2) if isinstance(g, np.ndarray) else so.solve_semi_dual(a, b, C, g, 2)
        ref_g = so.solve_dual(a, b, C, 0.5, 2) if isinstance(g, np.ndarray) else base
        assert float(r.value[0]) == float(ref_g.value[0])


def test_marginal_tolerance_is_relative_to_the_dtype():
    a, b, C = instance(8, 7, 2, "dirichlet")
    bad = b.copy()
    bad[0] += 1e-3
    with pytest.raises(ValueError, match=r"b must sum to one.*float32"):
        so.solve_semi_dual(a.astype(np.float32), bad.astype(np.float32), C, 0.5, 2)
    bad = b.copy()
    bad[0] += 1e-7  # float64: the tolerance stays 1e-8
    with pytest.raises(ValueError, match=r"b must sum to one.*float64"):
        so.solve_semi_dual(a, bad, C, 0.5, 2)


@pytest.mark.parametrize("gamma", [0.0, -1.0, math.nan, math.inf, -math.inf, np.float32("nan"), np.array([0.5]),
                                   "0.5", True, 1 + 0j, None])
def test_bad_gamma_rejected_naming_gamma(gamma):
    a, b, C = instance(4, 3, 0)
    for solver in SOLVERS:
        with pytest.raises(ValueError, match=r"^gamma must be a finite real number > 0"):
            solver(a, b, C, gamma, 2)


# ------------------------------------------------------------------ 4. k = 1: the optimal LP plan
def _lp_k1(a: np.ndarray, b: np.ndarray, C: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    """The k = 1 problem of the package is the LP  min_{T in U(a,b)} <T, C> + (gamma/2)||b||^2  (its semi-dual is
    S_1: max_{1, gamma b_j} = max_i (alpha_i - c_ij) - gamma b_j / 2).  Solved by HiGHS (scipy.optimize.linprog)."""
    m, n = C.shape
    A_eq = np.vstack([np.kron(np.eye(m), np.ones(n)), np.kron(np.ones(m), np.eye(n))])
    res = linprog(C.ravel(), A_eq=A_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    assert res.status == 0
    return float(res.fun) + gamma / 2 * float(b @ b), res.x.reshape(m, n)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("m,n,gamma", [(10, 10, 0.5), (20, 20, 0.5), (5, 10, 2.0), (4, 12, 2.0), (10, 10, 2.0)])
def test_k1_plan_is_the_optimal_lp_plan(solver, m, n, gamma):
    # uniform marginals with m | n: the LP vertices are integral, so the LP optimum is 1-sparse per column and it
    # is also the optimal k = 1 plan (P_1 = S_1); before the fix the polish returned a permutation-like plan up to
    # 1.2e-2 (gamma = 2) above it
    a, b, C = instances(np.random.default_rng(0), 4, m, n, "uniform")
    r = solver(a, b, C, gamma, 1)
    assert np.all(r.polished)
    for i in range(4):
        lp_val, lp_plan = _lp_k1(a[i], b[i], C[i], gamma)
        pv = float(np.sum(r.plan[i] * C[i]) + gamma / 2 * np.sum(r.plan[i] ** 2))
        assert abs(pv - lp_val) <= 1e-12, pv - lp_val  # HiGHS vertex: exact up to round-off
        assert abs(float(r.value[i]) - lp_val) <= 1e-12
        assert np.abs(r.plan[i] - lp_plan).sum() <= 1e-9  # the LP optimum is unique for generic costs
        assert np.count_nonzero(r.plan[i], axis=0).max() <= 1
        assert _marginal_gap(r.plan[i], a[i], b[i]) <= 1e-12


@pytest.mark.parametrize("solver", SOLVERS)
def test_k1_lp_plan_on_dirichlet_marginals(solver):
    # Dirichlet marginals: the LP optimum splits columns (no 1-sparse plan attains it); it is returned as lp_plan
    a, b, C = instances(np.random.default_rng(5), 4, 12, 9, "dirichlet")
    r = solver(a, b, C, 0.3, 1)
    assert r.lp_plan is not None
    for i in range(4):
        lp_val, lp_plan = _lp_k1(a[i], b[i], C[i], 0.3)
        T = r.lp_plan[i]
        assert _marginal_gap(T, a[i], b[i]) <= 1e-9
        assert abs(float(np.sum(T * C[i])) + 0.15 * float(b[i] @ b[i]) - lp_val) <= 1e-10
        assert np.abs(T - lp_plan).sum() <= 1e-8
    assert so.solve_semi_dual(a, b, C, 0.3, 2).lp_plan is None


# ------------------------------------------------------------------ 5. ill-conditioned gamma
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("gamma", [1e-15, 1e-16, 1e-300])
def test_gamma_below_float64_resolution_rejected(solver, gamma):
    a, b, C = instance(10, 10, 0)
    with pytest.raises(ValueError, match=r"gamma .*resolution"):
        solver(a, b, C, gamma, 3)
    # the rule scales with the costs (potentials of size max|C|): a gamma fine on C is rejected on 1e12 C
    assert np.all(solver(a, b, C, 1e-3, 3).iterations > 0)
    with pytest.raises(ValueError, match=r"gamma .*resolution"):
        solver(a, b, C * 1e12, 1e-3, 3)


def test_gamma_just_above_the_rule_still_iterates():
    a, b, C = instances(np.random.default_rng(3), 3, 20, 20, "uniform")
    eps = np.finfo(np.float64).eps
    gamma = 2 * 256 * eps * 20 * 5  # twice the threshold of the rule gamma / (n k max(1, max|C|)) > 256 eps
    r = so.solve_semi_dual(a, b, C, gamma, 5, polish=False)
    assert np.all(r.iterations > 0)


# ------------------------------------------------------------------ 6. the polish on Dirichlet marginals, k = 5
DIRICHLET_K5 = [(20, 1), (30, 1), (20, 2), (30, 4), (40, 0), (50, 3)]


@pytest.mark.parametrize("m,seed", DIRICHLET_K5)
def test_polish_finds_feasible_5_sparse_plans_on_dirichlet(m, seed):
    a, b, C = instance(m, m, seed, "dirichlet")
    for gamma in (0.05, 0.5):
        r = so.solve_semi_dual(a, b, C, gamma, 5)
        T = r.plan[0]
        assert bool(r.polished[0])
        assert _marginal_gap(T, a, b) <= 1e-9
        assert np.count_nonzero(T, axis=0).max() <= 5 and np.all(T >= 0)
        assert float(r.certified_gap[0]) >= -1e-9


def test_polish_failure_is_flagged_with_a_warning():
    # no 1-sparse plan exists: the row masses 1/2 are no subset sums of b = (0.3, 0.3, 0.4)
    a, b = np.array([0.5, 0.5]), np.array([0.3, 0.3, 0.4])
    C = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.3]])
    with pytest.warns(so.SparseOTPolishWarning, match="may not exist"):
        r = so.solve_semi_dual(a, b, C, 0.5, 1)
    assert not bool(r.polished[0]) and float(r.feasibility_gap[0]) > 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a polished batch warns nothing
        so.solve_semi_dual(*instance(6, 6, 0), 0.5, 2)


def test_zero_mass_and_staircase_paths_on_array_api_strict():
    # the drop-and-restore path and the polish fallback use array-API operations only: same results on
    # array-api-strict as on NumPy (sums in a different order: 1e-12)
    a, b, C = instance(6, 5, 0, "dirichlet")
    a, b = a.copy(), b.copy()
    a[1], b[2] = 0.0, 0.0
    a, b = a / a.sum(), b / b.sum()
    rn = so.solve_dual(a, b, C, 0.5, 2)
    rs = so.solve_dual(xps.asarray(a), xps.asarray(b), xps.asarray(C), 0.5, 2)
    np.testing.assert_allclose(np.asarray(rs.value), rn.value, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rs.plan), rn.plan, atol=1e-12)
    a, b, C = instance(20, 20, 1, "dirichlet")  # the greedy's dead end: polished by the staircase fallback
    rn = so.solve_semi_dual(a, b, C, 0.05, 5)
    rs = so.solve_semi_dual(xps.asarray(a), xps.asarray(b), xps.asarray(C), 0.05, 5)
    assert bool(rn.polished[0]) and bool(np.asarray(rs.polished)[0])
    assert _marginal_gap(np.asarray(rs.plan)[0], a, b) <= 1e-9


@pytest.mark.parametrize("m", [30, 40, 50])
def test_polish_dirichlet_k5_batches(m):
    # batches of 6 Dirichlet instances: before the fix the polish failed on 2, 1 and 1 of them (gamma = 0.05)
    a, b, C = instances(np.random.default_rng(100 + m), 6, m, m, "dirichlet")
    r = so.solve_semi_dual(a, b, C, 0.05, 5)
    assert np.all(r.polished)
    assert np.all(_marginal_gap(r.plan, a, b) <= 1e-9)
    assert np.count_nonzero(r.plan, axis=1).max() <= 5
    assert np.all(r.certified_gap >= -1e-9)
