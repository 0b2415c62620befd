"""HOAG on bilevel ridge regression: the closed-form hypergradient against finite differences and a slow
per-instance loop, the stationary points against scipy's brentq and bounded minimisation, the Lipschitz constant
against a finer grid, HOAG's tolerances and iterates against a slow per-instance loop, bad inputs, and the same
code on array-api-strict."""

from __future__ import annotations

from collections.abc import Callable

import array_api_strict
import numpy as np
import pytest
from scipy import optimize

from simulations.hoag import (
    DOMAIN,
    _candidates,
    draw_problems,
    error_space,
    evaluate_error,
    fixed,
    measure_schedules,
    quadratic,
)
from solvers.hoag import (
    RidgeBilevel,
    _spectral,
    _spectral_hypergradient,
    gradient_mapping,
    hoag,
    hypergradient,
    lipschitz_constant,
    reference,
    stationary_points,
)


def _slow(problem: RidgeBilevel, i: int, lam: float) -> tuple[float, float, np.ndarray]:
    """f and f' of instance i at lam, from explicit inverses (one instance at a time)."""
    A, b, Av, bv = (np.asarray(a)[i] for a in (problem.A, problem.b, problem.Av, problem.bv))
    t = np.exp(lam)
    Hinv = np.linalg.inv(A.T @ A + t * np.eye(A.shape[1]))
    X = Hinv @ A.T @ b
    dX = -t * Hinv @ X
    return 0.5 * float(np.sum((Av @ X - bv) ** 2)), float((Av @ X - bv) @ Av @ dX), X


def _problems(seed: int, n: int = 12) -> RidgeBilevel:
    return _candidates(np.random.default_rng(seed), n, np)


def test_hypergradient_against_finite_differences_and_a_slow_loop() -> None:
    problem = _problems(0)
    lam = np.random.default_rng(1).uniform(*DOMAIN, size=12)
    exact = hypergradient(problem, lam)
    h = 1e-5
    plus, minus = hypergradient(problem, lam + h), hypergradient(problem, lam - h)
    scale = 1 + np.abs(exact.df)
    assert np.max(np.abs((plus.f - minus.f) / (2 * h) - exact.df) / scale) < 1e-6
    assert np.max(np.abs((plus.df - minus.df) / (2 * h) - exact.d2f) / (1 + np.abs(exact.d2f))) < 1e-6
    spectral = _spectral_hypergradient(_spectral(problem, np), lam, np)  # the eigenbasis route of the grid
    for name in ("f", "df", "d2f"):
        a, b = getattr(spectral, name), getattr(exact, name)
        assert np.max(np.abs(a - b) / (1 + np.abs(b))) < 1e-10, name
    for i in range(12):
        f, df, X = _slow(problem, i, float(lam[i]))
        assert abs(exact.f[i] - f) <= 1e-10 * (1 + abs(f))
        assert abs(exact.df[i] - df) <= 1e-10 * (1 + abs(df))
        np.testing.assert_allclose(exact.X[i], X, rtol=1e-10, atol=1e-12)


def test_stationary_points_against_brentq_and_bounded_minimisation() -> None:
    problem = _problems(2, 24)
    count, root, L = reference(problem)
    count2, root2 = stationary_points(problem)
    np.testing.assert_array_equal(count, count2)
    np.testing.assert_array_equal(root, root2)
    np.testing.assert_array_equal(L, lipschitz_constant(problem))
    lo, hi = DOMAIN
    fine = np.linspace(lo, hi, 4001)
    checked = 0
    for i in range(24):
        def df(x: float, i: int = i) -> float:
            return _slow(problem, i, x)[1]
        values = np.array([df(x) for x in fine])
        changes = int(np.sum(np.sign(values[:-1]) != np.sign(values[1:])))
        assert count[i] == changes + (values[0] >= 0) + (values[-1] <= 0)
        if changes == 1 and count[i] == 1:
            j = int(np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0])
            assert abs(root[i] - optimize.brentq(df, fine[j], fine[j + 1], xtol=1e-15, rtol=1e-15)) < 1e-12
            best = optimize.minimize_scalar(lambda x, i=i: _slow(problem, i, x)[0], bounds=DOMAIN,
                                            method="bounded", options={"xatol": 1e-9})
            if df(lo) < 0 < df(hi):  # a single interior minimum: the bounded search finds it too
                # to within what f's rounding lets a comparison search resolve: f is known to eps * |f|, so
                # near a minimum of curvature f'' the search cannot tell points sqrt(2 eps |f| / f'') apart
                h = 1e-4
                curvature = abs(df(root[i] + h) - df(root[i] - h)) / (2 * h)
                flat = np.sqrt(2 * np.finfo(float).eps * (1 + abs(best.fun)) / curvature)
                assert abs(best.x - root[i]) < 1e-6 + 4 * flat
            checked += 1
    assert checked >= 12


