"""How each claim kind turns measurements into a verdict (see STATISTICS.md).

Pure functions of arrays: the engine calls them with simulation output, the calibration suite with
synthetic data whose truth is known. Each returns a :class:`Decision` that carries the verdict, the one
sentence that explains it, per-point summaries and the kind-specific evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from boundlab.rates import Units, fit_deviation
from boundlab.stats import MeanTest, holm, ols_slope
from boundlab.stats import scipy_stats as stats

Verdict = Literal["consistent", "violated", "inconclusive", "error"]
VERDICTS: tuple[str, ...] = ("consistent", "violated", "inconclusive", "error")


@dataclass
class Decision:
    verdict: Verdict
    reason: str
    points: list[dict[str, Any]]
    exponent: dict[str, Any] | None = None
    tightness: float | None = None
    counterexample: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    resolution: dict[str, Any] | None = None


def _f(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


# --------------------------------------------------------------------------------------------- sure


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


# --------------------------------------------------------------------------------------- expectation


@dataclass
class MeanEvidence:
    params: Mapping[str, Any]
    lhs: np.ndarray
    rhs: np.ndarray


def decide_expectation(evidence: Sequence[MeanEvidence], op: str, margin: float, alpha: float) -> Decision:
    """E[lhs] <= rhs (or >=, ==) at every point; Holm over points; margins relative to |E[rhs]|."""
    n_points = len(evidence)
    pvalues, inside, points, detectable = [], [], [], []
    for ev in evidence:
        diff = np.asarray(ev.lhs, float) - np.asarray(ev.rhs, float)
        bound = float(np.mean(ev.rhs))
        allowed = margin * abs(bound)
        test = MeanTest.of(diff)
        low, high = test.interval(alpha / n_points)
        if op == "<=":
            p = test.p_above(allowed)
            ok = high <= allowed
        elif op == ">=":
            p = test.p_below(-allowed)
            ok = low >= -allowed
        else:
            # two one-sided tests, either can reject: Bonferroni over the two sides keeps the size at alpha
            p = min(1.0, 2.0 * min(test.p_above(allowed), test.p_below(-allowed)))
            ok = -allowed <= low and high <= allowed
        pvalues.append(p)
        inside.append(ok)
        # smallest deviation of the mean past the margin detected with 80% power at this point (t test)
        detectable.append((allowed + test.detectable(alpha / n_points)) / abs(bound) if bound != 0 else float("inf"))
        estimate = bound + test.mean
        points.append(
            {
                "params": dict(ev.params),
                "replicates": test.n,
                "estimate": _f(estimate),
                "ci": [_f(bound + low), _f(bound + high)],
                "bound": _f(bound),
                "ratio": _f(estimate / bound) if bound != 0 else None,
                "p_value": _f(p),
            }
        )
    rejected = holm(pvalues, alpha)
    for point, rej in zip(points, rejected, strict=True):
        point["rejected"] = bool(rej)
    ratios = [p["ratio"] for p in points if p["ratio"] is not None]
    tightness = max(ratios) if ratios and op == "<=" else (min(ratios) if ratios and op == ">=" else None)
    details = {"margin": margin, "alpha": alpha, "correction": "Holm"}
    resolution = {"relative_deviation": _f(max(detectable)), "power": 0.8, "margin": margin,
                  "meaning": "the smallest relative deviation of the mean from the bound (beyond the margin, on the "
                  "side the claim can fail) that the test detects with 80% power at the worst sweep point"}
    rel = {"<=": "exceeds", ">=": "falls below", "==": "differs from"}[op]
    if rejected.any():
        k = int(np.argmin(pvalues))
        pt = points[k]
        return Decision(
            "violated",
            f"At {int(rejected.sum())} of {n_points} points the mean significantly {rel} the bound "
            f"(margin {margin:g}, Holm-corrected alpha {alpha:g}); strongest at {pt['params']}: "
            f"{pt['estimate']:.4g} vs {pt['bound']:.4g}, p = {pt['p_value']:.2g}.",
            points,
            tightness=tightness,
            counterexample={"params": pt["params"], "estimate": pt["estimate"], "bound": pt["bound"],
                            "p_value": pt["p_value"]},
            details=details,
            resolution=resolution,
        )
    if all(inside):
        return Decision(
            "consistent",
            f"At all {n_points} points the corrected interval of the mean lies within the bound's margin "
            f"({margin:g}).",
            points,
            tightness=tightness,
            details=details,
            resolution=resolution,
        )
    return Decision(
        "inconclusive",
        "No significant violation, but at some point the corrected interval crosses the margin: more "
        "replicates are needed to tell the claim from a variant.",
        points,
        tightness=tightness,
        details=details,
            resolution=resolution,
    )


# ----------------------------------------------------------------------------------------------- rate


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
        low, high = MeanTest.of(s).interval(alpha / n_points)
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


# ---------------------------------------------------------------------------------------------- limit


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
    n_final = int(final.sum())
    points, summary = [], []
    for p, d in zip(params, distances, strict=True):
        d = np.asarray(d, float)
        test = MeanTest.of(d)
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
    final_tests = [MeanTest.of(np.asarray(distances[i], float)) for i in np.flatnonzero(final)]
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
            low, high = MeanTest.of(d).interval(alpha / n_final)
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
