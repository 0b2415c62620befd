"""Block coordinate descent solvers and the paper's measurements: the batched solvers against slow per-instance
loops, mu in a weighted l1 norm against cvxpy (CLARABEL) on its definition, the constructed Lasso minimisers
against cvxpy (CLARABEL), the identification radius, bad inputs, and array-api-strict."""

from __future__ import annotations

import array_api_strict as xps
import cvxpy as cp
import numpy as np
import pytest

from simulations.block_coordinate_descent import (
    RIDGE,
    evaluate_identification,
    evaluate_progress,
    evaluate_rate,
    identification_radius,
    lasso_instances,
    lasso_space,
    progress_space,
    rate_space,
)
from solvers.block_coordinate_descent import bcd, block_lipschitz, l1_strong_convexity, proximal_bcd

LASSO = {"m": 8, "d": 6, "s": 2, "lam": 0.5, "K": 240}


def random_problem(rng: np.random.Generator, n: int, d: int, m: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    A = rng.uniform(-1, 1, size=(n, m, d))
    Q = np.swapaxes(A, 1, 2) @ A + RIDGE * np.eye(d)
    return Q, rng.standard_normal((n, d)), rng.uniform(-2, 2, size=(n, d))


def slow_bcd(Q: np.ndarray, c: np.ndarray, x0: np.ndarray, s: int, rule: str, K: int, order: np.ndarray | None,
             lam: float = 0.0) -> np.ndarray:
    """One instance, one block at a time, straight from the definitions (lam > 0: proximal steps)."""
    d = len(x0)
    blocks = [list(range(b * s, (b + 1) * s)) for b in range(d // s)]
    L = [np.linalg.eigvalsh(Q[np.ix_(bl, bl)]).max() for bl in blocks]
    x, out = x0.copy(), [x0.copy()]
    for k in range(K):
        g = Q @ x - c
        if rule == "gs":
            b = int(np.argmax([np.linalg.norm(g[bl]) for bl in blocks]))
        elif rule == "gsl":
            b = int(np.argmax([np.linalg.norm(g[bl]) ** 2 / L[i] for i, bl in enumerate(blocks)]))
        elif rule == "cyclic":
            b = k % len(blocks)
        else:
            b = int(order[k])
        for i in blocks[b]:
            u = x[i] - g[i] / L[b]
            x[i] = np.sign(u) * max(abs(u) - lam / L[b], 0.0) if lam > 0 else u
        out.append(x.copy())
    return np.array(out)


@pytest.mark.parametrize("rule", ["gs", "gsl", "cyclic", "order"])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_bcd_matches_slow_loop(rule: str, s: int) -> None:
    rng = np.random.default_rng(1)
    Q, c, x0 = random_problem(rng, 5, 6)
    order = rng.integers(0, 6 // s, size=(5, 12))
    traj = bcd(Q, c, x0, s, rule, 12, order if rule == "order" else None)
    for i in range(5):
        ref = slow_bcd(Q[i], c[i], x0[i], s, rule, 12, order[i])
        np.testing.assert_allclose(traj.x[i], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rule", ["cyclic", "order"])
def test_proximal_bcd_matches_slow_loop(rule: str) -> None:
    rng = np.random.default_rng(2)
    Q, c, x0 = random_problem(rng, 5, 6)
    order = rng.integers(0, 3, size=(5, 20))
    traj = proximal_bcd(Q, c, x0, 0.7, 2, rule, 20, order if rule == "order" else None)
    for i in range(5):
        ref = slow_bcd(Q[i], c[i], x0[i], 2, rule, 20, order[i], lam=0.7)
        np.testing.assert_allclose(traj.x[i], ref, rtol=1e-12, atol=1e-12)


def test_block_lipschitz_is_block_spectral_norm() -> None:
    rng = np.random.default_rng(3)
    A = rng.uniform(-1, 1, size=(4, 8, 6))
    L = block_lipschitz(np.swapaxes(A, 1, 2) @ A, 3)
    for i in range(4):
        for b in range(2):
            assert abs(L[i, b] - np.linalg.norm(A[i][:, 3 * b:3 * b + 3], 2) ** 2) < 1e-10


def cvxpy_l1_mu(Q: np.ndarray, w: np.ndarray) -> float:
    """min x^T Q x over ||x||_w = 1: the minimum over sign orthants of a convex QP (CLARABEL)."""
    d = len(w)
    best = np.inf
    for v in range(2 ** d):
        s = np.array([1.0 - 2.0 * ((v >> j) & 1) for j in range(d)])
        x = cp.Variable(d)
        prob = cp.Problem(cp.Minimize(cp.quad_form(x, Q)), [cp.multiply(s, x) >= 0, (w * s) @ x == 1])
        prob.solve(solver=cp.CLARABEL)
        best = min(best, prob.value)
    return best


def test_l1_strong_convexity_matches_definition() -> None:
    rng = np.random.default_rng(4)
    Q, _, _ = random_problem(rng, 4, 3, m=5)
    w = np.sqrt(np.einsum("nii->ni", Q))
    mu = l1_strong_convexity(Q, w)
    for i in range(4):
        assert abs(mu[i] - cvxpy_l1_mu(Q[i], w[i])) < 1e-6 * mu[i]  # CLARABEL's default accuracy
        x = rng.standard_normal((2000, 3))  # no direction goes below mu
        assert np.all(np.einsum("ni,ij,nj->n", x, Q[i], x) / np.sum(w[i] * np.abs(x), axis=1) ** 2 >= mu[i] - 1e-12)


def test_progress_measurements_from_function_values() -> None:
    params = {"m": 8, "d": 6, "s": 2}
    space = progress_space(params)
    inst = space.decode(space.sample(np.random.default_rng(5), 6))
    out = evaluate_progress(params, inst, np)
    for i in range(6):
        A, y, x = inst["A"][i], inst["y"][i], inst["x"][i]
        Q = A.T @ A + RIDGE * np.eye(6)

        def f(v: np.ndarray, A: np.ndarray = A, y: np.ndarray = y) -> float:
            return 0.5 * np.sum((A @ v - y) ** 2) + 0.5 * RIDGE * v @ v
        for rule, name in (("gsl", "dec"), ("gs", "dec_gs")):
            x1 = slow_bcd(Q, A.T @ y, x, 2, rule, 1, None)[1]
            assert abs(out[name][i] - (f(x) - f(x1))) < 1e-9
        g = Q @ x - A.T @ y
        L = [np.linalg.eigvalsh(Q[2 * b:2 * b + 2, 2 * b:2 * b + 2]).max() for b in range(3)]
        per = [g[2 * b:2 * b + 2] @ g[2 * b:2 * b + 2] / (2 * L[b]) for b in range(3)]
        assert abs(out["prog"][i] - max(per)) < 1e-12 and abs(out["prog_rand"][i] - np.mean(per)) < 1e-12


def test_rate_measurements() -> None:
    params = {"m": 6, "d": 4, "k": 3}
    space = rate_space(params)
    inst = space.decode(space.sample(np.random.default_rng(6), 4))
    out = evaluate_rate(params, inst, np)
    for i in range(4):
        A, xs, x0 = inst["A"][i], inst["x_star"][i], inst["x0"][i]
        Q = A.T @ A + RIDGE * np.eye(4)
        x3 = slow_bcd(Q, Q @ xs, x0, 1, "gsl", 3, None)[3]
        assert abs(out["gap"][i] - 0.5 * (x3 - xs) @ Q @ (x3 - xs)) < 1e-12
        assert abs(out["mu_rand"][i] - np.linalg.eigvalsh(Q)[0] / np.trace(Q)) < 1e-14


def test_constructed_lasso_minimiser_matches_cvxpy() -> None:
    space = lasso_space(LASSO)
    inst = space.decode(space.sample(np.random.default_rng(7), 4))
    p = lasso_instances(LASSO, inst, np)
    lam = LASSO["lam"]
    for i in range(4):
        x = cp.Variable(6)
        obj = 0.5 * cp.quad_form(x, p["Q"][i]) - p["c"][i] @ x + lam * cp.norm1(x)
        cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
        np.testing.assert_allclose(x.value, p["x_star"][i], atol=1e-6)
        # dual certificate: |grad f(x*)| <= lam with margin >= 0.1 lam off the support
        grad = p["Q"][i] @ p["x_star"][i] - p["c"][i]
        off = p["support"][i] < 0.5
        assert np.all(lam - np.abs(grad[off]) >= 0.1 * lam - 1e-12)
        np.testing.assert_allclose(grad[~off], -lam * np.sign(p["x_star"][i][~off]), atol=1e-12)


def test_identification_radius_puts_every_coordinate_right() -> None:
    """From any point within r of x*, one proximal step on any block gives that block the optimal support."""
    space = lasso_space(LASSO)
    rng = np.random.default_rng(8)
    inst = space.decode(space.sample(rng, 8))
    p = lasso_instances(LASSO, inst, np)
    L = block_lipschitz(p["Q"], 2)
    r = identification_radius(p["Q"], L, p["x_star"], p["zeta"], p["support"], LASSO["lam"], 2, np)
    for i in range(8):
        for _ in range(50):
            v = rng.standard_normal(6)
            x = p["x_star"][i] + 0.999 * r[i] * v / np.linalg.norm(v)
            for b in range(3):
                x1 = slow_bcd(p["Q"][i], p["c"][i], x, 2, "order", 1, np.array([b]), lam=LASSO["lam"])[1]
                blk = slice(2 * b, 2 * b + 2)
                assert np.array_equal(x1[blk] != 0, p["support"][i][blk] > 0.5)


def test_identification_iteration_from_slow_loop() -> None:
    space = lasso_space(LASSO)
    inst = space.decode(space.sample(np.random.default_rng(9), 4))
    out = evaluate_identification(LASSO, inst, np)
    p = lasso_instances(LASSO, inst, np)
    for i in range(4):
        xs = slow_bcd(p["Q"][i], p["c"][i], p["x0"][i], 2, "cyclic", 240, None, lam=LASSO["lam"])
        wrong = [k for k in range(241) if not np.array_equal(xs[k] != 0, p["support"][i] > 0.5)]
        assert out["k_id"][i] == (wrong[-1] + 1 if wrong else 0)
        assert out["k_id"][i] <= out["k_bd"][i] <= 241


def test_bad_inputs() -> None:
    rng = np.random.default_rng(10)
    Q, c, x0 = random_problem(rng, 2, 6)
    with pytest.raises(ValueError, match="lam"):
        proximal_bcd(Q, c, x0, 0.0, 2, "cyclic", 3)
    with pytest.raises(ValueError, match="lam"):
        proximal_bcd(Q, c, x0, float("nan"), 2, "cyclic", 3)
    with pytest.raises(ValueError, match="Q must be finite"):
        bcd(np.where(Q > 1, np.nan, Q), c, x0, 2, "gsl", 3)
    with pytest.raises(ValueError, match="x0 must have shape"):
        bcd(Q, c, x0[:, :5], 2, "gsl", 3)
    with pytest.raises(ValueError, match="Q must have shape"):
        bcd(Q[0], c, x0, 2, "gsl", 3)
    with pytest.raises(ValueError, match="block_size must divide"):
        bcd(Q, c, x0, 4, "gsl", 3)
    with pytest.raises(ValueError, match="symmetric"):
        bcd(Q + np.triu(np.ones((6, 6)), 1), c, x0, 2, "gsl", 3)
    with pytest.raises(ValueError, match="rule must be one of"):
        bcd(Q, c, x0, 2, "greedy", 3)
    with pytest.raises(ValueError, match="rule must be one of"):
        proximal_bcd(Q, c, x0, 0.5, 2, "gsl", 3)
    with pytest.raises(ValueError, match="order must have shape"):
        bcd(Q, c, x0, 2, "order", 3, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="order must hold"):
        bcd(Q, c, x0, 2, "order", 3, np.full((2, 3), 3))
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        bcd(Q, c, x0, 2, "gsl", 0)
    with pytest.raises(ValueError, match="d <= 12"):
        l1_strong_convexity(np.eye(13)[None], np.ones((1, 13)))
    with pytest.raises(ValueError, match="weights must have shape"):
        l1_strong_convexity(Q, -np.ones((2, 6)))


def test_array_api_strict_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    cases = [
        (evaluate_progress, {"m": 8, "d": 6, "s": 2}, progress_space),
        (evaluate_rate, {"m": 6, "d": 4, "k": 4}, rate_space),
        (evaluate_identification, LASSO, lasso_space),
    ]
    for evaluate, params, space_at in cases:
        space = space_at(params)
        inst = space.decode(space.sample(rng, 5))
        ref = evaluate(params, inst, np)
        got = evaluate(params, inst, xps)
        for name in ref:
            np.testing.assert_allclose(got[name], ref[name], rtol=1e-10, atol=1e-12)
    Q, c, x0 = random_problem(rng, 3, 6)
    order = rng.integers(0, 3, size=(3, 5))
    for rule in ("gs", "order"):
        a = bcd(Q, c, x0, 2, rule, 5, order if rule == "order" else None)
        b = bcd(xps.asarray(Q), xps.asarray(c), xps.asarray(x0), 2, rule, 5,
                xps.asarray(order) if rule == "order" else None)
        np.testing.assert_allclose(np.asarray(b.x), a.x, rtol=1e-12, atol=1e-12)
