"""Tests for solvers/online_learning.py (batched optimistic OMD on a ball) and simulations/optimistic_omd.py.

Tolerance policy. The batched learner and the per-replicate reference loop do the same arithmetic in a different
order (NumPy reductions against Python sums), so they agree to rounding: observed differences are below 1e-13 after
300 rounds. We use 1e-10 relative to the compared quantity's magnitude: any algorithmic slip (the step size of the
wrong round, the hint not subtracted, a missed projection) changes plays by 1e-3 or more. The closed-form
comparators are checked against cvxpy with CLARABEL, an interior-point solver whose default tolerances (1e-8) give
objective values to about 1e-7 relative; we use 1e-6.
"""

from __future__ import annotations

import math

import array_api_strict as xps
import cvxpy as cp
import numpy as np
import pytest

from simulations.optimistic_omd import (
    EXPONENTS,
    FAMILIES,
    convex_instance,
    convex_stream,
    gradient_bound,
    quadratic_instance,
)
from solvers.online_learning import (
    AdaptiveStep,
    OptimisticOMD,
    StronglyConvexStep,
    linear_hindsight_min,
    project_ball,
    quadratic_hindsight_min,
    reference_linear,
    reference_quadratic,
    run_linear,
    run_quadratic,
)

RTOL = 1e-10
CVX_RTOL = 1e-6


def array_stream(c: np.ndarray, xp=np):
    """A stream serving the rows of a materialised (R, T, d) array."""
    return lambda t0, t1: xp.asarray(c[:, t0:t1, :])


def close(actual, expected, what: str, rtol: float = RTOL) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    err = float(np.max(np.abs(actual - expected)))
    tol = rtol * max(1.0, float(np.max(np.abs(expected))))
    assert err <= tol, f"{what}: max abs error {err:.3e} > tolerance {tol:.3e}"


# ----------------------------------------------------------------------------- learner against the slow loop


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_linear_matches_reference(family: str, seed: int) -> None:
    T, d, radius = 300, 3, 1.0
    c = convex_instance(np.random.default_rng(seed), family, 2, T, d)      # (2 * K, T, d)
    G = gradient_bound(family)
    step = AdaptiveStep(diameter=2 * radius, G=G, delta=0.5)
    cps = (1, 17, 100, T)
    got = run_linear(array_stream(c), T, radius, step, cps, replicates=c.shape[0], dim=d, G=G, chunk_size=37)
    learner = OptimisticOMD(c.shape[0], d, radius, step)
    plays = []
    for t in range(T):
        plays.append(learner.play())
        learner.update(c[:, t, :])
    plays = np.stack(plays, axis=1)
    for r in range(c.shape[0]):
        xs, _ = reference_linear(c[r], radius, step)
        close(plays[r], xs, f"plays of replicate {r}")
        for j, n in enumerate(cps):
            _, regret = reference_linear(c[r, :n], radius, step)
            close(got[r, j], regret, f"regret of replicate {r} at t = {n}")


@pytest.mark.parametrize("alpha", [1.0, 2.0])
@pytest.mark.parametrize("sigma", [0.25, 1.0])
def test_quadratic_matches_reference(sigma: float, alpha: float) -> None:
    T, d, radius = 300, 3, 2.0
    c = quadratic_instance(np.random.default_rng(7), 4, T, d, sigma)
    step = StronglyConvexStep(lam=1.0, alpha=alpha)
    cps = (5, 150, T)
    got = run_quadratic(array_stream(c), T, radius, step, cps, replicates=4, dim=d, chunk_size=64)
    for r in range(4):
        for j, n in enumerate(cps):
            _, regret = reference_quadratic(c[r, :n], radius, step)
            close(got[r, j], regret, f"regret of replicate {r} at t = {n}")


def test_projection_is_active_in_the_tests() -> None:
    """The reference comparison is only a test of the projection if the ball constrains the plays."""
    c = convex_instance(np.random.default_rng(0), "adversarial", 2, 300, 3)
    xs, _ = reference_linear(c[-1], 1.0, AdaptiveStep(2.0, gradient_bound("adversarial"), 0.5))
    assert np.max(np.linalg.norm(xs, axis=1)) == pytest.approx(1.0, abs=1e-12)
    xq, _ = reference_quadratic(quadratic_instance(np.random.default_rng(7), 1, 300, 3, 1.0)[0], 2.0,
                                StronglyConvexStep(1.0, 2.0))
    assert np.max(np.linalg.norm(xq, axis=1)) == pytest.approx(2.0, abs=1e-12)


