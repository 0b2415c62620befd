"""Statistical building blocks: skewness-corrected mean tests and intervals, Holm's correction, OLS slopes.

Everything here is a pure function of arrays, so the calibration suite can drive it with synthetic data
whose truth is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The smallest sample on which MeanTest corrects for skewness (see MeanTest).
MIN_SKEW_SAMPLE = 50


@dataclass(frozen=True)
class MeanTest:
    """A one-sample summary of x with one-sided p-values and intervals for its mean.

    The studentised mean T = (mean - mu) / se is corrected for the sample's skewness by Hall's (1992) monotone
    cubic transformation, H(T) = T + a/6 + a T^2/3 + a^2 T^3/27 with a = skew / sqrt(n), and H is referred to
    Student's t with n - 1 degrees of freedom (P. Hall, "On the removal of skewness by transformation", JRSS B
    54 (1992) 221-228). For symmetric data (skew 0) this is the t test. For skewed data the plain t test is
    anti-conservative on the side of the short tail: over 4000 seeds of a two-sided test at 4 points (Holm,
    alpha 0.05) on log-normal (sigma 1) data with 100 replicates, 0.154 false violations with t and 0.077 with
    Hall's transformation; on exponential data 0.068 and 0.049; on Gaussian data both 0.050. Intervals invert
    the same tests (H is increasing in T, with a closed-form inverse).

    Below :data:`MIN_SKEW_SAMPLE` replicates the correction is not applied (the plain t test): the sample
    skewness is then too noisy (standard error about sqrt(6 / n)) and the inverse transformation stretches an
    interval's far end without bound for a large negative estimate.
    """

    mean: float
    se: float
    n: int
    skew: float = 0.0

    @classmethod
    def of(cls, x: np.ndarray) -> MeanTest:
        x = np.asarray(x, dtype=float)
        n = x.size
        se = float(np.std(x, ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
        return cls(float(np.mean(x)), se, n, sample_skewness(x) if n >= MIN_SKEW_SAMPLE else 0.0)

    @property
    def _a(self) -> float:
        return self.skew / np.sqrt(self.n) if self.n > 0 else 0.0

    def transformed(self, t: float) -> float:
        """Hall's H(t): the skewness-corrected studentised mean."""
        a = self._a
        return float(t + a / 6.0 + a * t**2 / 3.0 + a**2 * t**3 / 27.0)

    def untransformed(self, h: float) -> float:
        """The t with H(t) = h (H(t) = ((1 + a t / 3)^3 - 1) / a + a / 6, so t = 3 (cbrt(1 + a (h - a/6)) - 1) / a)."""
        a = self._a
        if abs(a) < 1e-12:
            return float(h)
        return float(3.0 * (np.cbrt(1.0 + a * (h - a / 6.0)) - 1.0) / a)

    def _tail(self, t: float, upper: bool) -> float:
        if self.se == 0.0:
            return 0.0 if (t > 0 if upper else t < 0) else 1.0
        from scipy import stats  # imported on first use: `boundlab list` never needs it

        dist = stats.t(df=max(self.n - 1, 1))
        h = self.transformed(t)
        return float(dist.sf(h) if upper else dist.cdf(h))

    def p_above(self, value: float) -> float:
        """p-value of H0: mean <= value against H1: mean > value."""
        return self._tail((self.mean - value) / self.se if self.se > 0 else np.sign(self.mean - value), True)

    def p_below(self, value: float) -> float:
        """p-value of H0: mean >= value against H1: mean < value."""
        return self._tail((self.mean - value) / self.se if self.se > 0 else np.sign(self.mean - value), False)

    def detectable(self, alpha: float, power: float = 0.8) -> float:
        """How far the mean must lie past a one-sided test's boundary for the level-alpha t test to reject with
        the given power: (t_{1-alpha} + t_{power}) se (the symmetric approximation)."""
        from scipy import stats

        df = max(self.n - 1, 1)
        return float((stats.t.ppf(1.0 - alpha, df) + stats.t.ppf(power, df)) * self.se)

    def interval(self, alpha_each_side: float) -> tuple[float, float]:
        """Two-sided interval whose ends are the one-sided bounds at level ``alpha_each_side`` (the values mu
        that the one-sided tests do not reject)."""
        if self.se == 0.0:
            return self.mean, self.mean
        from scipy import stats

        q = stats.t(df=max(self.n - 1, 1)).ppf(1.0 - alpha_each_side)
        # mu is rejected as too large when H((mean - mu)/se) < -q, as too small when H(...) > q
        low = self.mean - self.untransformed(q) * self.se
        high = self.mean - self.untransformed(-q) * self.se
        if not (np.isfinite(low) and np.isfinite(high)):  # pragma: no cover - guarded by the cube root
            return self.mean - q * self.se, self.mean + q * self.se
        return float(low), float(high)


def sample_skewness(x: np.ndarray) -> float:
    """Adjusted Fisher-Pearson sample skewness G1 (scipy.stats.skew with bias=False); 0 when undefined
    (fewer than 3 values, or no spread)."""
    x = np.asarray(x, dtype=float).ravel()
    n = x.size
    if n < 3:
        return 0.0
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    if not np.isfinite(m2) or m2 <= 0.0:
        return 0.0
    g1 = float(np.mean(d**3)) / m2**1.5
    return float(g1 * np.sqrt(n * (n - 1)) / (n - 2)) if np.isfinite(g1) else 0.0


def holm(pvalues: Sequence[float], alpha: float) -> np.ndarray:
    """Holm's step-down procedure: a boolean mask of the hypotheses rejected at family-wise level alpha."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    rejected = np.zeros(p.size, dtype=bool)
    for rank, index in enumerate(order):
        if p[index] > alpha / (p.size - rank):
            break
        rejected[index] = True
    return rejected


def ols_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on x along the last axis (y may carry leading batch axes)."""
    x = np.asarray(x, dtype=float)
    xc = x - x.mean()
    yc = y - np.mean(y, axis=-1, keepdims=True)
    return np.sum(xc * yc, axis=-1) / np.sum(xc * xc)


class _LazyScipyStats:
    """``scipy.stats``, imported on first attribute access (it costs most of a second, and ``boundlab list``
    never needs it)."""

    def __getattr__(self, name: str) -> object:
        from scipy import stats

        return getattr(stats, name)


scipy_stats = _LazyScipyStats()
