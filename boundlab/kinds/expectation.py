"""Expectation claims: E[Q] <= B (or >=, ==) at each sweep point, decided by a t interval of the mean with a
relative margin and Holm's correction over points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from boundlab.errors import UsageError
from boundlab.kinds.base import Claim, Decision, PointData, Searched, _f
from boundlab.statements import Relation, Statement
from boundlab.stats import MeanTest, holm

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from boundlab.results import Result


@dataclass
class MeanEvidence:
    params: Mapping[str, Any]
    lhs: np.ndarray
    rhs: np.ndarray


def _non_finite(evidence: Sequence[MeanEvidence], op: str, margin: float, alpha: float) -> Decision | None:
    """The decision when some measured value is not finite, else None.

    An infinite lhs on the side the claim bounds (+inf for <=, -inf for >=, either for ==) with a finite bound
    makes the expectation infinite on that side: the claim is violated, with that replicate as the counterexample.
    Any other non-finite value (NaN, an infinite bound, an infinite value on the harmless side) leaves the mean
    undefined or untestable: inconclusive, with the count."""
    bad = []
    for ev in evidence:
        lhs, rhs = np.asarray(ev.lhs, float), np.asarray(ev.rhs, float)
        mask = ~(np.isfinite(lhs) & np.isfinite(rhs))
        if mask.any():
            bad.append((ev, lhs, rhs, mask))
    if not bad:
        return None
    details = {"margin": margin, "alpha": alpha, "op": op,
               "non_finite": [{"params": dict(ev.params), "count": int(m.sum()), "replicates": int(m.size)}
                              for ev, _, _, m in bad]}
    points = [{"params": dict(ev.params), "replicates": int(np.size(ev.lhs)), "estimate": None, "ci": None,
               "bound": _f(float(np.mean(ev.rhs))) if np.all(np.isfinite(ev.rhs)) else None, "ratio": None}
              for ev in evidence]
    resolution = {"relative_deviation": None, "power": 0.8, "margin": margin,
                  "meaning": "undefined: some measured values are not finite"}
    harmful = {"<=": (np.inf,), ">=": (-np.inf,), "==": (np.inf, -np.inf)}[op]
    for ev, lhs, rhs, _ in bad:
        hit = np.flatnonzero(np.isin(lhs, harmful) & np.isfinite(rhs))
        if hit.size:
            j = int(hit[0])
            return Decision(
                "violated",
                f"At {dict(ev.params)} replicate {j} measured {lhs[j]} against a finite bound {rhs[j]:.4g}: a value "
                f"that is infinite with positive probability makes the expectation infinite, so E[Q] {op} B fails.",
                points, counterexample={"params": dict(ev.params), "replicate": j, "estimate": str(lhs[j]),
                                        "bound": float(rhs[j])},
                details=details, resolution=resolution)
    ev, _, _, m = bad[0]
    return Decision(
        "inconclusive",
        f"{sum(int(b[3].sum()) for b in bad)} measured values at {len(bad)} of {len(evidence)} points are not finite "
        f"(NaN or infinite; first at {dict(ev.params)}, {int(m.sum())} of {m.size} replicates): the mean is "
        "undefined there, so nothing is decided. The measurement should report diverging or failed runs "
        "explicitly.",
        points, details=details, resolution=resolution)


def decide_expectation(evidence: Sequence[MeanEvidence], op: str, margin: float, alpha: float) -> Decision:
    """E[lhs] <= rhs (or >=, ==) at every point; Holm over points; margins relative to |E[rhs]|. Non-finite
    measurements are decided by :func:`_non_finite`."""
    early = _non_finite(evidence, op, margin, alpha)
    if early is not None:
        return early
    n_points = len(evidence)
    pvalues, inside, points, detectable, guarded = [], [], [], [], []
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
        sides = {"<=": (True,), ">=": (False,), "==": (True, False)}[op]
        can_fail = all(test.trusted(side) for side in sides)
        if not test.normal_enough:
            guarded.append(len(points))
        # smallest deviation of the mean past the margin detected with 80% power at this point (t test); none
        # on a side whose test the short-tail guard does not run
        reach = allowed + test.detectable(alpha / n_points) if can_fail else float("inf")
        detectable.append(reach / abs(bound) if bound != 0 else float("inf"))
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
                "skewness": _f(test.skew),
                "normal_enough": test.normal_enough,
            }
        )
    rejected = holm(pvalues, alpha)
    for point, rej in zip(points, rejected, strict=True):
        point["rejected"] = bool(rej)
    ratios = [p["ratio"] for p in points if p["ratio"] is not None]
    tightness = max(ratios) if ratios and op == "<=" else (min(ratios) if ratios and op == ">=" else None)
    details = {"margin": margin, "alpha": alpha, "correction": "Holm", "op": op,
               "short_tail_guarded_points": len(guarded)}
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
    reason = ("No significant violation, but at some point the corrected interval crosses the margin: more "
              "replicates are needed to tell the claim from a variant.")
    if guarded:
        worst = max((points[i] for i in guarded), key=lambda q: abs(q["skewness"] or 0.0))
        reason += (f" At {len(guarded)} of {n_points} points the sample is too small for its skewness (Cochran's "
                   f"rule n >= 25 G1^2 at the skewness's 95% upper bound; G1 = {worst['skewness']:.2g} with "
                   f"{worst['replicates']} replicates at {worst['params']}), so the test on the short-tail side is "
                   "not run and bounds nothing there.")
    return Decision("inconclusive", reason, points, tightness=tightness, details=details, resolution=resolution)


@dataclass(eq=False, kw_only=True)
class ExpectationClaim(Claim):
    """E[Q] <= B (or >=, =) at each sweep point, with a relative margin and Holm's correction over points."""

    relative_margin: float
    alpha: float = 0.05
    kind: ClassVar[str] = "expectation"
    calibration_cases: ClassVar[str] = "boundlab.calibration:mean_verdict"
    statement_type: ClassVar[type[Statement]] = Relation

    def validate_statement(self, statement: Statement) -> None:
        super().validate_statement(statement)
        assert isinstance(statement, Relation)
        if not statement.is_expectation:
            raise UsageError(f"Claim {self.id}: write the measured side of an expectation claim as E[Q].")

    def settings(self) -> dict[str, Any]:
        return {"relative_margin": self.relative_margin, "alpha": self.alpha}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator,
               searched: Searched | None = None) -> Decision:
        assert isinstance(statement, Relation)
        evidence = []
        for p in points:
            lhs, rhs = statement.evaluate(p.values)
            n = len(p.replay)
            evidence.append(MeanEvidence(p.params, np.broadcast_to(lhs, (n,)), np.broadcast_to(rhs, (n,))))
        return decide_expectation(evidence, statement.op, self.relative_margin, self.alpha)

    @staticmethod
    def headline(result: Result) -> str:
        """The mean / bound at the point farthest from the bound on the side the claim can fail (both sides for
        "=="), with its Holm-level interval, and the resolution."""
        scored = [p for p in result.points if p.get("ratio") is not None and p.get("bound")]
        if not scored:
            return "—"
        op = result.details.get("op", "<=")
        key = {"<=": lambda q: q["ratio"], ">=": lambda q: -q["ratio"]}.get(op, lambda q: abs(q["ratio"] - 1.0))
        p = max(scored, key=key)
        # an interval end is None where the short-tail guard left that side unbounded (JSON has no infinity)
        low_end, high_end = (-np.inf if p["ci"][0] is None else p["ci"][0]), (np.inf if p["ci"][1] is None
                                                                               else p["ci"][1])
        low, high = sorted(x / p["bound"] for x in (low_end, high_end))
        res = (result.resolution or {}).get("relative_deviation")
        tail = f", resolution {res:.2g}" if res is not None else ", no resolution (the failing side is untested)"
        return f"mean/bound {p['ratio']:.4g} [{low:.4g}, {high:.4g}]{tail}"

    @staticmethod
    def figure(result: Result, axes: list[Axes]) -> None:
        """The means with their Holm-level intervals against the bound; the ratio mean / bound."""
        expectation_figures(result, axes)


def expectation_figures(result: Result, axes: list[Axes]) -> None:
    from boundlab.report.figures import estimates_against_bound

    estimates_against_bound(result, axes, estimate="mean (Holm-level CI)", bound="bound", ylabel="value")