def test_lipschitz_constant_bounds_the_hypergradient_on_a_finer_grid() -> None:
    problem = _problems(3, 32)
    L = lipschitz_constant(problem)
    fine = lipschitz_constant(problem, points=4001, safety=1.0)
    assert np.all(fine <= L)
    assert np.all(fine >= L / 1.5 * (1 - 1e-3))  # the grid maximum is close to the supremum
    a, b = (np.random.default_rng(4).uniform(*DOMAIN, size=(2, 32)))
    slope = np.abs(hypergradient(problem, a).df - hypergradient(problem, b).df) / np.abs(a - b)
    assert np.all(slope <= L)


def _slow_hoag(problem: RidgeBilevel, i: int, lam: float, L: float, tolerances: Callable[[int], float],
               K: int) -> float:
    """HOAG for one instance with scalar loops (the rules of solvers.hoag.hoag, written out)."""
    A, b, Av, bv = (np.asarray(a)[i] for a in (problem.A, problem.b, problem.Av, problem.bv))
    d = A.shape[1]
    G, c, Gv, cv = A.T @ A, A.T @ b, Av.T @ Av, Av.T @ bv
    sig = np.linalg.eigvalsh(G)
    x, q = np.zeros(d), np.zeros(d)
    for k in range(1, K + 1):
        eps, t = tolerances(k), np.exp(lam)
        H = G + t * np.eye(d)
        while np.linalg.norm(H @ x - c) > (sig[0] + t) * eps:
            x = x - (H @ x - c) / (sig[-1] + t)
        rhs = Gv @ x - cv
        r = rhs - H @ q
        p = r
        while np.linalg.norm(r) > eps:
            alpha = (r @ r) / (p @ H @ p)
            q = q + alpha * p
            r_new = rhs - H @ q
            p = r_new + (r_new @ r_new) / (r @ r) * p
            r = r_new
        lam = float(np.clip(lam + t * (x @ q) / L, *DOMAIN))
    return lam


def test_hoag_matches_a_slow_loop_and_meets_its_tolerances() -> None:
    problem, root, L = draw_problems(np.random.default_rng(5), 6, np)
    lam0 = np.zeros(6)
    K = 30
    run = hoag(problem, lam0, L, quadratic, K)
    for i in range(6):
        assert abs(run.lam[i] - _slow_hoag(problem, i, 0.0, float(L[i]), quadratic, K)) < 1e-9
    before = hoag(problem, lam0, L, quadratic, K - 1).lam
    eps = quadratic(K)
    exact = hypergradient(problem, before)
    assert np.all(np.linalg.norm(run.x - exact.X, axis=1) <= eps)
    H = np.einsum("nmd,nme->nde", problem.A, problem.A) + np.exp(before)[:, None, None] * np.eye(5)
    grad_g = np.einsum("nmd,nm->nd", problem.Av, np.einsum("nmd,nd->nm", problem.Av, run.x) - problem.bv)
    assert np.all(np.linalg.norm(np.einsum("nde,ne->nd", H, run.q) - grad_g, axis=1) <= eps)


def test_exact_tolerances_reach_the_brentq_root_and_a_fixed_one_does_not() -> None:
    problem, root, L = draw_problems(np.random.default_rng(6), 16, np)
    lam = hoag(problem, np.zeros(16), L, lambda k: 1e-11, 400).lam
    assert np.max(np.abs(lam - root)) < 1e-7
    assert np.max(gradient_mapping(problem, lam, L)) < 1e-7
    plateau = hoag(problem, np.zeros(16), L, fixed(1e-2), 400).lam
    assert np.mean(np.abs(plateau - root)) > 1e-4


