"""The pages of a report: a paper's title page, one page per claim, and the index pages."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from boundlab.calibration import label
from boundlab.calibration_cache import CalibrationTable
from boundlab.costs import by_paper, claim_cost
from boundlab.papers import Paper
from boundlab.registry import Registry
from boundlab.report.figures import draw
from boundlab.report.layout import VERDICT_COLOURS, Page, fmt
from boundlab.results import Result

VERDICT_HELP = (
    "consistent: no violation found, with the power the experiment states. violated: a counterexample instance "
    "(saved with its seed) or a statistically significant deviation. inconclusive: the confidence interval cannot "
    "tell the claim from its mutants. A numerical check can refute a theorem, never prove it."
)

COMPUTE_HELP = (
    "compute s: the measured seconds of the units behind a claim and its mutants (its experiment, shared with "
    "any other claim on it, plus their adversarial searches), whether this run computed them or read them from "
    "the results store. Per paper:"
)


def mutant_tally(claim: Result, results: Sequence[Result]) -> str:
    mutants = [m for m in results if m.mutant_of == claim.claim]
    if not mutants:
        return "—"
    return f"{sum(m.verdict == 'violated' for m in mutants)}/{len(mutants)}"


def paper_title_page(paper: Paper, results: Sequence[Result], footer: str) -> Figure:
    page = Page(footer, header="BoundLab report")
    page.text(paper.title, size=16, weight="bold", width=50)
    page.text(", ".join(paper.authors), size=10, width=95)
    arxiv = f" · arXiv:{paper.arxiv_id}" if paper.arxiv_id else ""
    page.text(f"{paper.venue} {paper.year}{arxiv} · key {paper.key}", size=9, color="0.3")
    page.y -= 0.01
    page.rule()
    claims = [r for r in results if not r.is_mutant]
    page.text("Verdicts", size=12, weight="bold")
    page.table(
        ["claim", "kind", "statement from", "headline number", "mutants refuted", "verdict"],
        [[c.claim.split("/", 1)[1], c.kind, c.statement["provenance"], c.headline(), mutant_tally(c, results),
          c.verdict] for c in claims],
        [0.25, 0.1, 0.13, 0.3, 0.11, 0.11],
    )
    page.y -= 0.01
    page.text(VERDICT_HELP, size=8, color="0.3", width=120)
    weak = [c.claim for c in claims if c.weak_check]
    if weak:
        page.text("Weak checks (no mutant refuted): " + ", ".join(weak), size=9, color=VERDICT_COLOURS["violated"])
    page.y -= 0.01
    page.text("How to read the claim pages", size=11, weight="bold")
    page.text(
        "Each claim page gives the statement as encoded (typeset from its sympy expression), whether it is quoted "
        "from the paper or reconstructed, the experiment and the decision rule, the verdict with its reason, and "
        "two figures. Rate claims: the measured means against the claimed shape g (a straight line is the "
        "claimed law, curvature the deviation), and the deviation from the claimed law in the claim's units with "
        "its interval, the margin, the resolution (the smallest deviation detected with 80% power) and the "
        "nearest mutants. Sure claims: the largest measured/bound ratio over random instances "
        "and over an adversarial search. Expectation claims: Monte Carlo means with Holm-corrected intervals "
        "against the bound. Limit claims: the distance to the reference object along the sweep. High-probability "
        "claims: the event's frequency with one-sided Clopper-Pearson bounds against delta at each sweep point. The "
        "table at the bottom lists the mutants, deliberately wrong variants that the same experiment must refute.",
        size=8, width=125,
    )
    return page.close()


def _setup_text(r: Result) -> str:
    """'<experiment>. 12 sweep points: n in {6, 9} x gamma in {0.1, 0.5}; fixed m = 6; 32 replicates per point.'"""
    params = [p["params"] for p in r.points]
    values: dict[str, list[object]] = {}
    for p in params:
        for key, value in p.items():
            if value not in values.setdefault(key, []):
                values[key].append(value)
    varying = [f"{k} in {{{', '.join(fmt(v, 4) for v in vs)}}}" for k, vs in values.items() if len(vs) > 1]
    fixed = [f"{k} = {fmt(vs[0], 4)}" for k, vs in values.items() if len(vs) == 1]
    sweep = f"{len(params)} sweep point(s)"
    if varying:
        sweep += ": " + " x ".join(varying)
    if fixed:
        sweep += "; fixed " + ", ".join(fixed)
    reps = "/".join(str(x) for x in sorted({p["replicates"] for p in r.points})) or "0"
    settings = ", ".join(f"{k} = {v}" for k, v in r.settings.items() if v not in ("", None))
    return f"{r.experiment.get('description', '')} {sweep}; {reps} replicate(s) per point. Decision: {settings}."


def _diagnostics_text(r: Result) -> str:
    """'feasibility_gap: max 3e-14 (median 0)' over all sweep points, for each diagnostic quantity."""
    names: dict[str, list[tuple[float, float]]] = {}
    for p in r.points:
        for name, d in p.get("diagnostics", {}).items():
            names.setdefault(name, []).append((d["median"], d["max"]))
    parts = [f"{name}: max {fmt(max(v[1] for v in values), 2)} (median of point medians "
             f"{fmt(float(sorted(v[0] for v in values)[len(values) // 2]), 2)})" for name, values in names.items()]
    return "; ".join(parts)


def claim_page(paper: Paper, r: Result, mutants: Sequence[Result], footer: str) -> Figure:
    page = Page(footer, header=f"{paper.title} — {paper.key}")
    page.badge(r.verdict)
    page.text(r.claim, size=13, weight="bold", width=70)
    prov = r.statement["provenance"]
    page.text(f"{r.kind} claim · {prov}: {r.statement['source']}", size=8, color="0.3", width=130)
    page.math(r.statement["latex"], r.statement["text"], size=13)
    if r.description:
        page.text(r.description, size=8.5, width=125)
    if r.assumptions:
        page.text("Assumptions: " + "; ".join(r.assumptions), size=8, width=130, color="0.2")
    page.text("Setup: " + _setup_text(r), size=8, width=130, color="0.2")
    page.text("Verdict: " + r.reason, size=8.5, width=120, color=VERDICT_COLOURS.get(r.verdict, "black"))
    facts = [r.headline()]
    if r.counterexample:
        cex = r.counterexample
        shown = {k: cex[k] for k in ("params", "lhs", "rhs", "estimate", "bound", "distance", "found_by", "block",
                                     "index", "seed") if k in cex}
        facts.append("counterexample: " + ", ".join(f"{k} = {fmt(v, 6)}" for k, v in shown.items()))
    diagnostics = _diagnostics_text(r)
    if diagnostics:
        facts.append(diagnostics)
    facts.append(f"runtime {r.runtime_s:.1f} s, units {r.units.get('total', 0)} ({r.units.get('cached', 0)} cached)")
    page.text(" · ".join(facts), size=8, width=130)
    if r.weak_check:
        page.text("Weak check: none of this claim's mutants was refuted by this experiment.", size=9,
                  color=VERDICT_COLOURS["violated"], weight="bold")
    axes = page.axes(min(0.33, page.remaining() - 0.2))
    draw(r, axes)
    if mutants:
        page.text("Mutants (deliberately wrong variants; each must come out violated)", size=10, weight="bold")
        page.table(
            ["mutant", "statement", "the error it encodes", "why", "verdict"],
            [[m.claim.split("~", 1)[1], m.statement["text"], m.description, m.reason, m.verdict] for m in mutants],
            [0.16, 0.2, 0.2, 0.32, 0.12],
            size=6.5,
        )
    else:
        page.text("This claim declares no mutant.", size=9, color=VERDICT_COLOURS["violated"])
    return page.close()


def index_pages(
    registry: Registry,
    results: Sequence[Result],
    calibration: CalibrationTable | None,
    seeds: int,
    footer: str,
) -> list[Figure]:
    pages = []
    page = Page(footer, header="BoundLab")
    page.text("BoundLab — verdict index", size=16, weight="bold")
    papers = sorted({r.paper for r in results})
    for key in papers:
        p = registry.papers[key]
        page.text(f"{key}: {p.citation}", size=8,
                  width=125)
    page.y -= 0.01
    claims = [r for r in results if not r.is_mutant]
    rows = [[c.claim, c.kind, c.headline(), mutant_tally(c, results),
             f"{claim_cost(c, [m for m in results if m.mutant_of == c.claim]):.1f}", c.verdict] for c in claims]
    page.table(["claim", "kind", "headline number", "mutants refuted", "compute s", "verdict"], rows,
               [0.38, 0.09, 0.27, 0.1, 0.07, 0.09], size=7)
    page.y -= 0.01
    page.text(VERDICT_HELP, size=7.5, color="0.3", width=140)
    page.text(COMPUTE_HELP + " " + "; ".join(f"{paper} {cost.seconds:.1f} s" for paper, cost in
                                             by_paper(results).items()) + ".", size=7.5, color="0.3", width=140)
    pages.append(page.close())
    if calibration is not None:
        page = Page(footer, header="BoundLab")
        page.text("Calibration of the decision rules", size=14, weight="bold")
        page.text(
            f"Synthetic claims whose truth is known, each decided over {seeds} seeds with the same functions the "
            "engine uses. False-violation rate: how often a true claim (some sitting exactly at the edge of their "
            "margin) came out violated; nominal level 0.05 (0 for sure claims). Power: how often a mutant of the "
            "stated size came out violated. Intervals are Clopper-Pearson 95%. "
            f"Computed in {calibration.runtime_s:.1f} s" + (" (read from the results store)." if calibration.cached
                                                              else "."),
            size=8.5, width=125,
        )
        searched = [c for kind in ("false_violation", "power") for c in calibration.rows[kind] if "dim" in c]
        for title, kind, nominal in (("False-violation rate on true claims", "false_violation", True),
                                     ("Power against false claims of a stated size", "power", False)):
            rows = [c for c in calibration.rows[kind] if "dim" not in c]
            if page.remaining() < 0.05 + 0.018 * len(rows):
                pages.append(page.close())
                page = Page(footer, header="BoundLab")
            page.text(title, size=11, weight="bold")
            header = ["synthetic claim", "rate", "95% interval"] + (["nominal"] if nominal else [])
            page.table(header, [[label(c), f"{c['rate']:.3f}", f"[{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]"]
                                + ([fmt(c["nominal"])] if nominal else []) for c in rows],
                       [0.55, 0.12, 0.2, 0.13] if nominal else [0.6, 0.15, 0.25])
            page.y -= 0.01
        if searched:
            pages.append(page.close())
            page = Page(footer, header="BoundLab")
            page.text("Adversarial search (the search code path of verify)", size=11, weight="bold")
            page.text("Synthetic sure claims on [0, 1]^dim whose maximum random draws never reach. Power: the fraction "
                      "of seeds where the search refutes a bound 1% below the maximum (random draws alone: the "
                      "'draws' column). False violations: a bound at the maximum (nominal 0). Tightness: largest "
                      "value found / true maximum, on the true bound.", size=8.5, width=125)
            page.table(["problem", "dim", "bound", "rate", "95% interval", "draws", "tightness med / worst",
                        "evaluations"],
                       [[c["problem"], str(c["dim"]), "1% below max" if c["kind"] == "power" else "at max",
                         f"{c['rate']:.3f}", f"[{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]", f"{c['random_draw_rate']:.2f}",
                         f"{c['median_tightness']:.4f} / {c['worst_tightness']:.4f}",
                         f"{c['median_evaluations']:.0f}"] for c in searched],
                       [0.18, 0.06, 0.13, 0.09, 0.17, 0.08, 0.17, 0.12], size=7.5)
        pages.append(page.close())
    return pages

