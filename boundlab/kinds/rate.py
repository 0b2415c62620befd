"""Rate claims: Q = O/Theta/Omega(g) in a swept variable, decided on the deviation from the claimed law in the
claim's own units (boundlab.rates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from boundlab import asymptotics
from boundlab.errors import MeasurementError, UsageError
from boundlab.experiments import FIDELITIES
from boundlab.kinds.base import Claim, Decision, PointData, Searched, _f, tightness_headline
from boundlab.rates import Units, fit_deviation, unit_distance
from boundlab.statements import Asymptotic, Statement
from boundlab.stats import MeanTest, ols_slope
from boundlab.stats import scipy_stats as stats

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from boundlab.results import Result


@dataclass(frozen=True)
class Nearest:
    """The nearest mutant on each side of a claim, as its distance in the claim's units (None: no mutant on
    that side). A claim is only `consistent` when its resolution on the side it can fail is finer."""

    above: tuple[str, float] | None = None
    below: tuple[str, float] | None = None


def _exponent_of_q(x: np.ndarray, samples: Sequence[np.ndarray], alpha: float) -> tuple[float, list[float]] | None:
    """Least-squares slope of log(mean Q) on log x, with a delta-method interval (one-sided alpha per end)."""
    means = np.array([np.mean(s) for s in samples])
    if np.any(means <= 0):
        return None
    rel_se = np.array([np.std(s, ddof=1) / np.sqrt(np.size(s)) if np.size(s) > 1 else np.inf
                       for s in samples]) / means
    lx = np.log(x) - np.log(x).mean()
    c = lx / np.sum(lx * lx)
    slope = float(c @ np.log(means))
    se = float(np.sqrt(np.sum(c**2 * rel_se**2)))
    z = float(stats.norm.ppf(1 - alpha))
    return slope, [slope - z * se, slope + z * se]


def decide_rate(
    x: np.ndarray,
    samples: Sequence[np.ndarray],
    shape: np.ndarray,
    order: str,
    margin: float,
    alpha: float,
    units: Units,
    offset: bool,
    params: Sequence[Mapping[str, Any]] | None = None,
    variable: str = "n",
    asymptotic: tuple[float, float] = (0.0, 0.0),
    nearest: Nearest | None = None,
    paired: bool = False,
) -> Decision:
    """Q(x) = O/Theta/Omega(g(x)), decided on the deviation delta from the claimed law in the claim's units
    (boundlab.rates): O is violated when delta > margin significantly, consistent when delta <= margin is shown
    and the resolution on that side is finer than the nearest mutant; Omega mirrors it; Theta needs both."""
    x = np.asarray(x, float)
    shape = np.asarray(shape, float)
    samples = [np.asarray(s, float) for s in samples]
    params = params or [{variable: v} for v in x]
    n_points = len(samples)
    points = []
    for p, s, g in zip(params, samples, shape, strict=True):
        low, high = MeanTest.of(s, guard=False).interval(alpha / n_points)
        mean = float(np.mean(s))
        points.append({"params": dict(p), "replicates": int(np.size(s)), "estimate": _f(mean),
                       "ci": [_f(low), _f(high)], "bound": _f(g), "ratio": _f(mean / g)})
    exponent: dict[str, Any] = {
        "variable": variable,
        "claimed": float(ols_slope(np.log(x), np.log(shape))),
        "asymptotic": asymptotic[0],
        "log_power": asymptotic[1],
        "estimate": None,
        "ci": None,
    }
    fitted = _exponent_of_q(x, samples, alpha)
    if fitted is not None:
        exponent.update(estimate=fitted[0], ci=fitted[1])
    unit_name = "exponent of " + variable if units == "power" else f"power of log {variable}"
    details: dict[str, Any] = {"order": order, "margin": margin, "alpha": alpha, "units": units,
                               "unit_name": unit_name, "offset": offset, "paired": paired}
    means = np.array([p["estimate"] for p in points], dtype=float)
    if np.any(shape <= 0) or not np.all(np.isfinite(shape)):
        return Decision("inconclusive", "The claimed shape is not positive and finite at every sweep point.",
                        points, exponent=exponent, details=details)
    if not np.all(np.isfinite(means)) or (not offset and np.any(means <= 0)):
        return Decision("inconclusive", "The mean of the measured quantity is not positive at every point, so "
                        "its growth relative to the shape cannot be fitted.", points, exponent=exponent,
                        details=details)
    fit = fit_deviation(x, samples, shape, units, offset, paired=paired)
    low, high = fit.interval(alpha)
    res_above, res_below = fit.resolution(margin, alpha)
    deviation = {"estimate": fit.delta, "ci": [low, high], "units": units, "unit_name": unit_name}
    resolution = {"above": res_above, "below": res_below, "units": units, "unit_name": unit_name,
                  "power": 0.8, "margin": margin,
                  "relevant": {"O": res_above, "Omega": res_below}.get(order, max(res_above, res_below))}
    details.update(deviation=deviation, max_ratio=float(np.max(means / shape)), amplitude=fit.scale,
                   nearest={"above": nearest.above, "below": nearest.below} if nearest else None)
    band = f"[{low:+.3f}, {high:+.3f}]"
    ctx = dict(points=points, exponent=exponent, details=details, resolution=resolution)
    if fit.decreasing:
        if order == "O":
            verdict, what = "consistent", "decreases along the sweep while the shape grows"
        else:
            verdict, what = "violated", "decreases along the sweep while the claimed shape grows"
        return Decision(verdict, f"The quantity {what} (fitted amplitude significantly below zero).", **ctx)
    if order == "O":
        violated, inside = low > margin, high <= margin
        what = f"grows faster than claimed: the deviation's interval {band} lies above +{margin:g}"
        fine = f"does not grow faster than claimed: the deviation's interval {band} stays below +{margin:g}"
    elif order == "Omega":
        violated, inside = high < -margin, low >= -margin
        what = f"grows slower than claimed: the deviation's interval {band} lies below -{margin:g}"
        fine = f"does not grow slower than claimed: the deviation's interval {band} stays above -{margin:g}"
    else:
        violated = low > margin or high < -margin
        inside = -margin <= low and high <= margin
        what = f"does not grow at the claimed rate: the deviation's interval {band} lies outside ±{margin:g}"
        fine = f"grows at the claimed rate: the deviation's interval {band} lies inside ±{margin:g}"
    unit_text = f" ({unit_name})"
    if violated:
        return Decision("violated", f"The quantity {what}{unit_text}.", **ctx)
    if not inside:
        return Decision("inconclusive", f"The deviation's interval {band}{unit_text} straddles the margin "
                        f"{margin:g}: widen the sweep or add replicates.", **ctx)
    blunt = _too_blunt(order, res_above, res_below, nearest)
    if blunt:
        return Decision("inconclusive", f"The quantity {fine}{unit_text}, but {blunt}", **ctx)
    return Decision("consistent", f"The quantity {fine}{unit_text}; resolution {resolution['relevant']:.3g}.",
                    **ctx)


def _too_blunt(order: str, above: float, below: float, nearest: Nearest | None) -> str | None:
    """Why a pass would be vacuous: the check could not have caught the nearest false variant of the claim."""
    if nearest is None:
        return None
    sides = {"O": [("above", above)], "Omega": [("below", below)]}.get(order, [("above", above), ("below", below)])
    for side, resolution in sides:
        mutant = getattr(nearest, side)
        if mutant is None:
            continue
        name, distance = mutant
        if not resolution < distance:
            return (f"the check is too blunt to tell it from its mutant {name}: it detects a deviation {side} the "
                    f"claimed law only from {resolution:.3g} with 80% power, while {name} lies {distance:.3g} "
                    f"away. Add replicates or widen the sweep.")
    return None


@cache
def _exponents(statement: Asymptotic, variable: str) -> tuple[float, float]:
    return statement.exponents(variable)


_MIN_POINTS = {True: 4, False: 3}  # distinct values of the variable needed with / without an offset
#: Replicates per sweep point below which the score test's size is not calibrated (log-normal noise at 16
#: replicates: 0.075 false violations at the margin's edge against a nominal 0.05; at 32: 0.045).
MIN_RATE_REPLICATES = 32


@dataclass(eq=False, kw_only=True)
class RateClaim(Claim):
    """Q = O/Theta/Omega(g) in ``variable``, decided on the deviation from the claimed law in the claim's units.

    ``exponent_margin`` (required) is the deviation tolerated, in the claim's units: an exponent of the variable for
    shapes with a power of it, a power of log(variable) for pure log factors and constants (``units``, derived
    from the shape unless given). ``offset`` (derived unless given): whether the fit allows an additive constant,
    a lower-order term exactly when the shape grows. Mutants must lie on the side where the claim can fail and
    beyond the margin over every fidelity's sweep; a mutant that the claim implies is rejected when the module
    loads. See boundlab.rates and docs/statistics.md.
    """

    variable: str
    exponent_margin: float
    units: Literal["power", "log-power"] | None = None
    offset: bool | None = None
    alpha: float = 0.05
    kind: ClassVar[str] = "rate"
    calibration_cases: ClassVar[str] = "boundlab.rate_calibration:rows"
    statement_type: ClassVar[type[Statement]] = Asymptotic

    def __post_init__(self) -> None:
        super().__post_init__()
        assert isinstance(self.statement, Asymptotic)
        if not (isinstance(self.exponent_margin, (int, float)) and 0 < self.exponent_margin < 8):
            raise UsageError(f"Claim {self.id}: exponent_margin must be a number in (0, 8) in the claim's units, got "
                             f"{self.exponent_margin!r}.")
        if not 0 < self.alpha < 0.5:
            raise UsageError(f"Claim {self.id}: alpha must lie in (0, 0.5), got {self.alpha!r}.")
        shape = self.statement.shape
        if self.units is None:
            self.units = asymptotics.deviation_units(shape, self.variable)
        if self.units not in ("power", "log-power"):
            raise UsageError(f"Claim {self.id}: units must be 'power' or 'log-power', got {self.units!r}.")
        if self.offset is None:
            self.offset = asymptotics.grows(shape, self.variable)
        self._check_sweeps()
        self._sides = self._mutant_sides()

    # --------------------------------------------------------------------------------- declarations
    def _sweep(self, fidelity: str) -> tuple[np.ndarray, list[Mapping[str, Any]]]:
        points = list(self.experiment.budget(fidelity).points)
        return np.array([float(p[self.variable]) for p in points]), points

    def _check_sweeps(self) -> None:
        for fidelity in FIDELITIES:
            try:
                x, points = self._sweep(fidelity)
            except KeyError:
                raise UsageError(f"Claim {self.id}: the rate variable {self.variable!r} is not a sweep parameter "
                                 f"of every {fidelity} point.") from None
            replicates = self.experiment.budget(fidelity).replicates
            if replicates < MIN_RATE_REPLICATES:
                raise UsageError(f"Claim {self.id}: a rate claim needs at least {MIN_RATE_REPLICATES} replicates per "
                                 f"sweep point (its tests are calibrated from there), the {fidelity} budget has "
                                 f"{replicates}.")
            need = _MIN_POINTS[bool(self.offset)]
            if len(set(x.tolist())) < need:
                raise UsageError(
                    f"Claim {self.id}: the {fidelity} sweep needs at least {need} distinct values of "
                    f"{self.variable} ({'a fit with an additive constant' if self.offset else 'a rate fit'}), "
                    f"got {len(set(x.tolist()))}.")
            others = {k for p in points for k in p if k != self.variable}
            varying = sorted(k for k in others if len({repr(p.get(k)) for p in points}) > 1)
            if varying:
                raise UsageError(f"Claim {self.id}: a rate sweep varies only {self.variable}; the {fidelity} sweep "
                                 f"also varies {', '.join(varying)} (declare one experiment per variable).")
            if self.units == "log-power" and np.any(x <= 1):
                raise UsageError(f"Claim {self.id}: deviations in powers of log {self.variable} need "
                                 f"{self.variable} > 1 at every point of the {fidelity} sweep.")

    def _mutant_sides(self) -> dict[str, str]:
        """Which side of the claim each mutant lies on ('above': a smaller rate, refuted when the truth grows
        faster; 'below': a larger one), rejecting mutants the claim implies and checking both sides are covered."""
        assert isinstance(self.statement, Asymptotic)
        order, shape = self.statement.order, self.statement.shape
        sides: dict[str, str] = {}
        for m in self.mutants:
            assert isinstance(m.statement, Asymptotic)
            try:
                relation = asymptotics.compare(shape, m.statement.shape, self.variable)
            except (ValueError, NotImplementedError) as exc:
                raise UsageError(f"Claim {self.id}: mutant {m.name}: {exc}.") from None
            m_order = m.statement.order
            implied = (
                (order in ("O", "Theta") and m_order == "O" and relation != "smaller")
                or (order in ("Omega", "Theta") and m_order == "Omega" and relation != "larger")
                or (order == "Theta" and m_order == "Theta" and relation == "same")
            )
            if implied:
                raise UsageError(
                    f"Claim {self.id}: mutant {m.name} ({m.statement.text()}) is implied by the claim "
                    f"({self.statement.text()}), so it can never be refuted; a mutant must lie on the side "
                    "where the claim can fail.")
            if relation == "smaller" and m_order in ("O", "Theta"):
                sides[m.name] = "above"
            elif relation == "larger" and m_order in ("Omega", "Theta"):
                sides[m.name] = "below"
        needed = {"O": ["above"], "Omega": ["below"], "Theta": ["above", "below"]}[order]
        words = {"above": "a tighter false upper bound (a smaller rate)", "below": "a larger false lower bound"}
        for side in needed:
            if side not in sides.values():
                raise UsageError(f"Claim {self.id}: a {order} claim needs a mutant that is {words[side]}.")
        for fidelity in FIDELITIES:
            try:
                distances = self._distances(fidelity, sides)
            except MeasurementError:
                break  # a shape names something the sweep lacks: the declaration check reports it by name
            for name, distance in distances.items():
                if not abs(distance) > self.exponent_margin:
                    raise UsageError(
                        f"Claim {self.id}: mutant {name} lies {abs(distance):.3g} from the claim over the "
                        f"{fidelity} sweep ({self.units} units), within the margin {self.exponent_margin:g}: it could "
                        "never be refuted.")
        return sides

    def _distances(self, fidelity: str, sides: Mapping[str, str]) -> dict[str, float]:
        x, points = self._sweep(fidelity)
        assert isinstance(self.statement, Asymptotic)
        g = np.array([float(self.statement.shape_function(p)) for p in points])
        out = {}
        for m in self.mutants:
            if m.name in sides:
                assert isinstance(m.statement, Asymptotic)
                other = np.array([float(m.statement.shape_function(p)) for p in points])
                out[m.name] = unit_distance(x, g, other, self.units or "power")
        return out

    def nearest(self, points: Sequence[PointData]) -> Nearest:
        """The nearest mutant on each side, by its distance over this run's sweep."""
        x = np.array([float(p.params[self.variable]) for p in points])
        assert isinstance(self.statement, Asymptotic)
        g = np.array([float(self.statement.shape_function(p.params)) for p in points])
        best: dict[str, tuple[str, float]] = {}
        for m in self.mutants:
            side = self._sides.get(m.name)
            if side is None:
                continue
            assert isinstance(m.statement, Asymptotic)
            other = np.array([float(m.statement.shape_function(p.params)) for p in points])
            distance = abs(unit_distance(x, g, other, self.units or "power"))
            if side not in best or distance < best[side][1]:
                best[side] = (m.name, distance)
        return Nearest(above=best.get("above"), below=best.get("below"))

    def settings(self) -> dict[str, Any]:
        return {"variable": self.variable, "exponent_margin": self.exponent_margin, "units": self.units,
                "offset": self.offset, "alpha": self.alpha, "mutant_sides": dict(self._sides)}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator,
               searched: Searched | None = None) -> Decision:
        assert isinstance(statement, Asymptotic)
        x = np.array([float(p.params[self.variable]) for p in points])
        samples = [np.broadcast_to(statement.measured(p.values), (len(p.replay),)) for p in points]
        shape = np.array([float(statement.shape_function(p.params)) for p in points])
        return decide_rate(
            x,
            samples,
            shape,
            statement.order,
            self.exponent_margin,
            self.alpha,
            self.units or "power",
            bool(self.offset),
            params=[p.params for p in points],
            variable=self.variable,
            asymptotic=_exponents(statement, self.variable),
            nearest=self.nearest(points) if statement is self.statement else None,
            paired=self.experiment.common_random_numbers,
        )

    @staticmethod
    def headline(result: Result) -> str:
        """The deviation from the claimed law with its interval, in the claim's units, and the resolution."""
        deviation = result.details.get("deviation")
        if deviation:
            low, high = deviation["ci"]
            res = result.resolution["relevant"] if result.resolution else float("nan")
            return (f"deviation {deviation['estimate']:+.2f} [{low:+.2f}, {high:+.2f}] "
                    f"{_unit_short(deviation['units'])}, resolution {res:.2g}")
        return tightness_headline(result) or "—"

    @staticmethod
    def figure(result: Result, axes: list[Axes]) -> None:
        """The data against the claimed shape, and the deviation against margin, resolution and mutants."""
        from boundlab.report.rate_figures import rate_figures

        rate_figures(result, axes)


def _unit_short(units: str) -> str:
    return "exponent" if units == "power" else "log-power"
