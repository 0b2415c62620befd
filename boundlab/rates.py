"""The fit behind rate claims: how far the data deviate from the claimed shape, in the claim's own units.

A rate claim says Q(n) = O/Theta/Omega(g(n)). The deviation family multiplies the claimed shape by a power of
the claim's *unit variable* w(n):

    Q(n) = A + B g(n) w(n)^delta        (A only when g grows: then a constant is a lower-order term)

with w = n for shapes with a power of n (``units="power"``: delta is an exponent of n) and w = log n for shapes
that are pure log factors (``units="log-power"``: delta is a power of log n). delta = 0 is the claimed law.
Over n in [1e3, 1e5], log n adds only about 0.11 to a log-log slope in n, so a deviation of one power of
log n is a large, resolvable effect in log-power units, whereas it is lost in an exponent margin of 0.1.

The fit is weighted least squares on the per-point means (weights 1/se^2), profiled over a grid of delta
(the model is linear in A and B for fixed delta), refined by parabolic interpolation. The interval comes from
a stratified bootstrap of the means (replicates resampled within each sweep point, since points are
independent experiments), with its deviations inflated by sqrt(n / (n - 1)) t_{n-1} / z, a small-sample
correction measured in the calibration. The resolution is read off the same bootstrap distribution: the
smallest true deviation that the decision would detect with 80% power (see :func:`resolution`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from boundlab.stats import scipy_stats as stats

Units = Literal["power", "log-power"]
GRID = np.linspace(-8.0, 8.0, 801)  # step 0.02 in the claim's units
POWER = 0.8


def unit_log(x: np.ndarray, units: Units) -> np.ndarray:
    """log w(n): log n in power units, log log n in log-power units (needs n > 1)."""
    x = np.asarray(x, float)
    return np.log(x) if units == "power" else np.log(np.log(x))


def _bases(logg: np.ndarray, logw: np.ndarray, offset: bool, grid: np.ndarray) -> np.ndarray:
    """Design matrices (G, P, k) of the model at every delta on the grid, in a well-conditioned basis.

    With an offset the column space {1, g w^delta} is what matters, so g w^delta is replaced by the Box-Cox-like
    column expm1(L - mean L) / (sign(kappa) max|L - mean L|), with L = log g + delta log w and kappa the slope of
    L on log w. It increases with n whichever the sign of kappa (as (n^kappa - 1) / kappa does), so a positive
    coefficient always means "grows like the shape", and it tends to the log-linear direction when g w^delta is
    nearly constant (a pure power at delta = -a), where the plain basis degenerates.
    """
    L = logg[None, :] + grid[:, None] * logw[None, :]
    x = L - L.mean(axis=1, keepdims=True)
    if not offset:
        return np.exp(x)[:, :, None]
    wc = logw - logw.mean()
    kappa = x @ wc / (wc @ wc)
    s = np.max(np.abs(x), axis=1) * np.where(kappa < 0, -1.0, 1.0)
    flat = np.abs(s) < 1e-9
    z = np.expm1(x) / np.where(flat, 1.0, s)[:, None]
    z[flat] = wc / np.max(np.abs(wc))
    return np.stack([np.ones_like(z), z], axis=-1)


def admissible(logg: np.ndarray, logw: np.ndarray, offset: bool, grid: np.ndarray) -> np.ndarray:
    """Grid points the fit may use. With an offset (a growing shape), g w^delta must still grow along the sweep
    on average (slope of log(g w^delta) on log w >= 0): slower truths, down to a constant, are the boundary
    delta or the fit without the shape column. Beyond it the family folds back (a decreasing column with the
    sign flipped) and, for shapes that are not pure powers such as log log n, fits a linear truth a second
    time at a spurious delta."""
    if not offset:
        return np.ones(grid.size, bool)
    wc = logw - logw.mean()
    kappa = (logg @ wc + grid * (logw @ wc)) / (wc @ wc)
    return kappa >= -1e-9


def _ssr_profile(X0: np.ndarray, rows: np.ndarray, weights: np.ndarray, y: np.ndarray, offset: bool) -> np.ndarray:
    """Weighted SSR (G,) of the fit of y on the columns of X0 at every grid point, with the shape coefficient
    held >= 0 (where the free fit has B < 0, the fit without the shape column replaces it): the quantity is
    fitted as growing like the shape, or not at all."""
    coef = rows @ y  # (G, k)
    fitted = np.einsum("gpk,gk->gp", X0, coef)
    ssr = ((y[None, :] - fitted) ** 2 * weights[None, :]).sum(axis=1)
    level = (weights @ y) / weights.sum() if offset else 0.0
    restricted = float(((y - level) ** 2 * weights).sum())
    return np.where(coef[:, -1] < 0, restricted, ssr)


def _argmin_refined(ssr: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Minimiser on the grid of each row, refined by a parabola through the three grid values around it."""
    i = np.clip(np.argmin(ssr, axis=1), 1, grid.size - 2)
    rows = np.arange(ssr.shape[0])
    f0, f1, f2 = ssr[rows, i - 1], ssr[rows, i], ssr[rows, i + 1]
    denominator = f0 - 2.0 * f1 + f2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where((denominator > 0) & np.isfinite(denominator), 0.5 * (f0 - f2) / denominator, 0.0)
    step = grid[1] - grid[0]
    best = np.argmin(ssr, axis=1)
    finite = np.isfinite(ssr)
    first, last = np.argmax(finite, axis=1), grid.size - 1 - np.argmax(finite[:, ::-1], axis=1)
    at_edge = (best == first) | (best == last)
    refined = grid[i] + np.clip(shift, -1.0, 1.0) * step
    return np.where(at_edge, grid[best], refined)


