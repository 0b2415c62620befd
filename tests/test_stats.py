"""boundlab.stats: the skewness estimate and its jackknife bound against slow references, and the short-tail
guard of MeanTest (which side it stops, and what an interval then bounds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from boundlab.stats import COCHRAN, MeanTest, sample_skewness, skewness_upper_bound


def _slow_jackknife_bound(x: np.ndarray, z: float) -> float:
    n = x.size
    loo = np.array([stats.skew(np.delete(x, i), bias=False) for i in range(n)])
    se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))
    return abs(stats.skew(x, bias=False)) + z * se


@pytest.mark.parametrize("seed", range(5))
def test_skewness_and_its_bound_against_scipy_and_a_leave_one_out_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 0.8, size=int(rng.integers(5, 60))) * 1e3  # scale free: large values are fine
    assert sample_skewness(x) == pytest.approx(stats.skew(x, bias=False), rel=1e-9)
    assert skewness_upper_bound(x, 1.5) == pytest.approx(_slow_jackknife_bound(x, 1.5), rel=1e-7)


def test_bound_is_infinite_when_no_skewness_is_estimable() -> None:
    assert skewness_upper_bound(np.array([1.0, 2.0, 4.0])) == np.inf
    assert skewness_upper_bound(np.full(10, 3.0)) == 0.0


def test_the_guard_stops_the_short_tail_side_of_a_small_skewed_sample() -> None:
    x = np.random.default_rng(0).exponential(size=16)  # right skewed: the short tail is below
    test = MeanTest.of(x)
    assert test.n < COCHRAN * test.skew_bound**2 and not test.normal_enough
    assert test.trusted(upper=True) and not test.trusted(upper=False)
    assert test.p_below(10.0) == 1.0  # a mean of 10 is not rejected as too large on the short-tail side
    assert test.p_above(0.0) < 0.01  # the long-tail side still tests (mean 1.36, se 0.40)
    low, high = test.interval(0.025)
    assert np.isfinite(low) and high == np.inf


def test_a_large_gaussian_sample_passes_the_guard_and_is_a_t_test() -> None:
    x = np.random.default_rng(1).standard_normal(2000)
    test = MeanTest.of(x)
    assert test.normal_enough and test.trusted(True) and test.trusted(False)
    mu = x.mean() + 2.0 * x.std(ddof=1) / np.sqrt(x.size)  # t = -2
    t = stats.ttest_1samp(x, mu, alternative="less")
    # Hall's correction with |skew| ~ 0.05 at n = 2000 moves a p-value near 0.02 by about 1%
    assert test.p_below(mu) == pytest.approx(t.pvalue, rel=0.03)


def test_clopper_pearson_matches_scipy_binomtest() -> None:
    """The beta-quantile bounds are scipy's exact (root-found) interval, at the ends (k = 0, k = n) and between."""
    from scipy.stats import binomtest

    from boundlab.kinds.high_probability import clopper_pearson

    for n in (1, 7, 200, 2000):
        for k in sorted({0, 1, n // 3, n - 1, n}):
            for level in (0.025, 0.05, 0.2):
                ci = binomtest(k, n).proportion_ci(confidence_level=1.0 - 2.0 * level, method="exact")
                low, high = clopper_pearson(k, n, level)
                assert abs(low - ci.low) <= 1e-10 and abs(high - ci.high) <= 1e-10, (k, n, level)
