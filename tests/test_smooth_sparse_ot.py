"""solvers.smooth_ot against independent references: cvxpy (CLARABEL) for the regularised primal, POT's
``ot.smooth`` objectives and solvers and its log-domain Sinkhorn, a slow per-instance loop; bad inputs;
array-api-strict."""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import ot
import pytest

from simulations.smooth_sparse_ot import (
    SINKHORN_GAP,
    entropic_sinkhorn,
    evaluate_smoothness,
    potential_space,
    primal_cvxpy,
    random_instances,
)
from solvers import smooth_ot as so

REGS = ("l2", "kl")


def _instances(seed: int, count: int, m: int, n: int):
    return random_instances(np.random.default_rng(seed), count, m, n)


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("m,n", [(3, 4), (6, 5)])
def test_values_and_plans_match_cvxpy(reg: str, m: int, n: int) -> None:
    a, b, C = _instances(1, 4, m, n)
    for gamma in (0.05, 0.5):
        r = so.solve(a, b, C, gamma, reg)
        assert bool(np.all(r.converged))
        for i in range(4):
            value, plan = primal_cvxpy(a[i], b[i], C[i], gamma, reg)
            # CLARABEL at 1e-12 (l2) / 1e-10 (kl); our marginal gap <= 1e-9
            assert abs(float(r.semi_dual_value[i]) - value) <= 1e-8
            assert abs(float(r.dual_value[i]) - value) <= 1e-8
            assert np.abs(r.plan[i] - plan).sum() <= (1e-7 if reg == "l2" else 2e-5)


@pytest.mark.parametrize("gamma", [0.05, 0.5])
def test_l2_full_dual_newton_matches_cvxpy_at_n40(gamma: float) -> None:
    """The full-dual semismooth Newton (l2) on 3 instances of 40 x 35, costs of scale 1 and random scale."""
    a, b, C = _instances(11, 3, 40, 35)
    C[0] = C[0] / C[0].max()  # one instance at full cost scale: sparse plans, many support changes
    r = so.solve(a, b, C, gamma, "l2")
    assert bool(np.all(r.converged)) and float(np.max(r.marginal_gap)) <= 1e-9
    for i in range(3):
        value, plan = primal_cvxpy(a[i], b[i], C[i], gamma, "l2")
        # CLARABEL at 1e-12 and our marginal gap <= 1e-9: values to 1e-9, plans to 1e-7 in l1
        assert abs(float(r.dual_value[i]) - value) <= 1e-9
        assert abs(float(r.semi_dual_value[i]) - value) <= 1e-9
        assert float(r.semi_dual_value[i]) >= float(r.dual_value[i]) - 1e-12  # S(alpha) = max_beta D(alpha, beta)
        assert np.abs(r.plan[i] - plan).sum() <= 1e-7
        np.testing.assert_allclose(float(r.primal_value[i]), value, rtol=0, atol=1e-8)


@pytest.mark.parametrize("method", so.METHODS)
@pytest.mark.parametrize("m,n", [(4, 3), (5, 4)])
def test_entropic_sinkhorn_reference_against_cvxpy_and_ours(m: int, n: int, method: str) -> None:
    """The duality claims' entropic reference (POT's log-domain Sinkhorn) against cvxpy's exponential cone (where
    CLARABEL reports 'optimal') and against our solver, by either method."""
    a, b, C = _instances(12, 6, m, n)
    for gamma in (0.05, 0.5):
        r = so.solve(a, b, C, gamma, "kl", method=method)
        for i in range(6):
            value, plan = entropic_sinkhorn(a[i], b[i], C[i], gamma)
            assert np.abs(plan.sum(1) - a[i]).sum() + np.abs(plan.sum(0) - b[i]).sum() <= SINKHORN_GAP
            assert abs(float(r.dual_value[i]) - value) <= 1e-10
            assert np.abs(r.plan[i] - plan).sum() <= 1e-7
            try:
                cv_value, cv_plan = primal_cvxpy(a[i], b[i], C[i], gamma, "kl")
            except RuntimeError:  # 'optimal_inaccurate': not a reference
                continue
            assert abs(cv_value - value) <= 1e-9  # CLARABEL's exponential cone at 1e-10
            assert np.abs(cv_plan - plan).sum() <= 2e-5  # its plans: a few 1e-6 in l1