@dataclass(frozen=True)
class DeviationFit:
    """The deviation delta from the claimed law in the claim's units: a point estimate, the score test of
    delta = d0 at every grid value d0, and what the experiment could detect.

    ``t[j]`` is the test statistic of H0: delta = grid[j] (positive: the data grow faster than the shape at
    that delta), with ``df`` Welch-Satterthwaite degrees of freedom. ``noncentrality(d0, delta)`` is its mean
    under a true deviation delta with the fitted amplitude, for the resolution.
    """

    delta: float
    grid: np.ndarray
    allowed: np.ndarray
    t: np.ndarray
    df: np.ndarray
    units: Units
    offset: float | None
    scale: float
    decreasing: bool
    at_grid_edge: bool
    _tests: np.ndarray  # (G, P): the linear statistic of the test at each grid value, oriented, per unit se
    _laws: np.ndarray  # (G, P): the mean at each sweep point under each true deviation (fitted amplitude)

    def _crit(self, j: int, level: float) -> float:
        return float(stats.t.ppf(level, max(self.df[j], 1.0)))

    def test(self, d0: float, alpha: float) -> tuple[float, float]:
        """(t, one-sided critical value) of the test of delta = d0."""
        j = self._index(d0)
        return float(self.t[j]), self._crit(j, 1.0 - alpha)

    def _index(self, d0: float) -> int:
        candidates = np.flatnonzero(self.allowed)
        return int(candidates[np.argmin(np.abs(self.grid[candidates] - d0))])

    def interval(self, alpha: float) -> tuple[float, float]:
        """Confidence interval by inverting the tests, each end a one-sided bound at level alpha: from the point
        estimate upwards, the last d0 before the data show too fast a growth (t < -crit); downwards, the last d0
        before they show too slow a growth (t > crit). Only the stretch around the estimate counts: far from it
        the linearised test loses its power and would let spurious values of d0 in. An end that reaches the edge
        of the grid is returned as -inf/+inf (the data cannot bound it); an end at the slowest growth the family
        holds (a bounded quantity, for a growing shape) is a real end."""
        if self.decreasing:
            return -np.inf, -np.inf
        idx = np.flatnonzero(self.allowed)
        crit = stats.t.ppf(1.0 - alpha, np.maximum(self.df[idx], 1.0))
        start = int(np.argmin(np.abs(self.grid[idx] - self.delta)))
        too_fast = self.t[idx] < -crit
        too_slow = self.t[idx] > crit
        above = np.flatnonzero(too_fast[start:])
        below = np.flatnonzero(too_slow[: start + 1][::-1])
        if above.size:
            high = float(self.grid[idx[max(start + above[0] - 1, 0)]])
        else:
            high = np.inf
        if below.size:
            low = float(self.grid[idx[min(start - below[0] + 1, idx.size - 1)]])
        elif idx[0] == 0:
            low = -np.inf
        else:
            low = float(self.grid[idx[0]])
        if high < low:  # rejected on both sides of the estimate at once: no value is compatible
            high = low = float(self.delta)
        half_step = 0.5 * float(self.grid[1] - self.grid[0])  # the tests ran on a grid: widen by half a step
        return low - half_step, high + half_step

    def resolution(self, margin: float, alpha: float) -> tuple[float, float]:
        """Smallest true deviations above (+) and below (-) the claimed law that the decision detects with 80%
        power at this budget: the test at +margin (-margin) rejects with probability >= 0.8, computed from the
        test's noncentrality under each true deviation with the fitted amplitude and the measured per-point
        standard errors. inf when no deviation inside the model's range is detected that often."""
        up_j, down_j = self._index(margin), self._index(-margin)
        need_up = self._crit(up_j, 1.0 - alpha) + self._crit(up_j, POWER)
        need_down = self._crit(down_j, 1.0 - alpha) + self._crit(down_j, POWER)
        signal_up, signal_down = self._laws @ self._tests[up_j], self._laws @ self._tests[down_j]
        above = np.flatnonzero(self.allowed & (self.grid > margin) & (signal_up >= need_up))
        below = np.flatnonzero(self.allowed & (self.grid < -margin) & (signal_down <= -need_down))
        up = float(self.grid[above.min()]) if above.size else np.inf
        down = float(-self.grid[below.max()]) if below.size else np.inf
        return up, down


