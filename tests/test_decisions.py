"""Decision rules on hand-made data: each branch (consistent, violated, inconclusive) is reachable."""

from __future__ import annotations

import numpy as np
import pytest

from boundlab.decisions import (
    MeanEvidence,
    Nearest,
    SureEvidence,
    decide_expectation,
    decide_limit,
    decide_rate,
    decide_sure,
    sure_excess,
    sure_ratio,
)
from boundlab.stats import holm, ols_slope


def test_holm_matches_its_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # Sorted: 0.01 <= 0.05/4 yes; 0.03 <= 0.05/3 no -> stop. Only the first is rejected.
    assert holm(p, 0.05).tolist() == [True, False, False, False]
    assert holm([0.001, 0.001], 0.05).tolist() == [True, True]


def test_ols_slope_recovers_a_line_batchwise() -> None:
    x = np.log([1.0, 2.0, 4.0, 8.0])
    y = np.stack([3 * x + 1, -0.5 * x])
    np.testing.assert_allclose(ols_slope(x, y), [3.0, -0.5])


def test_sure_excess_handles_infinite_bounds_and_identities() -> None:
    excess = sure_excess(np.array([1.0, 1.0, 2.0]), np.array([np.inf, 1.0, 1.0]), "<=", 1e-9, 0.0)
    assert excess[0] == -np.inf and excess[1] == 0.0 and excess[2] > 1
    assert sure_excess(np.array([1.0]), np.array([np.inf]), "==", 1e-9, 1e-12)[0] == np.inf
    np.testing.assert_allclose(sure_ratio(np.array([1.0, 2.0]), np.array([2.0, 1.0]), ">="), [2.0, 0.5])


def test_sure_violation_keeps_the_worst_instance() -> None:
    ev = SureEvidence({"m": 3}, np.array([0.5, 1.2, 0.9]), np.ones(3), [{"index": i} for i in range(3)])
    d = decide_sure([ev], "<=", 1e-9, 0.0)
    assert d.verdict == "violated" and d.counterexample["index"] == 1
    assert d.tightness == pytest.approx(1.2)
    ok = decide_sure([SureEvidence({}, np.array([0.5]), np.ones(1), [{"index": 0}])], "<=", 1e-9, 0.0)
    assert ok.verdict == "consistent" and ok.tightness == pytest.approx(0.5)


def test_exact_claims_at_their_bound_are_defined_not_nan() -> None:
    # zero tolerance (integer claims such as a sparsity count): at the bound is 0, below is -inf, above is inf
    excess = sure_excess(np.array([2.0, 1.0, 3.0]), np.array([2.0, 2.0, 2.0]), "<=", 0.0, 0.0)
    assert list(excess) == [0.0, -np.inf, np.inf]
    ev = SureEvidence({"k": 2}, np.array([1.0, 2.0]), np.full(2, 2.0), [{"index": i} for i in range(2)])
    d = decide_sure([ev], "<=", 0.0, 0.0)
    assert d.verdict == "consistent" and d.counterexample is None
    point = d.points[0]
    assert point["max_excess"] == 0.0 and point["worst_gap"] == 0.0 and point["band"] == 0.0
    worse = decide_sure([SureEvidence({"k": 2}, np.array([3.0]), np.full(1, 2.0), [{"index": 0}])], "<=", 0.0, 0.0)
    assert worse.verdict == "violated" and worse.points[0]["worst_gap"] == 1.0


def test_expectation_three_outcomes() -> None:
    rng = np.random.default_rng(1)
    far_below = [MeanEvidence({"i": i}, 0.5 + 0.01 * rng.standard_normal(200), np.ones(200)) for i in range(3)]
    assert decide_expectation(far_below, "<=", 0.0, 0.05).verdict == "consistent"
    far_above = [MeanEvidence({"i": 0}, 2.0 + 0.01 * rng.standard_normal(200), np.ones(200))]
    assert decide_expectation(far_above, "<=", 0.0, 0.05).verdict == "violated"
    at_bound = [MeanEvidence({"i": 0}, 1.0 + rng.standard_normal(20), np.ones(20))]
    assert decide_expectation(at_bound, "<=", 0.0, 0.05).verdict == "inconclusive"
    equal = [MeanEvidence({"i": 0}, 1.0 + 0.001 * rng.standard_normal(200), np.ones(200))]
    assert decide_expectation(equal, "==", 0.01, 0.05).verdict == "consistent"


