"""Sure claims: an inequality (or identity) that must hold on every instance, to a stated numerical tolerance.

The decision counts the random draws and the adversarial search's finds past the tolerance band (any one is a
counterexample); the search is this kind's hook (:attr:`SureClaim.searchable`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from boundlab.errors import UsageError
from boundlab.experiments import THETA
from boundlab.kinds.base import Claim, Decision, PointData, Searched, _f
from boundlab.statements import Relation, Statement

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from boundlab.results import Result


def sure_gap(lhs: np.ndarray, rhs: np.ndarray, op: str) -> np.ndarray:
    """Signed distance past the bound in the claim's units (> 0 is on the wrong side; |lhs - rhs| for ==)."""
    lhs, rhs = np.asarray(lhs, float), np.asarray(rhs, float)
    with np.errstate(invalid="ignore"):
        return lhs - rhs if op == "<=" else rhs - lhs if op == ">=" else np.abs(lhs - rhs)


def sure_band(rhs: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """The tolerance band around the bound: a gap larger than this is a violation."""
    return rtol * np.abs(np.asarray(rhs, float)) + atol


def sure_excess(lhs: np.ndarray, rhs: np.ndarray, op: str, rtol: float, atol: float) -> np.ndarray:
    """Excess over the tolerance band: an instance violates the claim exactly when its excess is > 1."""
    lhs, rhs = np.broadcast_arrays(np.asarray(lhs, float), np.asarray(rhs, float))
    band = sure_band(rhs, rtol, atol)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = sure_gap(lhs, rhs, op)
        excess = gap / band
    excess = np.where((band == 0) & (gap == 0), 0.0, excess)  # exactly at the bound of an exact claim
    excess = np.where(np.isinf(band) & np.isinf(gap), np.where(gap > 0, np.inf, -np.inf), excess)
    both_inf = np.isinf(lhs) & np.isinf(rhs) & (np.sign(lhs) == np.sign(rhs))
    excess = np.where(both_inf, -np.inf, excess)
    if op == "<=":
        excess = np.where(np.isposinf(rhs) & np.isfinite(lhs), -np.inf, excess)
    if op == ">=":
        excess = np.where(np.isneginf(rhs) & np.isfinite(lhs), -np.inf, excess)
    return excess


def sure_ratio(lhs: np.ndarray, rhs: np.ndarray, op: str) -> np.ndarray:
    """measured/bound for <= (bound/measured for >=), defined where both are positive and finite."""
    lhs, rhs = np.broadcast_arrays(np.asarray(lhs, float), np.asarray(rhs, float))
    num, den = (lhs, rhs) if op != ">=" else (rhs, lhs)
    ok = (num >= 0) & (den > 0) & np.isfinite(num) & np.isfinite(den)
    safe_den = np.where(ok, den, 1.0)
    return np.where(ok, num / safe_den, np.where(np.isposinf(den) & np.isfinite(num), 0.0, np.nan))


@dataclass
class SureEvidence:
    """Instances checked at one sweep point: random draws, then the adversarial search's best finds."""

    params: Mapping[str, Any]
    lhs: np.ndarray
    rhs: np.ndarray
    replay: list[dict[str, Any]]
    searched: list[dict[str, Any]] = field(default_factory=list)


def decide_sure(evidence: Sequence[SureEvidence], op: str, rtol: float, atol: float) -> Decision:
    points: list[dict[str, Any]] = []
    worst: tuple[float, dict[str, Any]] | None = None
    n_violations = 0
    ratios_all: list[float] = []
    for ev in evidence:
        candidates = [
            (float(l), float(r), dict(rep, found_by="random draw"))
            for l, r, rep in zip(np.atleast_1d(ev.lhs), np.atleast_1d(ev.rhs), ev.replay, strict=True)
        ]
        candidates += [(float(s["lhs"]), float(s["rhs"]), s) for s in ev.searched]
        lhs = np.array([c[0] for c in candidates])
        rhs = np.array([c[1] for c in candidates])
        excess = sure_excess(lhs, rhs, op, rtol, atol)
        ratio = sure_ratio(lhs, rhs, op)
        ratios_all.extend(ratio[np.isfinite(ratio)].tolist())
        violated = excess > 1.0
        n_violations += int(violated.sum())
        vacuous = sure_vacuous(lhs, rhs, op)
        i = int(np.nanargmax(np.where(np.isnan(excess), -np.inf, excess)))
        searched_ratio = sure_ratio(
            np.array([s["lhs"] for s in ev.searched]), np.array([s["rhs"] for s in ev.searched]), op
        )
        n_random = int(np.size(ev.lhs))
        spread_of = np.abs(excess[:n_random]) if op == "==" else ratio[:n_random]
        spread_of = spread_of[np.isfinite(spread_of)]
        points.append(
            {
                "params": dict(ev.params),
                "replicates": n_random,
                "searched": len(ev.searched),
                "spread": {
                    "of": "|deviation| / tolerance" if op == "==" else "measured / bound",
                    "quantiles": [float(v) for v in np.quantile(spread_of, [0, 0.25, 0.5, 0.75, 1])]
                    if spread_of.size else None,
                },
                "estimate": _f(lhs[i]),
                "ci": None,
                "bound": _f(rhs[i]),
                "ratio": _f(ratio[i]),
                "max_ratio": _f(np.nanmax(ratio)) if np.isfinite(ratio).any() else None,
                "max_ratio_search": _f(np.nanmax(searched_ratio))
                if np.isfinite(searched_ratio).any()
                else None,
                "max_excess": _f(excess[i]),
                "worst_gap": _f(float(sure_gap(lhs[i], rhs[i], op))),
                "band": _f(float(sure_band(rhs[i], rtol, atol))),
                "violations": int(violated.sum()),
                "vacuous": int(vacuous[:n_random].sum()),
                "vacuous_searched": int(vacuous[n_random:].sum()),
            }
        )
        if worst is None or excess[i] > worst[0]:
            lhs_i, rhs_i, info = candidates[i]
            worst = (
                float(excess[i]),
                {"params": dict(ev.params), "lhs": lhs_i, "rhs": rhs_i, "excess": float(excess[i]), **info},
            )
    if op == "==":
        # For an identity the tightness is the largest deviation as a fraction of the tolerance band.
        tightness = max((p["max_excess"] for p in points if p["max_excess"] is not None), default=None)
    else:
        tightness = float(np.max(ratios_all)) if ratios_all else None
    tol_text = f"rtol={rtol:g}, atol={atol:g}"
    n_random = sum(p["replicates"] for p in points)
    n_vacuous = sum(p["vacuous"] for p in points)
    informative = n_random - n_vacuous
    resolution = {
        "violation_probability": rule_of_three(informative),
        "confidence": 0.95,
        "random_draws": n_random,
        "vacuous": n_vacuous,
        "meaning": "the largest probability of a violating instance under the sampling distribution that "
        "the random draws leave unrefuted at 95% (about 3/N for N informative draws)",
    }
    details = {"violations": n_violations, "op": op, "vacuous": n_vacuous, "informative_draws": informative,
               "searched": sum(p["searched"] for p in points)}
    if n_violations:
        assert worst is not None
        cex = worst[1]
        return Decision(
            "violated",
            f"{n_violations} instance(s) break the inequality beyond the tolerance ({tol_text}); the worst, "
            f"found by {cex['found_by']}, has measured {cex['lhs']:.6g} against bound {cex['rhs']:.6g}.",
            points,
            tightness=tightness,
            counterexample=cex,
            details=details,
            resolution=resolution,
        )
    searched = details["searched"]
    n_vacuous_searched = sum(p["vacuous_searched"] for p in points)
    if informative == 0 and searched - n_vacuous_searched <= 0:
        return Decision(
            "inconclusive",
            f"Vacuous: the bound is infinite or undefined on all {n_random} random draws"
            + (f" and all {searched} searched instances" if searched else "") + ", so nothing was checked.",
            points, tightness=tightness, details=details, resolution=resolution)
    how = f"{n_random} random draws and {searched} adversarial searches" if searched else (
        f"{n_random} random draws, no adversarial search")
    vacuous_text = f"; {n_vacuous} draws vacuous (bound infinite or undefined)" if n_vacuous else ""
    return Decision(
        "consistent",
        f"No violation among {n_random + searched} instances ({how}; {tol_text}){vacuous_text}. The random draws "
        f"rule out a violation probability above {resolution['violation_probability']:.2g} (95%).",
        points,
        tightness=tightness,
        details=details,
        resolution=resolution,
    )


def sure_vacuous(lhs: np.ndarray, rhs: np.ndarray, op: str) -> np.ndarray:
    """Instances on which the statement says nothing: an undefined side, or a bound that is infinite on the side
    that makes the inequality hold whatever the measurement (+inf for <=, -inf for >=)."""
    lhs, rhs = np.asarray(lhs, float), np.asarray(rhs, float)
    undefined = np.isnan(lhs) | np.isnan(rhs)
    if op == "<=":
        return undefined | np.isposinf(rhs)
    if op == ">=":
        return undefined | np.isneginf(rhs)
    return undefined | np.isinf(rhs)


def rule_of_three(n: int) -> float:
    """Exact one-sided 95% upper bound on a probability after n draws without a hit: 1 - 0.05^(1/n)."""
    return 1.0 if n <= 0 else float(1.0 - 0.05 ** (1.0 / n))


@dataclass(eq=False, kw_only=True)
class SureClaim(Claim):
    """An inequality (or identity) that must hold on every instance, to a stated numerical tolerance."""

    rtol: float
    atol: float
    tolerance_reason: str = ""
    kind: ClassVar[str] = "sure"
    statement_type: ClassVar[type[Statement]] = Relation
    searchable: ClassVar[bool] = True
    calibration_cases: ClassVar[str] = "boundlab.calibration:sure_verdict"

    #: A band wider than this (relative, or absolute for atol) must say why, e.g. a measured solver error.
    WIDE_RTOL: ClassVar[float] = 1e-3
    WIDE_ATOL: ClassVar[float] = 1e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value in (("rtol", self.rtol), ("atol", self.atol)):
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise UsageError(f"Claim {self.id}: {name} must be a finite number >= 0, got {value!r}.")
        if (self.rtol > self.WIDE_RTOL or self.atol > self.WIDE_ATOL) and not self.tolerance_reason.strip():
            raise UsageError(
                f"Claim {self.id}: a tolerance band wider than rtol={self.WIDE_RTOL:g} or atol={self.WIDE_ATOL:g} "
                f"(got rtol={self.rtol:g}, atol={self.atol:g}) needs tolerance_reason=..., e.g. the measured error "
                "of the solver it allows for.")

    def validate_statement(self, statement: Statement) -> None:
        super().validate_statement(statement)
        assert isinstance(statement, Relation)
        if statement.is_expectation:
            raise UsageError(f"Claim {self.id}: a sure claim cannot state an expectation E[...].")

    def settings(self) -> dict[str, Any]:
        return {"rtol": self.rtol, "atol": self.atol, "tolerance_reason": self.tolerance_reason}

    def excess(self, statement: Relation, values: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        """(excess over the tolerance band, lhs, rhs) of ``statement`` on ``values``; > 1 is a violation."""
        lhs, rhs = statement.evaluate(values)
        lhs, rhs = np.broadcast_arrays(lhs, rhs)
        return sure_excess(lhs, rhs, statement.op, self.rtol, self.atol), lhs, rhs

    def decide(
        self,
        statement: Statement,
        points: Sequence[PointData],
        rng: np.random.Generator,
        searched: Searched | None = None,
    ) -> Decision:
        assert isinstance(statement, Relation)
        evidence = []
        for i, p in enumerate(points):
            lhs, rhs = statement.evaluate(p.values)
            n = len(p.replay)
            lhs, rhs = (np.broadcast_to(v, (n,)) for v in (lhs, rhs))
            evidence.append(SureEvidence(p.params, lhs, rhs, p.replay, list(searched[i]) if searched else []))
        return decide_sure(evidence, statement.op, self.rtol, self.atol)

    def search_starts(self, statement: Statement, point: PointData, restarts: int) -> list[list[float]] | None:
        """Coordinates of the ``restarts`` random draws with the largest excess, or None when a draw already
        violates the statement (a search could only find worse)."""
        assert isinstance(statement, Relation)
        excess, _, _ = self.excess(statement, point.values)
        excess = np.broadcast_to(np.nan_to_num(excess, nan=-np.inf), (len(point.replay),))
        if np.any(excess > 1.0):
            return None
        order = np.argsort(-excess, kind="stable")[:restarts]
        return [point.arrays[THETA][i].tolist() for i in order]

    def search_objective(self, statement: Statement, values: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        """The search target (boundlab.search.violation, in units of atol) and the excess, lhs, rhs."""
        from boundlab.search import violation

        assert isinstance(statement, Relation)
        excess, lhs, rhs = self.excess(statement, values)
        return violation(lhs, rhs, statement.op, self.atol), excess, lhs, rhs

    @staticmethod
    def figure(result: Result, axes: list[Axes]) -> None:
        """Spread of measured/bound over random instances with the search's best; the worst gap vs the band."""
        sure_figures(result, axes)


def sure_figures(result: Result, axes: list[Axes]) -> None:
    """Left: spread of measured/bound (or |deviation|/tolerance) over random instances, with the search's best.
    Right: the worst instance's distance past the bound against the tolerance band (a violation is above it)."""
    from matplotlib import ticker

    from boundlab.report.figures import BLUE, ORANGE, RED, _symlog_threshold, point_labels

    pts = result.points
    idx = np.arange(len(pts))
    ax = axes[0]
    what = next((p["spread"]["of"] for p in pts if p.get("spread")), "measured / bound")
    for i, p in enumerate(pts):
        q = (p.get("spread") or {}).get("quantiles")
        if not q:
            continue
        ax.plot([i, i], [q[0], q[4]], color=BLUE, lw=1)
        ax.plot([i, i], [q[1], q[3]], color=BLUE, lw=5, alpha=0.5, solid_capstyle="butt")
        ax.plot(i, q[2], "o", color="white", mec=BLUE, ms=4)
    ax.plot([], [], color=BLUE, lw=5, alpha=0.5, label="random instances: range, quartiles, median")
    adv = np.array([np.nan if p.get("max_ratio_search") is None else p["max_ratio_search"] for p in pts], float)
    if what == "measured / bound" and np.isfinite(adv).any():
        ax.plot(idx, adv, "x", color=ORANGE, ms=7, label="best found by the adversarial search")
    ax.axhline(1.0, color=RED, lw=1, label="bound" if what == "measured / bound" else "tolerance")
    ax.set_xlabel("sweep point")
    ax.set_ylabel(what)
    if what != "measured / bound":  # identities: deviations span decades, down to round-off
        q_all = [v for p in pts for v in ((p.get("spread") or {}).get("quantiles") or [])]
        ax.set_yscale("symlog", linthresh=_symlog_threshold(np.array(q_all, float), 1e-3))
    ax.legend(fontsize=6)
    _worst_gap_axis(result, axes[1], idx)
    labels = point_labels(pts)
    # characters the widest label line takes, times the number of points: about 60 fit across a panel at 5.5 pt
    widest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    for a in axes[:2]:
        a.set_xlim(-0.5, len(pts) - 0.5)
        if len(labels) <= 8 and widest * len(labels) <= 60:
            a.set_xticks(idx, labels, fontsize=5.5)
        else:  # too many points, or labels too long, to name: integer ticks, the grid order is the Setup line's
            a.xaxis.set_major_locator(ticker.MaxNLocator(nbins=8, integer=True))
            a.set_xlabel("sweep point (grid order of the Setup line)")


def _worst_gap_axis(result: Result, ax: Axes, idx: np.ndarray) -> None:
    """Per point, the worst instance's distance past the bound, in the claim's own units, against the
    tolerance band: a violation is a dot above the band. Unlike measured/bound this is defined for exact
    claims (zero tolerance), negative bounds and identities."""
    from boundlab.report.figures import BLUE, RED, _symlog_threshold

    pts = result.points
    gap = np.array([np.nan if p.get("worst_gap") is None else p["worst_gap"] for p in pts], float)
    band = np.array([np.nan if p.get("band") is None else p["band"] for p in pts], float)
    identity = result.details.get("op") == "=="
    finite = np.isfinite(gap)
    ax.plot(idx[finite], gap[finite], "o", color=BLUE, ms=4,
            label="worst |measured - bound|" if identity else "worst instance: measured - bound")
    ax.step(idx, band, where="mid", color=RED, lw=1, label="tolerance band (violation above)")
    ax.set_yscale("symlog", linthresh=_symlog_threshold(np.concatenate([gap, band]), 1e-12))
    ax.set_xlabel("sweep point")
    ax.set_ylabel("|measured - bound|" if identity else "measured - bound (claim units)")
    if not finite.any():
        ax.text(0.5, 0.5, "bound infinite at every point", ha="center", transform=ax.transAxes, fontsize=7)
    ax.legend(fontsize=6)