def _functionals(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rows (G, k, P): coefficient j of the weighted least-squares fit is rows[:, j] @ y."""
    WX = weights[None, :, None] * X
    gram = np.einsum("gpk,gpl->gkl", X, WX)
    # pinv: a degenerate grid point gives 0, not an error; the Gram matrices are symmetric, so an eigendecomposition
    # does (a third of the SVD's time)
    return np.linalg.pinv(gram, hermitian=True) @ np.swapaxes(WX, 1, 2)


def smoothed_variances(x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """The variances of the point means as the weights of the fit see them: a least-squares line in log var
    against log x, evaluated at each point (the raw variances with fewer than 3 points).

    Weighting each point by its own sample variance makes the weights depend on the same noise as the means: for
    right-skewed data a point whose sample caught a large value has both a high mean and a high variance, so it
    is down-weighted exactly when it is high. Over 1000 seeds this took the false-violation rate of an O(n^0.5)
    claim at the edge of its margin from 0.05 to 0.059 (log-normal noise, 64 replicates) and to 0.093 (Pareto(3)
    noise); with weights from the fitted line, 0.048 and 0.046 over 500 seeds, at the same power. The standard
    errors of the tests still use each point's own variance."""
    if var.size < 3 or not np.all(np.isfinite(var)) or np.any(var <= 0):
        return var
    lx = np.log(x)
    design = np.stack([np.ones_like(lx), lx], axis=1)
    coef, *_ = np.linalg.lstsq(design, np.log(var), rcond=None)
    return np.exp(design @ coef)


def fit_deviation(
    x: np.ndarray,
    samples: Sequence[np.ndarray],
    shape: np.ndarray,
    units: Units,
    offset: bool,
    paired: bool = False,
) -> DeviationFit:
    """Fit Q = [A +] B g w^delta to the per-point means, and test delta = d0 at every grid value d0.

    The test of delta = d0 is a score test: add the derivative column d(g w^delta)/d(delta) at d0 to the
    model and test its coefficient C = 0 (a linear statistic of the means, exact under the null whatever
    the weights; its variance is sum c_i^2 se_i^2 with the measured standard errors). C > 0 means the data
    curve upwards away from the shape at d0, i.e. grow faster. Without the shape direction (the fitted B
    significantly < 0 for a growing shape) the quantity decreases: ``decreasing`` is set.

    ``paired``: replicate r of every sweep point comes from the same random numbers (common random numbers, e.g.
    one trajectory observed at several horizons). The variance of each linear statistic is then that of its
    per-replicate values, which keeps the covariance between points, and its degrees of freedom are n - 1.
    """
    logg = np.log(np.asarray(shape, float))
    logw = unit_log(x, units)
    data = [np.asarray(s, float) for s in samples]
    means = np.array([s.mean() for s in data])
    counts = np.array([s.size for s in data], float)
    var = np.array([s.var(ddof=1) / s.size if s.size > 1 else np.inf for s in data])
    floor = (1e-12 * max(float(np.max(np.abs(means))), 1e-300)) ** 2
    var = np.maximum(var, floor)
    smooth = smoothed_variances(np.asarray(x, float), var)
    weights = (1.0 / smooth) / np.mean(1.0 / smooth)
    allowed = admissible(logg, logw, offset, GRID)

    X0 = _bases(logg, logw, offset, GRID)
    eps = 1e-4
    dz = (_bases(logg, logw, offset, GRID + eps)[..., -1] - _bases(logg, logw, offset, GRID - eps)[..., -1]) / (2 * eps)
    rows = _functionals(np.concatenate([X0, dz[..., None]], axis=2), weights)
    c = rows[:, -1, :]  # (G, P)
    b = _functionals(X0, weights)[:, -1, :]  # the shape coefficient B of the fit without the derivative
    B = b @ means
    se_B = np.sqrt((b**2) @ var)
    orient = np.where(B < 0, -1.0, 1.0)
    C = orient * (c @ means)
    if paired:
        if len(set(counts.tolist())) != 1:
            raise ValueError("paired samples need the same number of replicates at every sweep point")
        per_replicate = np.stack(data, axis=1) @ c.T  # (n, G)
        se_C = np.sqrt(np.maximum(per_replicate.var(axis=0, ddof=1) / counts[0], floor))
        df = np.full(GRID.size, counts[0] - 1.0)
        bvals = np.stack(data, axis=1) @ b.T
        se_B = np.sqrt(np.maximum(bvals.var(axis=0, ddof=1) / counts[0], floor))
    else:
        v = c**2 * var[None, :]
        se_C = np.sqrt(v.sum(axis=1))
        df = v.sum(axis=1) ** 2 / np.maximum((v**2 / np.maximum(counts - 1, 1)[None, :]).sum(axis=1), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se_C > 0, C / se_C, 0.0)

    ssr = np.where(allowed, _ssr_profile(X0, _functionals(X0, weights), weights, means, offset), np.inf)[None, :]
    delta = float(_argmin_refined(ssr, GRID)[0])
    best = int(np.argmin(ssr[0]))
    at_edge = best in (0, GRID.size - 1) or not allowed[max(best - 1, 0)]

    # The claimed law (delta = 0) fitted to these data gives the amplitude of the deviations whose detection
    # the resolution measures. With an offset the level is irrelevant, so the deviating laws share the claimed
    # law's slope at the centre of the sweep (as Box-Cox curves do); without one they share its level there.
    j0 = int(np.argmin(np.abs(GRID)))
    x_centred = (logg - logg.mean())[None, :] + GRID[:, None] * (logw - logw.mean())[None, :]
    sw = np.sqrt(weights)
    if offset:
        wc = logw - logw.mean()
        kappa = x_centred @ wc / (wc @ wc)
        safe = np.where(np.abs(kappa) < 1e-9, 1.0, kappa)
        curves = np.where(np.abs(kappa)[:, None] < 1e-9, wc[None, :], np.expm1(x_centred) / safe[:, None])
        curves = curves * kappa[j0]
        design = np.stack([np.ones_like(curves[j0]), curves[j0]], axis=1)
    else:
        curves = np.exp(x_centred)
        design = curves[j0][:, None]
    coef, *_ = np.linalg.lstsq(design * sw[:, None], means * sw, rcond=None)
    amplitude = float(coef[-1])
    tests = c * (orient / np.where(se_C > 0, se_C, np.inf))[:, None]
    j_claim = j0
    decreasing = bool(offset and B[j_claim] < 0 and B[j_claim] / se_B[j_claim] < -stats.norm.ppf(0.975))
    return DeviationFit(
        delta=delta,
        grid=GRID,
        allowed=allowed,
        t=t,
        df=df,
        units=units,
        offset=float(coef[0]) if offset else None,  # level at the centre of the sweep
        scale=amplitude,
        decreasing=decreasing,
        at_grid_edge=at_edge,
        _tests=tests,
        _laws=amplitude * curves,  # constants do not change the test statistics
    )


def unit_distance(x: np.ndarray, shape: np.ndarray, other: np.ndarray, units: Units) -> float:
    """How far ``other`` lies from ``shape`` over the sweep, in the claim's units: the least-squares slope of
    log(other / shape) on log w."""
    logw = unit_log(x, units)
    y = np.log(np.asarray(other, float)) - np.log(np.asarray(shape, float))
    xc = logw - logw.mean()
    return float(np.sum(xc * (y - y.mean())) / np.sum(xc * xc))