def test_first_rounds_by_hand() -> None:
    """Two rounds of the adaptive schedule worked out by hand on one replicate (d = 1, radius 1, G = 1, delta = 0)."""
    step = AdaptiveStep(diameter=2.0, G=1.0, delta=0.0)
    learner = OptimisticOMD(1, 1, 1.0, step)
    assert float(learner.play()[0, 0]) == 0.0                   # x_1 = Pi[0 - eta_1 * 0]
    learner.update(np.array([[1.0]]))                            # g_1 = 1, V_1 = 1, xhat_2 = -eta_1 = -1
    assert float(learner.hat[0, 0]) == pytest.approx(-1.0)
    x2 = float(learner.play()[0, 0])                             # eta_2 = 2 / sqrt(4 + 1), x_2 = Pi[-1 - eta_2]
    assert x2 == pytest.approx(-1.0)
    assert float(learner.eta[0]) == pytest.approx(2 / math.sqrt(5))


# ----------------------------------------------------------------------------- comparators against cvxpy


@pytest.mark.parametrize("seed", range(4))
def test_linear_comparator_against_cvxpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d, radius = int(rng.integers(1, 6)), float(rng.uniform(0.3, 3.0))
    S = rng.standard_normal(d) * rng.uniform(0.1, 10.0)
    x = cp.Variable(d)
    value = cp.Problem(cp.Minimize(S @ x), [cp.norm(x, 2) <= radius]).solve(solver="CLARABEL")
    close(linear_hindsight_min(S[None, :], radius), [value], "min <S, x>", CVX_RTOL)


@pytest.mark.parametrize("seed", range(4))
def test_quadratic_comparator_against_cvxpy(seed: int) -> None:
    rng = np.random.default_rng(10 + seed)
    T, d = int(rng.integers(2, 40)), int(rng.integers(1, 5))
    radius = float(rng.uniform(0.2, 2.0))     # small radii: the projection of the mean is active for some seeds
    c = rng.normal(rng.uniform(-2, 2, d), 1.0, (T, d))
    x = cp.Variable(d)
    value = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(c - np.ones((T, 1)) @ cp.reshape(x, (1, d), order="C"))),
                       [cp.norm(x, 2) <= radius]).solve(solver="CLARABEL")
    got = quadratic_hindsight_min(c.sum(axis=0)[None, :], np.array([0.5 * np.sum(c * c)]), T, radius)
    close(got, [value], "min sum ||x - c_t||^2 / 2", CVX_RTOL)


def test_project_ball() -> None:
    y = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    close(project_ball(y, 1.0), [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]], "projection")


# ----------------------------------------------------------------------------- array API