def test_expectation_on_a_small_skewed_sample_is_inconclusive_on_its_short_tail_side() -> None:
    """16 exponential draws (mean 1.41) are too few for their skewness, and their short tail is below the mean:
    the guard stops the test of the mean being too small. E[Q] <= 3 cannot be confirmed (inconclusive, with the
    reason), E[Q] >= 3 cannot be refuted (inconclusive, no resolution), E[Q] <= 0.5 is still refuted (the
    long-tail side tests)."""
    q = np.random.default_rng(4).exponential(size=16)

    def decide(op: str, bound: float):
        return decide_expectation([MeanEvidence({"i": 0}, q, np.full(16, bound))], op, 0.0, 0.05)

    upper = decide("<=", 3.0)
    assert upper.verdict == "inconclusive" and "Cochran" in upper.reason
    assert upper.details["short_tail_guarded_points"] == 1 and np.isfinite(upper.resolution["relative_deviation"])
    lower = decide(">=", 3.0)
    assert lower.verdict == "inconclusive" and lower.resolution["relative_deviation"] is None
    assert decide("<=", 0.5).verdict == "violated"


def test_rate_orders_and_inconclusive_short_sweep() -> None:
    rng = np.random.default_rng(2)
    x = np.array([10.0, 100.0, 1000.0, 10000.0])
    samples = [v**0.5 * rng.lognormal(-0.125, 0.5, 200) for v in x]
    args = (0.1, 0.05, "power", False)
    assert decide_rate(x, samples, x**0.5, "Theta", *args).verdict == "consistent"
    assert decide_rate(x, samples, x**0.5, "Omega", *args).verdict == "consistent"
    assert decide_rate(x, samples, x**1.0, "Omega", *args).verdict == "violated"
    assert decide_rate(x, samples, x**0.0, "O", 0.1, 0.05, "power", False).verdict == "violated"
    short = np.array([10.0, 11.0, 12.0, 13.0])
    noisy = [v**0.5 * rng.lognormal(-0.5, 1.0, 10) for v in short]
    assert decide_rate(short, noisy, short**0.5, "Theta", *args).verdict == "inconclusive"
    negative = [-np.ones(5), np.ones(5), np.ones(5)]
    assert decide_rate(short[:3], negative, short[:3], "O", 0.1, 0.05, "power", False).verdict == "inconclusive"


def test_rate_resolution_gates_consistent() -> None:
    """A claim inside its margin is only consistent when the check could have refuted its nearest mutant."""
    rng = np.random.default_rng(3)
    x = np.array([1e3, 3e3, 1e4, 3e4, 1e5])
    log_x = np.log(x)
    sharp = [5 * v - 10 + 0.2 * rng.standard_normal(256) for v in log_x]
    blunt = [5 * v - 10 + 20.0 * rng.standard_normal(256) for v in log_x]
    args = ("Theta", 0.25, 0.05, "log-power", True)
    near = Nearest(above=("sqrt-log", 0.5), below=("log-squared", 1.0))
    sharp_decision = decide_rate(x, sharp, log_x, *args, nearest=near)
    assert sharp_decision.verdict == "consistent"
    assert sharp_decision.resolution["relevant"] < 0.5
    blunt_decision = decide_rate(x, blunt, log_x, *args, nearest=near)
    assert blunt_decision.verdict != "violated"
    inside = blunt_decision.details["deviation"]["ci"]
    if -0.25 <= inside[0] and inside[1] <= 0.25:  # inside the margin by luck: the resolution must stop it
        assert blunt_decision.verdict == "inconclusive" and "too blunt" in blunt_decision.reason
    assert blunt_decision.resolution["relevant"] > 0.5