def test_error_bound_instances() -> None:
    params = {"eps": 1e-2}
    space = error_space(params)
    instances = space.decode(space.sample(np.random.default_rng(7), 64))
    np.testing.assert_allclose(np.linalg.norm(instances["dx"], axis=1), 1e-2, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(instances["r"], axis=1), 1e-2, rtol=1e-12)
    out = evaluate_error(params, instances, np)
    for i in range(8):  # the error from explicit inverses, one instance at a time
        A = instances["A"][i].reshape(6, 3)
        Av = instances["Av"][i].reshape(6, 3)
        b, bv, lam = instances["b"][i], instances["bv"][i], float(instances["lam"][i, 0])
        t = np.exp(lam)
        Hinv = np.linalg.inv(A.T @ A + t * np.eye(3))
        X = Hinv @ A.T @ b
        df = -t * X @ Hinv @ Av.T @ (Av @ X - bv)
        x = X + instances["dx"][i]
        q = Hinv @ (Av.T @ (Av @ x - bv) + instances["r"][i])
        assert abs(out["grad_error"][i] - abs(-t * x @ q - df)) < 1e-11 * (1 + abs(df))
    assert np.all(out["grad_error"] <= out["C_err"] * 1e-2 * (1 + 1e-9))


def test_bad_input_is_named() -> None:
    problem = _problems(8, 4)
    L, lam0 = np.ones(4), np.zeros(4)
    A = np.array(problem.A)
    A[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="A must be finite"):
        hoag(RidgeBilevel(A, problem.b, problem.Av, problem.bv, *DOMAIN), lam0, L, quadratic, 3)
    with pytest.raises(ValueError, match="b must have shape"):
        hoag(RidgeBilevel(problem.A, problem.b[:, :3], problem.Av, problem.bv, *DOMAIN), lam0, L, quadratic, 3)
    with pytest.raises(ValueError, match="Av must have shape"):
        hoag(RidgeBilevel(problem.A, problem.b, problem.Av[:, :, :2], problem.bv, *DOMAIN), lam0, L, quadratic, 3)
    with pytest.raises(ValueError, match="lo < hi"):
        hoag(RidgeBilevel(problem.A, problem.b, problem.Av, problem.bv, 1.0, 1.0), lam0, L, quadratic, 3)
    with pytest.raises(ValueError, match=r"L must have shape \(4,\) with every entry > 0"):
        hoag(problem, lam0, np.array([1.0, 0.0, 1.0, 1.0]), quadratic, 3)
    with pytest.raises(ValueError, match="lam0 must have shape"):
        hoag(problem, np.full(4, 7.0), L, quadratic, 3)
    with pytest.raises(ValueError, match="iterations must be an integer >= 0"):
        hoag(problem, lam0, L, quadratic, -1)
    with pytest.raises(ValueError, match=r"tolerances\(k\) must be a finite number > 0"):
        hoag(problem, lam0, L, lambda k: 0.0, 3)
    with pytest.raises(ValueError, match="lam must be finite"):
        hypergradient(problem, np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="points must be an integer >= 2"):
        lipschitz_constant(problem, points=1)
    with pytest.raises(ValueError, match="safety must be a finite number >= 1"):
        lipschitz_constant(problem, safety=0.5)


def test_same_code_on_array_api_strict() -> None:
    xp = array_api_strict
    ref = measure_schedules({"K": 6}, np.random.default_rng(9), 8, np)
    strict = measure_schedules({"K": 6}, np.random.default_rng(9), 8, xp)
    for name, values in ref.items():
        np.testing.assert_allclose(strict[name], values, rtol=1e-9, atol=1e-13)
    space = error_space({"eps": 1e-3})
    instances = space.decode(space.sample(np.random.default_rng(10), 16))
    a, b = evaluate_error({"eps": 1e-3}, instances, np), evaluate_error({"eps": 1e-3}, instances, xp)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-9, atol=1e-15)
