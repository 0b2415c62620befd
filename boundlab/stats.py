"""Statistical building blocks: mean intervals, Holm's correction, log-log slopes with a stratified bootstrap.

Everything here is a pure function of arrays, so the calibration suite can drive it with synthetic data
whose truth is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeanTest:
    """A one-sample summary of x with one-sided t p-values against a band [low, high] for its mean."""

    mean: float
    se: float
    n: int

    @classmethod
    def of(cls, x: np.ndarray) -> MeanTest:
        x = np.asarray(x, dtype=float)
        n = x.size
        se = float(np.std(x, ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
        return cls(float(np.mean(x)), se, n)

    def _tail(self, t: float, upper: bool) -> float:
        if self.se == 0.0:
            return 0.0 if (t > 0 if upper else t < 0) else 1.0
        from scipy import stats  # imported on first use: `boundlab list` never needs it

        dist = stats.t(df=max(self.n - 1, 1))
        return float(dist.sf(t) if upper else dist.cdf(t))

    def p_above(self, value: float) -> float:
        """p-value of H0: mean <= value against H1: mean > value."""
        return self._tail((self.mean - value) / self.se if self.se > 0 else np.sign(self.mean - value), True)

    def p_below(self, value: float) -> float:
        """p-value of H0: mean >= value against H1: mean < value."""
        return self._tail((self.mean - value) / self.se if self.se > 0 else np.sign(self.mean - value), False)

    def detectable(self, alpha: float, power: float = 0.8) -> float:
        """How far the mean must lie past a one-sided test's boundary for the level-alpha t test to reject with
        the given power: (t_{1-alpha} + t_{power}) se."""
        from scipy import stats

        df = max(self.n - 1, 1)
        return float((stats.t.ppf(1.0 - alpha, df) + stats.t.ppf(power, df)) * self.se)

    def interval(self, alpha_each_side: float) -> tuple[float, float]:
        """Two-sided interval whose ends are the one-sided bounds at level ``alpha_each_side``."""
        if self.se == 0.0:
            return self.mean, self.mean
        from scipy import stats

        q = stats.t(df=max(self.n - 1, 1)).ppf(1.0 - alpha_each_side)
        return self.mean - q * self.se, self.mean + q * self.se


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
