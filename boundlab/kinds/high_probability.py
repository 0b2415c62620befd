"""High-probability claims: P[Q > B] <= delta at each sweep point (PAC-Bayes bounds, high-probability regret,
the violation frequency of a confidence bound).

At each point the event is counted over the n replicates (k exceedances). The claim is ``violated`` when an
exact one-sided binomial test rejects P <= delta (Holm over points), ``consistent`` when at every point the
one-sided Clopper-Pearson upper bound (level alpha / points) is at or below delta (1 + margin), ``inconclusive``
otherwise. ``margin`` is a required, stated relative slack. The resolution is the smallest true exceedance
probability above delta that the test detects with 80% power at n, computed exactly from the binomial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import sympy as sp

from boundlab.errors import MeasurementError, UsageError
from boundlab.experiments import FIDELITIES
from boundlab.kinds.base import Claim, Decision, PointData, Searched, _f
from boundlab.statements import Probability, Statement, _Evaluator, _plain
from boundlab.stats import holm

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from boundlab.results import Result

POWER = 0.8


@dataclass
class ExceedanceEvidence:
    """One sweep point: per replicate whether the event happened, the stated level delta, and how many
    replicates had an undefined side (counted as exceedances: an undefined bound bounds nothing)."""

    params: Mapping[str, Any]
    exceed: np.ndarray
    level: float
    undefined: int = 0


def clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds, each with error ``level``: (lower, upper) for a binomial proportion.

    The beta-quantile form (lower = Beta(k, n - k + 1) quantile ``level``, upper = Beta(k + 1, n - k) quantile
    ``1 - level``), the same interval as ``scipy.stats.binomtest(k, n).proportion_ci(method="exact")``, which
    finds it by root finding instead (tests/test_stats.py compares the two)."""
    from scipy.special import betaincinv

    lower = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, level))
    upper = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1.0 - level))
    return lower, upper


def exceedance_p_value(k: int, n: int, delta: float) -> float:
    """Exact one-sided p-value of H0: P <= delta against P > delta, having seen k exceedances in n."""
    from scipy.stats import binomtest

    return float(binomtest(k, n, delta, alternative="greater").pvalue)


def detectable_probability(n: int, delta: float, level: float, power: float = POWER) -> float:
    """The smallest true exceedance probability that the exact test at ``level`` rejects P <= delta with
    probability ``power`` at n replicates (inf when no count can reject)."""
    from scipy.stats import beta, binom

    counts = np.arange(n + 1)
    tail = binom.sf(counts - 1, n, delta)  # P(X >= c | delta)
    rejecting = np.flatnonzero(tail <= level)
    if rejecting.size == 0:
        return float("inf")
    c = int(rejecting[0])
    return float(beta.ppf(power, c, n - c + 1))  # P(X >= c | p) = I_p(c, n - c + 1) = power


def decide_high_probability(evidence: Sequence[ExceedanceEvidence], margin: float, alpha: float) -> Decision:
    """P[event] <= delta at every point: exact binomial tests with Holm over points for ``violated``; one-sided
    Clopper-Pearson upper bounds at alpha / points against delta (1 + margin) for ``consistent``."""
    n_points = len(evidence)
    level = alpha / n_points
    points, pvalues, inside, reach = [], [], [], []
    for ev in evidence:
        n = int(np.size(ev.exceed))
        k = int(np.sum(ev.exceed))
        delta = float(ev.level)
        low, high = clopper_pearson(k, n, level)
        p = exceedance_p_value(k, n, delta)
        pvalues.append(p)
        inside.append(high <= delta * (1.0 + margin))
        reach.append(detectable_probability(n, delta, level))
        freq = k / n
        points.append({"params": dict(ev.params), "replicates": n, "exceedances": k, "undefined": ev.undefined,
                       "estimate": _f(freq), "ci": [_f(low), _f(high)], "bound": _f(delta),
                       "ratio": _f(freq / delta), "p_value": _f(p)})
    rejected = holm(pvalues, alpha)
    for point, rej in zip(points, rejected, strict=True):
        point["rejected"] = bool(rej)
    worst = int(np.argmax([r / ev.level for r, ev in zip(reach, evidence, strict=True)]))
    resolution = {"exceedance_probability": _f(reach[worst]),
                  "relative_to_delta": _f(reach[worst] / evidence[worst].level),
                  "delta": float(evidence[worst].level), "power": POWER, "margin": margin,
                  "meaning": "the smallest true exceedance probability above delta that the exact binomial test "
                  "detects with 80% power at the worst sweep point (level alpha / points)"}
    details = {"margin": margin, "alpha": alpha, "correction": "Holm", "interval": "Clopper-Pearson, one-sided",
               "undefined": sum(ev.undefined for ev in evidence)}
    tightness = max((pt["ratio"] for pt in points if pt["ratio"] is not None), default=None)
    ctx = dict(tightness=tightness, details=details, resolution=resolution)
    if rejected.any():
        i = int(np.argmin(pvalues))
        pt = points[i]
        return Decision(
            "violated",
            f"At {int(rejected.sum())} of {n_points} points the event is significantly more frequent than delta "
            f"(exact binomial test, Holm-corrected alpha {alpha:g}); strongest at {pt['params']}: "
            f"{pt['exceedances']}/{pt['replicates']} = {pt['estimate']:.4g} vs delta {pt['bound']:.4g}, "
            f"p = {pt['p_value']:.2g}.",
            points,
            counterexample={"params": pt["params"], "estimate": pt["estimate"], "bound": pt["bound"],
                            "exceedances": pt["exceedances"], "replicates": pt["replicates"],
                            "p_value": pt["p_value"]},
            **ctx,
        )
    if all(inside):
        return Decision(
            "consistent",
            f"At all {n_points} points the one-sided Clopper-Pearson upper bound of the event's probability is at "
            f"or below delta (1 + {margin:g}); the test detects a true probability of "
            f"{resolution['relative_to_delta']:.3g} delta with 80% power.",
            points, **ctx)
    return Decision(
        "inconclusive",
        f"No significant excess over delta, but at some point the upper bound exceeds delta (1 + {margin:g}): "
        "more replicates are needed to tell the claim from a variant.",
        points, **ctx)