def test_array_api_strict_matches_numpy() -> None:
    T, d = 120, 3
    c = convex_instance(np.random.default_rng(3), "mixed", 2, T, d)
    step = AdaptiveStep(2.0, gradient_bound("mixed"), 1.0)
    ref = run_linear(array_stream(c), T, 1.0, step, (50, T), replicates=c.shape[0], dim=d, G=2.5)
    got = run_linear(array_stream(c, xps), T, 1.0, step, (50, T), replicates=c.shape[0], dim=d, G=2.5, xp=xps)
    close(np.asarray(got), ref, "linear regret, array-api-strict")
    q = quadratic_instance(np.random.default_rng(4), 3, T, d, 0.5)
    ref_q = run_quadratic(array_stream(q), T, 2.0, StronglyConvexStep(1.0), (T,), replicates=3, dim=d)
    got_q = run_quadratic(array_stream(q, xps), T, 2.0, StronglyConvexStep(1.0), (T,), replicates=3, dim=d, xp=xps)
    close(np.asarray(got_q), ref_q, "quadratic regret, array-api-strict")
    # the simulation's own stream on the strict backend
    stream = convex_stream(np.random.default_rng(0), xps, "adversarial", 2, d)
    assert isinstance(stream(0, 10), type(xps.asarray(0.0)))


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_raise() -> None:
    c = np.zeros((2, 10, 3))
    good = AdaptiveStep(2.0, 1.0)
    with pytest.raises(ValueError, match="radius"):
        project_ball(c, 0.0)
    with pytest.raises(ValueError, match="diameter"):
        AdaptiveStep(-1.0, 1.0)
    with pytest.raises(ValueError, match="G"):
        AdaptiveStep(2.0, 0.0)
    with pytest.raises(ValueError, match="delta"):
        AdaptiveStep(2.0, 1.0, delta=-1e-3)
    with pytest.raises(ValueError, match="lam"):
        StronglyConvexStep(lam=0.0)
    with pytest.raises(ValueError, match="alpha"):
        StronglyConvexStep(lam=1.0, alpha=float("nan"))
    with pytest.raises(ValueError, match="diameter must equal"):
        OptimisticOMD(2, 3, 2.0, good)
    with pytest.raises(ValueError, match="replicates"):
        OptimisticOMD(0, 3, 1.0, good)
    with pytest.raises(ValueError, match="schedule"):
        OptimisticOMD(2, 3, 1.0, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="T must"):
        run_linear(array_stream(c), 0, 1.0, good, (1,), replicates=2, dim=3)
    with pytest.raises(ValueError, match="checkpoints"):
        run_linear(array_stream(c), 10, 1.0, good, (11,), replicates=2, dim=3)
    with pytest.raises(ValueError, match="checkpoints"):
        run_linear(array_stream(c), 10, 1.0, good, (5, 5), replicates=2, dim=3)
    with pytest.raises(ValueError, match="c must have shape"):
        run_linear(array_stream(c), 10, 1.0, good, (10,), replicates=3, dim=3)
    bad = c.copy()
    bad[1, 4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run_linear(array_stream(bad), 10, 1.0, good, (10,), replicates=2, dim=3)
    with pytest.raises(ValueError, match="NaN"):
        run_quadratic(array_stream(bad), 10, 1.0, StronglyConvexStep(1.0), (10,), replicates=2, dim=3)
    big = c.copy()
    big[0, 3, :] = 1.0
    with pytest.raises(ValueError, match="G ="):
        run_linear(array_stream(big), 10, 1.0, good, (10,), replicates=2, dim=3, G=1.0)
    learner = OptimisticOMD(2, 3, 1.0, good)
    with pytest.raises(ValueError, match="before play"):
        learner.update(np.zeros((2, 3)))
    learner.play()
    with pytest.raises(ValueError, match="twice"):
        learner.play()
    with pytest.raises(ValueError, match="grad must have shape"):
        learner.update(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="grad must not contain NaN"):
        learner.update(np.full((2, 3), np.inf))
    with pytest.raises(ValueError, match="family"):
        convex_stream(np.random.default_rng(0), np, "benign", 2, 3)


# ----------------------------------------------------------------------------- the instances satisfy the assumptions


@pytest.mark.parametrize("family", FAMILIES)
def test_gradient_bound_and_prefix_property(family: str) -> None:
    c = convex_instance(np.random.default_rng(1), family, 8, 500, 3)
    assert np.max(np.linalg.norm(c, axis=-1)) <= gradient_bound(family) * (1 + 1e-12)  # unit vectors: rounding
    shorter = convex_instance(np.random.default_rng(1), family, 8, 300, 3)
    assert np.array_equal(shorter, c[:, :300, :]), "the first rounds must not depend on the horizon"


def test_cumulative_variances_grow_like_T_to_the_c() -> None:
    """sigma_t^2 = ||c_t||^2 = t^(c-1) exactly for the stochastic family; the adversarial variation
    sum_t ||c_t - c_{t-1}||^2 has local log-log slope close to c (within 0.05 between T = 1000 and 10000)."""
    K, T = len(EXPONENTS), 10000
    sto = convex_instance(np.random.default_rng(2), "stochastic", 1, T, 2)
    t = np.arange(1, T + 1)
    for k, c in enumerate(EXPONENTS):
        close(np.sum(sto[k] ** 2, axis=-1), t ** (c - 1.0), f"sigma_t^2 at c = {c}", 1e-12)
    adv = convex_instance(np.random.default_rng(2), "adversarial", 4, T, 2).reshape(4, K, T, 2)
    diffs = np.concatenate([adv[:, :, :1, :], np.diff(adv, axis=2)], axis=2)   # grad F_0 = 0
    V = np.cumsum(np.sum(diffs**2, axis=-1), axis=-1).mean(axis=0)            # (K, T)
    for k, c in enumerate(EXPONENTS):
        slope = math.log(V[k, T - 1] / V[k, 999]) / math.log(10.0)
        assert abs(slope - c) < 0.05, f"Sigma^2_{{1:T}} slope {slope:.3f} at c = {c}"


def test_stochastic_learner_loss_has_mean_zero() -> None:
    """On the stochastic family the learner's loss sum_t <c_t, x_t> has mean 0 (x_t is chosen before c_t):
    checked at 5 standard errors on 512 runs (128 replicates, 4 exponents)."""
    T, d, n = 400, 3, 128
    c = convex_instance(np.random.default_rng(5), "stochastic", n, T, d)
    regret = run_linear(array_stream(c), T, 1.0, AdaptiveStep(2.0, 1.0), (T,), replicates=c.shape[0], dim=d)[:, 0]
    loss = regret - np.linalg.norm(c.sum(axis=1), axis=-1)      # regret = loss + radius ||S||
    assert abs(loss.mean()) <= 5 * loss.std(ddof=1) / math.sqrt(loss.size)
