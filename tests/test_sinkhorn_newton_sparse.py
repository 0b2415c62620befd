"""solvers.sinkhorn (log-domain Sinkhorn and Sinkhorn-Newton-Sparse) against independent references, and its checks.

References and tolerances:
* POT's log-domain Sinkhorn (``ot.sinkhorn(method='sinkhorn_log')``, stopThr 1e-13): our plans within 1e-8 in l1
  (both at marginal errors <= 1e-10; measured below 1e-9);
* cvxpy (``cp.rel_entr``, exponential cone, CLARABEL at 1e-10) for n <= 40: plans within 1e-5 in l1 and values
  within 1e-7 (CLARABEL's exponential cone is the limit: its plans are accurate to a few 1e-6);
* the potential's gradient and Hessian against central finite differences: 1e-6 relative;
* a loop over instances against one batched call: identical iteration counts, potentials within 1e-12;
* array-api-strict against NumPy: 1e-10;
* the kernel domain (``domain="auto"``) against the log domain: the same iteration counts and plans within 1e-12
  in l1 (measured 1e-16 per entry), and against POT as above.
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

from boundlab.errors import UsageError
from simulations import sinkhorn_newton_sparse as sim
from solvers import sinkhorn as sk


def _instances(seed: int, B: int, n: int, uniform: bool = False):
    rng = np.random.default_rng(seed)
    C = rng.uniform(size=(B, n, n))
    if uniform:
        r = np.full((B, n), 1.0 / n)
        return r, r.copy(), C
    return rng.dirichlet(np.ones(n), B), rng.dirichlet(np.ones(n), B), C


@pytest.mark.parametrize(("n", "eta"), [(8, 20.0), (20, 50.0)])
def test_against_pot(n: int, eta: float) -> None:
    r, c, C = _instances(n, 6, n)
    o = sk.sinkhorn_newton_sparse(r, c, C, eta)
    s = sk.sinkhorn(r, c, C, eta)
    assert bool(np.all(o.converged)) and bool(np.all(s.converged))
    for i in range(6):
        ref = sim.pot_plan(r[i], c[i], C[i], eta)
        assert np.abs(o.plan[i] - ref).sum() <= 1e-8
        assert np.abs(s.plan[i] - ref).sum() <= 1e-8


def test_against_cvxpy() -> None:
    cp = pytest.importorskip("cvxpy")
    eta = 10.0
    for n in (5, 40):
        r, c, C = _instances(100 + n, 2, n)
        o = sk.sinkhorn_newton_sparse(r, c, C, eta, density=5.0 / n)
        for i in range(2):
            P = cp.Variable((n, n), nonneg=True)
            obj = cp.sum(cp.multiply(C[i], P)) + cp.sum(cp.rel_entr(P, np.ones((n, n)))) / eta
            prob = cp.Problem(cp.Minimize(obj), [cp.sum(P, axis=1) == r[i], cp.sum(P, axis=0) == c[i]])
            prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
            assert prob.status in ("optimal", "optimal_inaccurate")
            Pi = o.plan[i]
            ours = float((C[i] * Pi).sum() + (Pi * np.log(Pi)).sum() / eta)
            assert abs(ours - prob.value) <= 1e-7
            assert np.abs(Pi - np.maximum(P.value, 0)).sum() <= 1e-5


def test_gradient_and_hessian_sign() -> None:
    """grad f = (r - P1, c - P^T 1) and grad^2 f = -eta [[diag(P1), P], [P^T, diag(P^T 1)]] (negative
    semi-definite), by central differences of the potential."""
    r, c, C = _instances(3, 1, 4)
    eta = 2.0
    rng = np.random.default_rng(0)
    z = rng.normal(scale=0.3, size=8)

    def f(v: np.ndarray) -> float:
        return float(sk.dual_objective(v[None, :4], v[None, 4:], r, c, C, eta)[0])

    P = sk.plan(z[None, :4], z[None, 4:], C, eta)[0]
    g = np.concatenate([r[0] - P.sum(1), c[0] - P.sum(0)])
    H = -eta * np.block([[np.diag(P.sum(1)), P], [P.T, np.diag(P.sum(0))]])
    h = 1e-5
    E = np.eye(8)
    g_fd = np.array([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in E])
    H_fd = np.array([[(f(z + h * a + h * b) - f(z + h * a - h * b) - f(z - h * a + h * b) + f(z - h * a - h * b))
                      / (4 * h * h) for b in E] for a in E])
    np.testing.assert_allclose(g_fd, g, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(H_fd, H, rtol=1e-4, atol=1e-5)
    assert np.linalg.eigvalsh(H).max() <= 1e-12


def test_flipped_sign_stalls_and_sparsify_counts() -> None:
    r, c, C = _instances(4, 3, 10, uniform=True)
    bad = sk.sinkhorn_newton_sparse(r, c, C, 50.0, n_sinkhorn=5, _hessian_sign=-1.0, max_newton=3)
    assert bool(np.all(bad.stalled)) and not bool(np.any(bad.converged))
    o = sk.sinkhorn_newton_sparse(r, c, C, 50.0)
    assert bool(np.all(o.converged)) and bool(np.all(o.nnz == 20))  # ceil(2/n n^2) = 2n entries kept
    assert bool(np.all(o.operations > 0)) and bool(np.all(o.dense_solve_operations > o.operations))


def test_batched_equals_loop() -> None:
    r, c, C = _instances(5, 5, 12)
    batch = sk.sinkhorn_newton_sparse(r, c, C, 30.0)
    sb = sk.sinkhorn(r, c, C, 30.0)
    for i in range(5):
        one = sk.sinkhorn_newton_sparse(r[i], c[i], C[i], 30.0)
        assert int(one.newton_iterations[0]) == int(batch.newton_iterations[i])
        np.testing.assert_allclose(one.x[0], batch.x[i], rtol=0, atol=1e-12)
        s1 = sk.sinkhorn(r[i], c[i], C[i], 30.0)
        assert int(s1.iterations[0]) == int(sb.iterations[i])
        np.testing.assert_allclose(s1.y[0], sb.y[i], rtol=0, atol=1e-12)


@pytest.mark.parametrize(("n", "eta"), [(12, 30.0), (40, 200.0)])
def test_kernel_domain_matches_log_domain_and_pot(n: int, eta: float) -> None:
    r, c, C = _instances(20 + n, 5, n)
    log = sk.sinkhorn(r, c, C, eta, record=True)
    ker = sk.sinkhorn(r, c, C, eta, domain="auto", record=True)
    assert bool(np.all(ker.converged)) and ker.iterations.tolist() == log.iterations.tolist()
    np.testing.assert_allclose(ker.history, log.history, rtol=1e-9, atol=1e-14)  # round-off: 3e-15 measured
    np.testing.assert_allclose(ker.x - ker.x[:, :1], log.x - log.x[:, :1], rtol=0, atol=1e-10)
    for i in range(5):
        assert np.abs(ker.plan[i] - log.plan[i]).sum() <= 1e-12
        assert np.abs(ker.plan[i] - sim.pot_plan(r[i], c[i], C[i], eta)).sum() <= 1e-8
        # the returned plan is P(x, y) of the returned potentials
        assert np.abs(ker.plan[i] - sk.plan(ker.x[i:i + 1], ker.y[i:i + 1], C[i], eta)[0]).sum() <= 1e-12
    one = sk.sinkhorn(r[2], c[2], C[2], eta, domain="auto")
    assert int(one.iterations[0]) == int(ker.iterations[2])
    np.testing.assert_allclose(one.y[0], ker.y[2], rtol=0, atol=1e-12)


def test_kernel_domain_falls_back_to_the_log_domain() -> None:
    """Outside float64's range the auto domain gives the log domain's answer: at eta (max C - min C) > 500 by
    the range rule, and within it when a mass of 1e-300 underflows the scalings to zero."""
    r, c, C = _instances(31, 3, 10)
    for rr, eta in ((r, 80.0 / float(C.max() - C.min()) * 10), (r, 40.0)):
        log, auto = sk.sinkhorn(rr, c, C, eta), sk.sinkhorn(rr, c, C, eta, domain="auto")
        assert auto.iterations.tolist() == log.iterations.tolist()
        assert bool(np.all(np.isfinite(auto.plan)))
    tiny = r.copy()
    tiny[:, 0] = 1e-300
    tiny /= tiny.sum(1, keepdims=True)
    eta = 400.0 / float(C.max() - C.min())
    log, auto = sk.sinkhorn(tiny, c, C, eta), sk.sinkhorn(tiny, c, C, eta, domain="auto")
    assert bool(np.all(log.converged)) and bool(np.all(np.isfinite(auto.x)))
    np.testing.assert_allclose(auto.x, log.x, rtol=0, atol=1e-9)


def test_row_maxima_option_keeps_every_point_coupled() -> None:
    """keep_row_maxima=True: the sparsified block holds each row's and column's largest entry on top of the
    paper's top entries, and SNS reaches the same plan."""
    r, c, C = _instances(40, 4, 12)
    xp = array_api_compat.array_namespace(C)
    x = np.zeros((4, 12))
    P = sk.plan(x, sk._y_update(x, c, C, 30.0, xp), C, 30.0)
    paper, extra = sk._sparsify(P, 24, xp), sk._sparsify(P, 24, xp, row_maxima=True)
    assert bool(np.all((paper > 0) <= (extra > 0)))
    for axis in (1, 2):
        assert bool(np.all(np.max(extra, axis=axis) == np.max(P, axis=axis)))
    assert int((paper > 0).sum(axis=(1, 2)).min()) == 24
    a, b = sk.sinkhorn_newton_sparse(r, c, C, 30.0), sk.sinkhorn_newton_sparse(r, c, C, 30.0, keep_row_maxima=True)
    assert bool(np.all(a.converged)) and bool(np.all(b.converged))
    assert float(np.abs(a.plan - b.plan).sum(axis=(1, 2)).max()) <= 1e-8