# ------------------------------------------------------------------------------------------- the claim


def _numbers(expr: sp.Expr, points: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """``expr`` at each sweep point from its parameters alone, or None when it needs a measured value."""
    evaluate = _Evaluator(expr)
    try:
        return np.array([float(np.asarray(evaluate(p)).reshape(-1)[0]) for p in points])
    except MeasurementError:
        return None


def _varies_with_measured(expr: sp.Expr, point: Mapping[str, Any]) -> bool:
    """True when ``expr`` takes different values at two random draws of its measured symbols (those that are not
    parameters of ``point``): it depends on them, and no simplification will remove them. False when it does not
    vary, or when it cannot be evaluated, so that simplifying stays the way to decide."""
    params = {sym: point[sym.name] for sym in expr.free_symbols if sym.name in point}
    measured = sorted((sym for sym in expr.free_symbols if sym.name not in point), key=lambda sym: sym.name)
    if not measured:
        return False
    draws = np.random.default_rng(0).uniform(0.5, 2.0, size=(2, len(measured)))
    try:
        values = [complex(sp.N(expr.subs({**params, **dict(zip(measured, draw, strict=True))}))) for draw in draws]
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    if not all(np.isfinite(v) for v in values):
        return False
    return abs(values[0] - values[1]) > 1e-9 * (1.0 + abs(values[0]))


@dataclass(eq=False, kw_only=True)
class HighProbabilityClaim(Claim):
    """P[Q > B] <= delta (or P[Q < B] <= delta) at each sweep point; see the module docstring.

    ``relative_margin`` (required, in (0, 1]): the relative slack a pass allows, delta (1 + margin). Checked when the
    module loads: delta in (0, 1) at every sweep point of every fidelity, a budget large enough for a pass to be
    possible at all, and at least one mutant on the side where the claim can fail (a smaller delta, or a bound
    B that makes the event more likely: smaller for Q > B, larger for Q < B); a mutant the claim implies is
    rejected, since it could never be refuted.
    """

    relative_margin: float
    alpha: float = 0.05
    kind: ClassVar[str] = "high-probability"
    statement_type: ClassVar[type[Statement]] = Probability
    calibration_cases: ClassVar[str] = "boundlab.probability_calibration:rows"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.relative_margin, (int, float)) and 0 < self.relative_margin <= 1):
            raise UsageError(f"Claim {self.id}: relative_margin must be a number in (0, 1] (a relative slack on "
                             f"delta), got {self.relative_margin!r}.")
        if not 0 < self.alpha < 0.5:
            raise UsageError(f"Claim {self.id}: alpha must lie in (0, 0.5), got {self.alpha!r}.")
        for fidelity in FIDELITIES:
            budget = self.experiment.budget(fidelity)
            points = list(budget.points)
            for label, statement in [("statement", self.statement), *((f"mutant {m.name}", m.statement)
                                                                      for m in self.mutants)]:
                self._levels(label, statement, points, fidelity)
            delta = self._levels("statement", self.statement, points, fidelity)
            best = 1.0 - (self.alpha / len(points)) ** (1.0 / budget.replicates)  # upper bound with no exceedance
            if np.any(best > delta * (1.0 + self.relative_margin)):
                raise UsageError(
                    f"Claim {self.id}: with {budget.replicates} replicates per point ({fidelity}) the upper bound on "
                    f"the probability cannot fall below delta (1 + {self.relative_margin:g}) = "
                    f"{float(np.min(delta)) * (1 + self.relative_margin):.3g} even with no exceedance ({best:.3g}): "
                    "the claim could never be consistent. Add replicates.")
        self._check_mutants()

    def _levels(self, label: str, statement: Statement, points: Sequence[Mapping[str, Any]], fidelity: str
                ) -> np.ndarray:
        assert isinstance(statement, Probability)
        levels = _numbers(statement.level, points)
        if levels is None:
            raise UsageError(f"Claim {self.id}: the {label}'s delta ({statement.level}) must be a number or an "
                             f"expression of the sweep parameters of every {fidelity} point.")
        if not np.all((levels > 0) & (levels < 1)):
            raise UsageError(f"Claim {self.id}: the {label}'s delta must lie in (0, 1) at every {fidelity} point, "
                             f"got {levels.tolist()}.")
        return levels

    def _side(self, mutant: Probability) -> str:
        """'fails' (the mutant says more than the claim somewhere and nowhere less), 'implied' (it says
        nothing more anywhere) or 'unknown' (not comparable from the parameters alone)."""
        claim = self.statement
        assert isinstance(claim, Probability)
        lhs_gap = _plain(claim.event.relation.lhs - mutant.event.relation.lhs)
        if mutant.op != claim.op or (lhs_gap != 0 and sp.simplify(lhs_gap) != 0):
            return "unknown"
        points = [p for f in FIDELITIES for p in self.experiment.budget(f).points]
        level_gap = _numbers(claim.level - mutant.level, points)  # > 0: the mutant states a smaller delta
        # simplified only when needed: a measured quantity may cancel from the difference of the two bounds
        rhs_gap = _plain(claim.event.relation.rhs - mutant.event.relation.rhs)
        bound_gap = _numbers(rhs_gap, points)
        if bound_gap is None and not _varies_with_measured(rhs_gap, points[0]):
            bound_gap = _numbers(sp.simplify(rhs_gap), points)
        if level_gap is None or bound_gap is None:
            return "unknown"
        if not claim.upper:
            bound_gap = -bound_gap  # for Q < B a larger bound makes the event more likely
        scale = np.maximum(1.0, np.abs(_numbers(claim.level, points)))
        tol = 1e-12 * scale
        stronger = (level_gap > tol) | (bound_gap > tol)
        weaker = (level_gap < -tol) | (bound_gap < -tol)
        if stronger.all() and not weaker.any():
            return "fails"
        if not stronger.any():
            return "implied"
        return "unknown"

    def _check_mutants(self) -> None:
        sides = {}
        for m in self.mutants:
            assert isinstance(m.statement, Probability)
            sides[m.name] = side = self._side(m.statement)
            if side == "implied":
                raise UsageError(f"Claim {self.id}: mutant {m.name} ({m.statement.text()}) is implied by the claim "
                                 f"({self.statement.text()}), so it can never be refuted; a mutant must state a "
                                 "smaller delta or a bound that makes the event more likely.")
        if "fails" not in sides.values():
            raise UsageError(f"Claim {self.id}: a high-probability claim needs a mutant on the side where it can "
                             "fail: a smaller delta, or a bound B that makes the event more likely at every sweep "
                             "point (smaller for Q > B, larger for Q < B), with the same measured quantity.")
        self._sides = sides

    def settings(self) -> dict[str, Any]:
        return {"relative_margin": self.relative_margin, "alpha": self.alpha}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator,
               searched: Searched | None = None) -> Decision:
        assert isinstance(statement, Probability)
        evidence = []
        for p in points:
            n = len(p.replay)
            lhs, rhs = (np.broadcast_to(v, (n,)) for v in statement.event.evaluate(p.values))
            undefined = np.isnan(lhs) | np.isnan(rhs)
            exceed = statement.exceeds(lhs, rhs) | undefined
            level = float(np.asarray(statement.level_function(p.params)).reshape(-1)[0])
            evidence.append(ExceedanceEvidence(p.params, exceed, level, int(undefined.sum())))
        return decide_high_probability(evidence, self.relative_margin, self.alpha)

    @staticmethod
    def headline(result: Result) -> str:
        """The largest observed frequency (relative to delta) with its interval, against delta."""
        scored = [p for p in result.points if p.get("ratio") is not None]
        if not scored:
            return "—"
        p = max(scored, key=lambda q: q["ratio"])
        low, high = p["ci"]
        return f"frequency {p['estimate']:.3g} [{low:.3g}, {high:.3g}] vs delta {p['bound']:.3g}"

    @staticmethod
    def figure(result: Result, axes: list[Axes]) -> None:
        """The event's frequency with its Clopper-Pearson interval per sweep point against delta; the same
        relative to delta, with the margin's line."""
        probability_figures(result, axes)


def probability_figures(result: Result, axes: list[Axes]) -> None:
    from boundlab.report.figures import estimates_against_bound

    estimates_against_bound(result, axes, estimate="frequency (one-sided CP bounds)", bound="delta",
                            ylabel="P[event]", ratio_intervals=True)