def test_log_truth_refutes_its_false_neighbours() -> None:
    """On c log n - k with little noise: O(sqrt log n), O(log log n), Theta(log^2 n), Theta(n^0.1) are violated;
    Theta(log n), O(log^2 n), O(sqrt n), Omega(1) are not."""
    rng = np.random.default_rng(4)
    x = np.array([1e3, 3e3, 1e4, 3e4, 1e5])
    L = np.log(x)
    data = [5 * v - 10 + 0.5 * rng.standard_normal(128) for v in L]
    false = [(np.sqrt(L), "O", "log-power", True, 0.25), (np.log(L), "O", "log-power", True, 0.25),
             (L**2, "Theta", "log-power", True, 0.25), (x**0.1, "Theta", "power", True, 0.05)]
    for shape, order, units, offset, margin in false:
        assert decide_rate(x, data, shape, order, margin, 0.05, units, offset).verdict == "violated", (order, units)
    true = [(L, "Theta", "log-power", True, 0.25), (L**2, "O", "log-power", True, 0.25),
            (x**0.5, "O", "power", True, 0.05), (np.ones_like(x), "Omega", "log-power", False, 0.25)]
    for shape, order, units, offset, margin in true:
        assert decide_rate(x, data, shape, order, margin, 0.05, units, offset).verdict == "consistent", (order, units)


def test_limit_reaches_settles_or_grows() -> None:
    x = np.array([1.0, 10.0, 100.0])
    final = x == 100.0
    reach = [np.full(4, 1.0 / v**3) for v in x]
    assert decide_limit(x, reach, 1e-5, final, "max", 0.05).verdict == "consistent"
    settle = [np.full(4, 0.1 + 1 / v) for v in x]
    assert decide_limit(x, settle, 1e-5, final, "max", 0.05).verdict == "violated"
    grow = [np.full(4, 1e-8 * v) for v in x]  # 1e-8 -> 1e-6: below tol, but moving away
    assert decide_limit(x, grow, 1e-5, final, "max", 0.05).verdict == "inconclusive"


def test_non_finite_measurements_are_decided_not_crashed() -> None:
    """An infinite value on the bounded side violates an expectation claim (the mean is infinite); NaN leaves it
    undefined (inconclusive); an infinite final distance violates a limit claim; nothing crashes or passes."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal(64) * 0.1
    with_inf = q.copy()
    with_inf[5] = np.inf
    with_nan = q.copy()
    with_nan[7] = np.nan
    ok = MeanEvidence({"n": 1}, q, np.ones(64))
    up = decide_expectation([ok, MeanEvidence({"n": 2}, with_inf, np.ones(64))], "<=", 0.0, 0.05)
    assert up.verdict == "violated" and up.counterexample["replicate"] == 5
    assert decide_expectation([MeanEvidence({"n": 2}, -with_inf, np.ones(64))], ">=", 0.0, 0.05).verdict == \
        "violated"
    harmless = decide_expectation([MeanEvidence({"n": 2}, -with_inf, np.ones(64))], "<=", 0.0, 0.05)
    assert harmless.verdict == "inconclusive" and "not finite" in harmless.reason
    nan = decide_expectation([MeanEvidence({"n": 2}, with_nan, np.ones(64))], "==", 0.0, 0.05)
    assert nan.verdict == "inconclusive" and nan.details["non_finite"][0]["count"] == 1
    x = np.array([10.0, 100.0, 1000.0])
    d = [np.abs(q) + 1.0 / v for v in x]
    assert decide_limit(x, d, 0.5, x == x.max(), "mean", 0.05).verdict == "consistent"
    diverged = [d[0], d[1], np.where(np.arange(64) == 3, np.inf, d[2])]
    lim = decide_limit(x, diverged, 0.5, x == x.max(), "mean", 0.05)
    assert lim.verdict == "violated" and lim.counterexample["replicate"] == 3
    early_inf = [np.where(np.arange(64) == 3, np.inf, d[0]), d[1], d[2]]
    assert decide_limit(x, early_inf, 0.5, x == x.max(), "max", 0.05).verdict == "inconclusive"
    nan_lim = decide_limit(x, [d[0], d[1], np.where(np.arange(64) == 3, np.nan, d[2])], 0.5, x == x.max(), "mean",
                           0.05)
    assert nan_lim.verdict == "inconclusive"