def test_unconverged_sns_is_vacuous_for_the_plan_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance where SNS stops at its Newton budget gives plan_error NaN (vacuous) and is flagged."""
    space = sim.instance_space({"n": 6})
    inst = space.decode(space.sample(np.random.default_rng(3), 3))
    full = sim.evaluate_correctness({"n": 6, "eta": 20.0}, inst, np)
    assert bool(np.all(np.isfinite(full["plan_error"]))) and float(full["newton_budget_exhausted"].max()) == 0.0
    real = sk.sinkhorn_newton_sparse
    monkeypatch.setattr(sim.sk, "sinkhorn_newton_sparse",
                        lambda *a, **k: real(*a, **{**k, "max_newton": min(k.get("max_newton", 1), 1)}))
    cut = sim.evaluate_correctness({"n": 6, "eta": 20.0}, inst, np)
    stopped = cut["newton_budget_exhausted"] == 1.0
    assert bool(np.any(stopped)) and bool(np.all(np.isnan(cut["plan_error"][stopped])))
    assert bool(np.all(np.isfinite(cut["plan_error"][~stopped])))


def test_convergence_order() -> None:
    linear = 1e-2 * 0.5 ** np.arange(12.0)
    quad = np.array([1e-2, 1e-4, 1e-8, 1e-16, np.nan])
    got = sim.convergence_order(np.stack([linear[:5], quad]))
    np.testing.assert_allclose(got, [1.0, 2.0], atol=1e-12)


def test_array_api_strict_matches_numpy() -> None:
    xps = pytest.importorskip("array_api_strict")
    r, c, C = _instances(6, 3, 8)
    ref = sk.sinkhorn_newton_sparse(r, c, C, 20.0)
    got = sk.sinkhorn_newton_sparse(xps.asarray(r), xps.asarray(c), xps.asarray(C), 20.0)
    np.testing.assert_allclose(np.asarray(got.plan), ref.plan, rtol=0, atol=1e-10)
    s_ref = sk.sinkhorn(r, c, C, 20.0)
    s_got = sk.sinkhorn(xps.asarray(r), xps.asarray(c), xps.asarray(C), 20.0)
    assert np.asarray(s_got.iterations).tolist() == s_ref.iterations.tolist()
    k_got = sk.sinkhorn(xps.asarray(r), xps.asarray(c), xps.asarray(C), 20.0, domain="auto")
    assert np.asarray(k_got.iterations).tolist() == s_ref.iterations.tolist()
    np.testing.assert_allclose(np.asarray(k_got.plan), s_ref.plan, rtol=0, atol=1e-12)


def test_bad_input_rejected() -> None:
    r, c, C = _instances(7, 1, 4)
    r1, c1, C1 = r[0], c[0], C[0]
    cases = [
        ((r1, c1, C1, 0.0), {}, "eta"),
        ((r1, c1, C1, float("nan")), {}, "eta"),
        ((r1 * 2, c1, C1, 1.0), {}, "sum to one"),
        ((np.array([1.0, 0.0, 0.0, 0.0]), c1, C1, 1.0), {}, "strictly positive"),
        ((r1, c1, np.where(np.eye(4) > 0, np.nan, C1), 1.0), {}, "C must be finite"),
        ((r1, c1, C1[:, :3], 1.0), {}, "shape"),
        ((r1, c1, C1, 1.0), {"density": 2.0}, "density"),
        ((r1, c1, C1, 1.0), {"density": -1.0}, "density"),
        ((r1, c1, C1, 1.0), {"tol": 0.0}, "tol"),
        ((r1, c1, C1, 1.0), {"max_newton": 0}, "max_newton"),
    ]
    for args, kw, match in cases:
        with pytest.raises(UsageError, match=match):
            sk.sinkhorn_newton_sparse(*args, **kw)
    with pytest.raises(UsageError, match="max_iter"):
        sk.sinkhorn(r1, c1, C1, 1.0, max_iter=0)
    with pytest.raises(UsageError, match="domain"):
        sk.sinkhorn(r1, c1, C1, 1.0, domain="kernel")