@pytest.mark.parametrize("reg", REGS)
def test_objectives_match_pot(reg: str) -> None:
    a, b, C = _instances(2, 3, 5, 6)
    rng = np.random.default_rng(3)
    gamma = 0.2
    regul = ot.smooth.SquaredL2(gamma=gamma) if reg == "l2" else ot.smooth.NegEntropy(gamma=gamma)
    alpha, beta = rng.normal(size=(3, 5)), rng.normal(size=(3, 6))
    f, g = so.semi_dual_value_grad(alpha, a, b, C, gamma, reg)
    fd, ga, gb = so.dual_value_grad(alpha, beta, a, b, C, gamma, reg)
    for i in range(3):
        pf, pg = ot.smooth.semi_dual_obj_grad(alpha[i], a[i], b[i], C[i].copy(), regul)
        np.testing.assert_allclose([f[i]], [pf], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g[i], pg, rtol=1e-10, atol=1e-12)
        qf, qa, qb = ot.smooth.dual_obj_grad(alpha[i], beta[i], a[i], b[i], C[i].copy(), regul)
        np.testing.assert_allclose([fd[i]], [qf], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ga[i], qa, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb[i], qb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reg", REGS)
def test_value_at_least_pot_solvers(reg: str) -> None:
    """Our optimum is at least POT's dual and semi-dual values (its L-BFGS-B stops earlier) and within 1e-5."""
    a, b, C = _instances(4, 2, 8, 7)
    gamma = 0.1
    regul = ot.smooth.SquaredL2(gamma=gamma) if reg == "l2" else ot.smooth.NegEntropy(gamma=gamma)
    r = so.solve(a, b, C, gamma, reg)
    for i in range(2):
        alpha, beta = ot.smooth.solve_dual(a[i], b[i], C[i], regul, tol=1e-12, max_iter=5000)[:2]
        d = ot.smooth.dual_obj_grad(alpha, beta, a[i], b[i], C[i], regul)[0]
        alpha_s = ot.smooth.solve_semi_dual(a[i], b[i], C[i], regul, tol=1e-12, max_iter=5000)[0]
        s = ot.smooth.semi_dual_obj_grad(alpha_s, a[i], b[i], C[i], regul)[0]
        for v in (d, s):
            assert float(r.semi_dual_value[i]) >= v - 1e-12
            assert float(r.semi_dual_value[i]) - v <= 1e-5


def test_sparse_l2_plan_against_unregularised_ot() -> None:
    """For small gamma the l2 plan is sparse (entropic: dense), and its value tends to ot.emd2's."""
    a, b, C = _instances(5, 1, 10, 10)
    r2 = so.solve(a, b, C, 1e-3, "l2")
    rk = so.solve(a, b, C, 0.05, "kl")
    assert int(np.count_nonzero(r2.plan[0])) < 40 and int(np.count_nonzero(rk.plan[0])) == 100
    assert abs(float(r2.semi_dual_value[0]) - ot.emd2(a[0], b[0], C[0])) <= 1e-3 / 2


@pytest.mark.parametrize("gamma", [1e-4, 1e-3])
def test_l2_converges_near_the_unregularised_limit(gamma: float) -> None:
    """At gamma far below the cost scale the l2 dual is nearly piecewise linear and its support graph starts in
    many components: every instance still reaches the marginal gap, with primal = dual and
    0 <= OT_Omega - OT <= (gamma/2) min(||a||^2, ||b||^2) against ot.emd2 (with the earlier ridge 1e-2 ||grad||_1,
    none of these converged within 500 iterations at gamma = 1e-4)."""
    a, b, C = _instances(7, 8, 30, 30)
    r = so.solve(a, b, C, gamma, "l2", tol=1e-9)
    assert bool(np.all(r.converged)), r.iterations
    for i in range(8):
        value = float(r.primal_value[i])
        assert abs(value - float(r.dual_value[i])) <= 1e-9
        excess = value - ot.emd2(a[i], b[i], C[i])
        bound = gamma / 2 * min(float(a[i] @ a[i]), float(b[i] @ b[i]))
        assert -1e-9 <= excess <= bound + 1e-9


@pytest.mark.parametrize("gamma", [0.05, 0.01])
def test_entropic_sinkhorn_method_matches_newton(gamma: float) -> None:
    """method='sinkhorn' and the semi-dual Newton method: the same plans and values, and every result field of
    the Sinkhorn path (computed from its plan without another exponential) equal to its direct evaluation."""
    a, b, C = _instances(13, 8, 20, 25)
    nw = so.solve(a, b, C, gamma, "kl", tol=1e-11)
    sk = so.solve(a, b, C, gamma, "kl", tol=1e-11, method="sinkhorn")
    assert bool(np.all(sk.converged)) and bool(np.all(nw.converged))
    for i in range(8):
        assert np.abs(sk.plan[i] - nw.plan[i]).sum() <= 1e-9
    np.testing.assert_allclose(sk.dual_value, nw.dual_value, rtol=0, atol=1e-11)
    np.testing.assert_allclose(sk.primal_value, so.primal_value(sk.plan, C, gamma, "kl"), rtol=0, atol=1e-13)
    f, g = so.semi_dual_value_grad(sk.alpha, a, b, C, gamma, "kl")
    np.testing.assert_allclose(sk.semi_dual_value, f, rtol=0, atol=1e-13)
    d, ga, gb = so.dual_value_grad(sk.alpha, sk.beta, a, b, C, gamma, "kl")
    np.testing.assert_allclose(sk.dual_value, d, rtol=0, atol=1e-13)
    np.testing.assert_allclose(sk.marginal_gap, np.abs(ga).sum(1) + np.abs(gb).sum(1), rtol=0, atol=1e-14)
    np.testing.assert_allclose(sk.plan, so.dual_plan(sk.alpha, sk.beta, C, gamma, "kl"), rtol=1e-12, atol=1e-300)


def test_batched_equals_loop() -> None:
    a, b, C = _instances(6, 6, 5, 4)
    for reg in REGS:
        batch = so.solve(a, b, C, 0.1, reg)
        for i in range(6):
            one = so.solve(a[i], b[i], C[i], 0.1, reg)
            np.testing.assert_allclose(batch.alpha[i], one.alpha[0], rtol=0, atol=1e-12)
            assert int(batch.iterations[i]) == int(one.iterations[0])


def test_lipschitz_ratios_never_exceed_the_constants_on_random_pairs() -> None:
    params = {"m": 3, "n": 4, "gamma": 0.1}
    space = potential_space(params)
    out = evaluate_smoothness(params, space.decode(space.sample(np.random.default_rng(7), 2000)), np)
    assert out["dual_ratio"].max() <= 7 / 0.1 * (1 + 1e-9)
    assert out["semi_dual_ratio"].max() <= 4 / 0.1 * (1 + 1e-9)


@pytest.mark.parametrize("reg", REGS)
def test_array_api_strict_matches_numpy(reg: str) -> None:
    a, b, C = _instances(8, 3, 4, 5)
    ref = so.solve(a, b, C, 0.1, reg)
    out = so.solve(xps.asarray(a), xps.asarray(b), xps.asarray(C), 0.1, reg)
    np.testing.assert_allclose(np.asarray(out.alpha), ref.alpha, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(out.dual_value), ref.dual_value, rtol=0, atol=1e-12)
    f, g = so.semi_dual_value_grad(xps.asarray(ref.alpha), xps.asarray(a), xps.asarray(b), xps.asarray(C), 0.1, reg)
    np.testing.assert_allclose(np.asarray(f), ref.semi_dual_value, rtol=0, atol=1e-12)
    if reg == "kl":
        sk = so.solve(xps.asarray(a), xps.asarray(b), xps.asarray(C), 0.1, reg, method="sinkhorn")
        np.testing.assert_allclose(np.asarray(sk.dual_value), ref.dual_value, rtol=0, atol=1e-10)


def test_bad_input_rejected() -> None:
    a, b, C = _instances(9, 1, 3, 3)
    a1, b1, C1 = a[0], b[0], C[0]
    cases = [
        ((a1, b1, C1, 0.0), "gamma"),
        ((a1, b1, C1, -1.0), "gamma"),
        ((a1, b1, C1, float("nan")), "gamma"),
        ((a1, b1, C1, "1"), "gamma"),
        ((a1 * 2, b1, C1, 0.1), "sum to one"),
        ((np.array([1.0, 0.0, 0.0]), b1, C1, 0.1), "strictly positive"),
        ((a1, b1, np.where(np.eye(3) > 0, np.nan, C1), 0.1), "C must be finite"),
        ((a1, b1, C1[:, :2], 0.1), "shape"),
        ((a1[None], b1, C1, 0.1), "shapes"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            so.solve(*args)
    with pytest.raises(ValueError, match="reg must be"):
        so.solve(a1, b1, C1, 0.1, "l1")
    with pytest.raises(ValueError, match="tol must be"):
        so.solve(a1, b1, C1, 0.1, tol=0.0)
    with pytest.raises(ValueError, match="max_iter must be"):
        so.solve(a1, b1, C1, 0.1, max_iter=0)
    with pytest.raises(ValueError, match="method must be"):
        so.solve(a1, b1, C1, 0.1, "kl", method="lbfgs")
    with pytest.raises(ValueError, match="reg='kl'"):
        so.solve(a1, b1, C1, 0.1, "l2", method="sinkhorn")
