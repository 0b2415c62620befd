"""Limit claims: the distance to a reference object falls below a tolerance at the end of the sweep of the
limit variable, and does not grow along it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from boundlab.errors import UsageError
from boundlab.kinds.base import Claim, Decision, PointData, Searched, _f, tightness_headline
from boundlab.statements import Limit, Statement
from boundlab.stats import MeanTest

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from boundlab.results import Result


def _non_finite_limit(distances: Sequence[np.ndarray], tol: float, final: np.ndarray, statistic: str, alpha: float,
                      params: Sequence[Mapping[str, Any]]) -> Decision | None:
    """The decision when some distance is not finite, else None: an infinite distance at a final point means the
    distance does not settle within the tolerance there (violated, that replicate the counterexample); NaN
    anywhere, or an infinite distance before the limit region, leaves the check undecided (inconclusive)."""
    arrays = [np.asarray(d, float) for d in distances]
    if all(np.all(np.isfinite(d)) for d in arrays):
        return None
    details = {"tol": tol, "statistic": statistic, "alpha": alpha,
               "non_finite": [{"params": dict(p), "count": int(np.sum(~np.isfinite(d))), "replicates": int(d.size)}
                              for p, d in zip(params, arrays, strict=True) if not np.all(np.isfinite(d))]}
    points = [{"params": dict(p), "replicates": int(d.size),
               "estimate": _f(float(np.max(d)) if statistic == "max" else float(np.mean(d))), "ci": None,
               "bound": tol, "ratio": None} for p, d in zip(params, arrays, strict=True)]
    resolution = {"distance": None, "power": 0.8, "tol": tol, "meaning": "undefined: some distances are not finite"}
    if not any(np.isnan(d).any() for d in arrays):
        for i in np.flatnonzero(final):
            hit = np.flatnonzero(np.isposinf(arrays[i]))
            if hit.size:
                return Decision(
                    "violated",
                    f"At {dict(params[i])}, in the limit region, replicate {int(hit[0])} ends at an infinite distance "
                    f"({hit.size} of {arrays[i].size} replicates): the distance does not settle within {tol:g}.",
                    points, counterexample={"params": dict(params[i]), "replicate": int(hit[0]), "distance": "inf"},
                    details=details, resolution=resolution)
    count = sum(int(np.sum(~np.isfinite(d))) for d in arrays)
    return Decision(
        "inconclusive",
        f"{count} distances are not finite (NaN, or infinite before the limit region): nothing is decided. The "
        "measurement should report failed runs explicitly.",
        points, details=details, resolution=resolution)


def decide_limit(
    x: np.ndarray,
    distances: Sequence[np.ndarray],
    tol: float,
    final: np.ndarray,
    statistic: str,
    alpha: float,
    params: Sequence[Mapping[str, Any]] | None = None,
) -> Decision:
    """Distance to the limit object along the sweep: below ``tol`` at the final points, and not increasing.

    ``statistic='max'`` is for deterministic distances (every replicate must be within tol); ``'mean'``
    for noisy ones (a one-sided t interval of the mean decides, Bonferroni over the final points).
    """
    x = np.asarray(x, float)
    final = np.asarray(final, bool)
    params = params or [{"x": v} for v in x]
    early = _non_finite_limit(distances, tol, final, statistic, alpha, params)
    if early is not None:
        return early
    n_final = int(final.sum())
    points, summary = [], []
    for p, d in zip(params, distances, strict=True):
        d = np.asarray(d, float)
        test = MeanTest.of(d, guard=False)
        low, high = test.interval(alpha / max(n_final, 1))
        value = float(np.max(d)) if statistic == "max" else test.mean
        summary.append(value)
        points.append(
            {
                "params": dict(p),
                "replicates": int(d.size),
                "estimate": _f(value),
                "ci": None if statistic == "max" else [_f(low), _f(high)],
                "bound": tol,
                "ratio": _f(value / tol) if tol > 0 else None,
            }
        )
    details = {"tol": tol, "statistic": statistic, "alpha": alpha}
    final_tests = [MeanTest.of(np.asarray(distances[i], float), guard=False) for i in np.flatnonzero(final)]
    reach = float(tol) if statistic == "max" else max(
        tol + t.detectable(alpha / max(n_final, 1)) for t in final_tests)
    resolution = {"distance": _f(reach), "power": 0.8, "tol": tol,
                  "meaning": "the smallest final distance to the limit object that the check detects with 80% power "
                  "(the tolerance itself when every replicate must be within it)"}
    final_idx = np.flatnonzero(final)
    settles_above = []
    unsure = []
    for i in final_idx:
        d = np.asarray(distances[i], float)
        if statistic == "max":
            if np.max(d) > tol:
                settles_above.append(i)
        else:
            low, high = MeanTest.of(d, guard=False).interval(alpha / n_final)
            if low > tol:
                settles_above.append(i)
            elif high > tol:
                unsure.append(i)
    if settles_above:
        i = settles_above[0]
        d = np.asarray(distances[i], float)
        j = int(np.argmax(d))
        return Decision(
            "violated",
            f"The distance settles above the tolerance {tol:g} at {points[i]['params']} "
            f"({statistic} distance {summary[i]:.3g}).",
            points,
            counterexample={"params": points[i]["params"], "replicate": j, "distance": float(d[j])},
            details=details,
            resolution=resolution,
        )
    start = float(np.mean(np.asarray(distances[0], float)))
    end = float(np.mean(np.asarray(distances[final_idx[-1]], float)))
    if unsure:
        return Decision(
            "inconclusive",
            f"The interval of the mean distance at {points[unsure[0]]['params']} straddles the tolerance "
            f"{tol:g}.",
            points,
            details=details,
            resolution=resolution,
        )
    if end > start and end > 0.01 * tol:
        return Decision(
            "inconclusive",
            f"The distance is within {tol:g} at the end but grew along the sweep ({start:.3g} -> {end:.3g}); "
            "a limit should be approached, not left.",
            points,
            details=details,
            resolution=resolution,
        )
    return Decision(
        "consistent",
        f"The distance falls to {summary[final_idx[-1]]:.3g} <= {tol:g} at the end of the sweep and does not "
        "grow along it.",
        points,
        details=details,
            resolution=resolution,
    )


@dataclass(eq=False, kw_only=True)
class LimitClaim(Claim):
    """The distance to a reference object falls below ``tol`` at the end of the sweep of the limit variable.

    ``final(params)`` says which sweep points are in the limit region (default: the last point).
    """

    tol: float
    statistic: Literal["max", "mean"]
    alpha: float = 0.05
    final: Callable[[Mapping[str, Any]], bool] | None = field(default=None)
    kind: ClassVar[str] = "limit"
    calibration_cases: ClassVar[str] = "boundlab.calibration:limit_verdict"
    statement_type: ClassVar[type[Statement]] = Limit

    def settings(self) -> dict[str, Any]:
        assert isinstance(self.statement, Limit)
        return {"variable": self.statement.variable.name, "tol": self.tol, "statistic": self.statistic,
                "alpha": self.alpha}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator,
               searched: Searched | None = None) -> Decision:
        assert isinstance(statement, Limit)
        var = statement.variable.name
        x = np.array([float(p.params[var]) for p in points])
        distances = [np.broadcast_to(statement.distance(p.values), (len(p.replay),)) for p in points]
        if self.final is None:
            final = x == x.max()
        else:
            final = np.array([bool(self.final(p.params)) for p in points])
        if not final.any():
            raise UsageError(f"Claim {self.id}: no sweep point lies in the limit region.")
        return decide_limit(
            x, distances, self.tol, final, self.statistic, self.alpha, params=[p.params for p in points]
        )

    @staticmethod
    def headline(result: Result) -> str:
        """The distance at the last sweep point (unless the decision reports a tightness); for a violation, the
        distance where it settles above the tolerance."""
        generic = tightness_headline(result)
        if generic is not None:
            return generic
        where = (result.counterexample or {}).get("params") if result.verdict == "violated" else None
        hit = [p for p in result.points if where is not None and p["params"] == where]
        if hit and hit[0]["estimate"] is not None:
            return f"distance {hit[0]['estimate']:.3g} at {', '.join(f'{k}={v}' for k, v in where.items())}"
        if result.points and result.points[-1]["estimate"] is not None:
            return f"final distance {result.points[-1]['estimate']:.3g}"
        return "—"

    @staticmethod
    def figure(result: Result, axes: list[Axes]) -> None:
        """The distance to the limit object along the sweep against the tolerance; the verdict's reason."""
        limit_figures(result, axes)


def limit_figures(result: Result, axes: list[Axes]) -> None:
    from boundlab.report.figures import BLUE, RED, _errorbars, _log_x_if_wide, sweep_axis

    name, x = sweep_axis(result)
    pts = result.points
    ax = axes[0]
    est = np.array([p["estimate"] for p in pts], float)
    if pts and pts[0].get("ci"):
        _errorbars(ax, x, pts, color=BLUE, label="mean distance (CI)")
    else:
        ax.plot(x, est, "o-", color=BLUE, ms=4, label="largest distance over replicates")
    tol = result.settings.get("tol")
    if tol:
        ax.axhline(tol, color=RED, lw=1, ls="--", label=f"tolerance {tol:g}")
    positive = est[np.isfinite(est)]
    if positive.size and np.all(positive > 0):
        ax.set_yscale("log")
    _log_x_if_wide(ax, name, x)
    ax.set_xlabel(name or "sweep point")
    ax.set_ylabel("distance to the limit object")
    ax.legend(fontsize=6)
    axes[1].set_axis_off()
    axes[1].text(0.0, 0.9, result.reason, fontsize=7, wrap=True, va="top", transform=axes[1].transAxes)
