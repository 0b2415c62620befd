"""The two panels of a rate claim: the data against the claimed law, and the deviation against the margin.

Left: the per-point means (with corrected intervals) against the claimed shape g(n). Under the claimed law
Q = A + B g (or B g without an offset) the points lie on a straight line, so curvature is the deviation.
Right: what decided the verdict, in the claim's units: the deviation's interval, the margin band, the
resolution on each side (the smallest deviation detected with 80% power) and the nearest mutant on each side.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from boundlab.results import Result

BLUE, ORANGE, GREY, RED, GREEN = "#2166ac", "#e08214", "0.45", "#b2182b", "#1b7837"


def law_axis(result: Result, ax: Axes) -> None:
    """Means against the claimed shape, with the weighted least-squares line of the claimed law."""
    pts = result.points
    g = np.array([p["bound"] for p in pts], float)
    est = np.array([np.nan if p["estimate"] is None else p["estimate"] for p in pts], float)
    ci = np.array([p["ci"] if p.get("ci") else [np.nan, np.nan] for p in pts], float)
    ci = np.where(np.isnan(ci), est[:, None], ci)
    ax.errorbar(g, est, yerr=[est - ci[:, 0], ci[:, 1] - est], fmt="o", capsize=3, ms=4, color=BLUE,
                label="measured mean (corrected CI)")
    offset = bool(result.details.get("offset"))
    half = np.maximum((ci[:, 1] - ci[:, 0]) / 2, 1e-300)
    ok = np.isfinite(g) & np.isfinite(est)
    if ok.sum() >= 2:
        w = 1.0 / half[ok] ** 2
        if offset:
            X = np.stack([np.ones(ok.sum()), g[ok]], axis=1)
        else:
            X = g[ok][:, None]
        coef = np.linalg.lstsq(X * np.sqrt(w)[:, None], est[ok] * np.sqrt(w), rcond=None)[0]
        gs = np.linspace(g[ok].min(), g[ok].max(), 50)
        fit = coef[0] + coef[1] * gs if offset else coef[0] * gs
        ax.plot(gs, fit, "--", color=ORANGE, label="claimed law " + ("A + B g" if offset else "B g") + " (fitted)")
    variable = (result.exponent or {}).get("variable", "n")
    ax.set_xlabel(f"claimed shape g({variable})")
    ax.set_ylabel("measured quantity")
    ax.set_title("straight line = the claimed law; curvature = deviation", fontsize=8)
    ax.legend(fontsize=6)


def deviation_axis(result: Result, ax: Axes) -> None:
    """The deviation's interval against the margin, the resolution and the nearest mutants."""
    deviation = result.details.get("deviation")
    margin = float(result.details.get("margin", result.settings.get("margin", 0.0)))
    unit_name = result.details.get("unit_name", "claim units")
    ax.axvspan(-margin, margin, color="0.9", label=f"margin ±{margin:g}")
    ax.axvline(0.0, color=GREY, lw=0.8)
    marks: list[float] = [margin, -margin]
    if deviation:
        low, high = deviation["ci"]
        est = deviation["estimate"]
        shown_low = low if np.isfinite(low) else est - 4 * margin
        shown_high = high if np.isfinite(high) else est + 4 * margin
        ax.plot([shown_low, shown_high], [1, 1], "-", color=BLUE, lw=3, label="deviation interval")
        ax.plot([est], [1], "o", color=BLUE, ms=6)
        marks += [shown_low, shown_high, est]
    res = result.resolution or {}
    for side, sign in (("above", 1.0), ("below", -1.0)):
        value = res.get(side)
        if value is not None and np.isfinite(value):
            ax.plot([sign * value], [0.6], "v", color=GREEN, ms=7,
                    label="resolution (80% power)" if side == "above" else None)
            marks.append(sign * value)
    nearest = result.details.get("nearest") or {}
    for side, sign in (("above", 1.0), ("below", -1.0)):
        mutant = nearest.get(side)
        if mutant:
            name, distance = mutant
            ax.plot([sign * distance], [0.3], "x", color=RED, ms=8, mew=2)
            ax.annotate(name, (sign * distance, 0.3), xytext=(0, -12), textcoords="offset points", ha="center",
                        fontsize=6, color=RED)
            marks.append(sign * distance)
    if nearest:
        ax.plot([], [], "x", color=RED, label="nearest mutant")
    span = max(np.max(np.abs(marks)), 1e-3) * 1.25
    ax.set_xlim(-span, span)
    ax.set_ylim(0, 1.4)
    ax.set_yticks([])
    ax.set_xlabel(f"deviation from the claimed law ({unit_name})")
    ax.set_title("interval inside the margin, resolution finer than the mutants", fontsize=8)
    ax.legend(fontsize=6, loc="upper left")


def rate_figures(result: Result, axes: list[Axes]) -> None:
    law_axis(result, axes[0])
    deviation_axis(result, axes[1])
