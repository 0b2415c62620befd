"""Figures per claim kind, drawn from a Result's points: measured against bound, fitted slopes, ratios."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes

from boundlab.report.rate_figures import rate_figures as deviation_figures
from boundlab.results import Result

BLUE, ORANGE, GREY, RED = "#2166ac", "#e08214", "0.45", "#b2182b"


def _plain_log_axis(axis: Any, values: np.ndarray | None = None) -> None:
    """Readable log-axis labels: the sweep values themselves when few, else 1-2-5 ticks; no minor labels."""
    if values is not None and 1 < len(values) <= 9:
        axis.set_major_locator(ticker.FixedLocator(values))
    else:
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _symlog_threshold(values: np.ndarray, default: float) -> float:
    """Linear range of a symlog axis: the smallest positive finite |value|, so nothing is drawn as 0."""
    v = np.abs(np.asarray(values, float))
    v = v[np.isfinite(v) & (v > 0)]
    return float(max(v.min(), 1e-300)) if v.size else default


def sweep_axis(result: Result) -> tuple[str | None, np.ndarray]:
    """The swept parameter (the rate or limit variable, else the first that varies) and its values."""
    params = [p["params"] for p in result.points]
    name = None
    if result.exponent:
        name = result.exponent["variable"]
    elif result.kind == "limit":
        name = result.details.get("variable") or result.settings.get("variable")
    if name is None:
        for key in params[0] if params else []:
            values = {str(p.get(key)) for p in params}
            if len(values) > 1 and all(isinstance(p.get(key), (int, float)) for p in params):
                name = key
                break
    if name is None or any(not isinstance(p.get(name), (int, float)) for p in params):
        return None, np.arange(len(params), dtype=float)
    return name, np.array([float(p[name]) for p in params])


def _log_x_if_wide(ax: Axes, name: str | None, x: np.ndarray) -> None:
    """A log x axis when the swept parameter spans more than a factor 20."""
    if name and np.all(x > 0) and x.max() / x.min() > 20:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis, x)


def _errorbars(ax: Axes, x: np.ndarray, points: list[dict[str, Any]], **kw: Any) -> None:
    est = np.array([np.nan if p["estimate"] is None else p["estimate"] for p in points], float)
    ci = np.array([p["ci"] if p.get("ci") else [np.nan, np.nan] for p in points], dtype=float)
    ci = np.where(np.isnan(ci), est[:, None], ci)
    ax.errorbar(x, est, yerr=[est - ci[:, 0], ci[:, 1] - est], fmt="o", capsize=3, ms=4, **kw)


def rate_figures(result: Result, axes: list[Axes]) -> None:
    name, x = sweep_axis(result)
    pts = result.points
    est = np.array([p["estimate"] for p in pts], float)
    shape = np.array([p["bound"] for p in pts], float)
    ax = axes[0]
    _errorbars(ax, x, pts, color=BLUE, label="measured mean (corrected CI)")
    # The claimed shape, scaled to pass through the data's geometric centre (constants are not claimed).
    scale = np.exp(np.mean(np.log(est)) - np.mean(np.log(shape))) if np.all(est > 0) else 1.0
    xs = np.geomspace(x.min(), x.max(), 100)
    ax.plot(x, scale * shape, "--", color=ORANGE, label="claimed shape (scaled)")
    e = result.exponent or {}
    if e.get("estimate") is not None and np.all(est > 0):
        slope = e["estimate"]
        intercept = np.mean(np.log(est)) - slope * np.mean(np.log(x))
        lo, hi = e["ci"]
        ax.plot(xs, np.exp(intercept) * xs**slope, "-", color=GREY, lw=1,
                label=f"fit: slope {slope:.3f} [{lo:.3f}, {hi:.3f}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_axis(ax.xaxis, x)
    _plain_log_axis(ax.yaxis)
    ax.set_xlabel(name or "sweep point")
    ax.set_ylabel("measured quantity")
    ax.set_title(f"claimed local slope {e.get('claimed', float('nan')):.3f}", fontsize=8)
    ax.legend(fontsize=6)
    ratio_axis(result, axes[1], x, name)


def ratio_axis(result: Result, ax: Axes, x: np.ndarray, name: str | None) -> None:
    pts = result.points
    ratio = np.array([np.nan if p["ratio"] is None else p["ratio"] for p in pts], float)
    ok = np.isfinite(ratio) & (ratio > 0)
    if not ok.any():
        ax.text(0.5, 0.5, "no finite ratio", ha="center", transform=ax.transAxes)
        return
    r0 = ratio[ok][0]
    ax.plot(x[ok], ratio[ok] / r0, "o-", color=BLUE, ms=4, label="measured / claimed shape (normalised)")
    margin = result.details.get("margin", 0.1)
    if len(x[ok]) > 1:
        xs = np.geomspace(x[ok].min(), x[ok].max(), 50)
        for sign in (-1, 1):
            ax.plot(xs, (xs / x[ok][0]) ** (sign * margin), ":", color=GREY, lw=1)
        ax.plot([], [], ":", color=GREY, label=f"residual slope ±{margin:g}")
    s = result.details.get("residual_slope")
    if s is not None:
        ci = result.details["residual_ci"]
        ax.set_title(f"residual slope {s:+.3f}, CI [{ci[0]:+.3f}, {ci[1]:+.3f}]", fontsize=8)
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis, x)
    ax.set_xlabel(name or "sweep point")
    ax.set_ylabel("ratio to claimed shape (first point = 1)")
    ax.legend(fontsize=6)


def expectation_figures(result: Result, axes: list[Axes]) -> None:
    name, x = sweep_axis(result)
    pts = result.points
    ax = axes[0]
    _errorbars(ax, x, pts, color=BLUE, label="mean (Holm-level CI)")
    bound = np.array([np.nan if p["bound"] is None else p["bound"] for p in pts], float)
    ax.plot(x, bound, "s--", color=ORANGE, ms=4, label="bound")
    _log_x_if_wide(ax, name, x)
    ax.set_xlabel(name or "sweep point")
    ax.set_ylabel("value")
    ax.legend(fontsize=6)
    ax2 = axes[1]
    ratio = np.array([np.nan if p["ratio"] is None else p["ratio"] for p in pts], float)
    ax2.plot(x, ratio, "o-", color=BLUE, ms=4, label="mean / bound")
    ax2.axhline(1.0, color=RED, lw=1, label="bound")
    margin = result.settings.get("margin", 0.0)
    if margin:
        ax2.axhline(1.0 + margin, color=RED, lw=0.8, ls=":", label=f"bound x (1 + {margin:g})")
    _log_x_if_wide(ax2, name, x)
    ax2.set_xlabel(name or "sweep point")
    ax2.set_ylabel("ratio")
    ax2.legend(fontsize=6)


def sure_figures(result: Result, axes: list[Axes]) -> None:
    """Left: spread of measured/bound (or |deviation|/tolerance) over random instances, with the search's best.
    Right: the worst instance's distance past the bound against the tolerance band (a violation is above it)."""
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
    for a in axes[:2]:
        a.set_xlim(-0.5, len(pts) - 0.5)
        if len(labels) <= 8:
            a.set_xticks(idx, labels, fontsize=5.5)
        else:  # too many points to name: integer ticks, the grid order is the Setup line's
            a.xaxis.set_major_locator(ticker.MaxNLocator(nbins=8, integer=True))
            a.set_xlabel("sweep point (grid order of the Setup line)")


def _worst_gap_axis(result: Result, ax: Axes, idx: np.ndarray) -> None:
    """Per point, the worst instance's distance past the bound, in the claim's own units, against the
    tolerance band: a violation is a dot above the band. Unlike measured/bound this is defined for exact
    claims (zero tolerance), negative bounds and identities."""
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


def point_labels(points: list[dict[str, Any]]) -> list[str]:
    """Short tick labels: only the parameters that differ between sweep points, at most two lines each."""
    params = [p["params"] for p in points]
    varying = [k for k in (params[0] if params else {}) if len({str(p.get(k)) for p in params}) > 1]
    labels = []
    for p in params:
        parts = [f"{k}={p[k]}" for k in varying]
        labels.append("\n".join([", ".join(parts[:2]), ", ".join(parts[2:])]).strip() or "all")
    return labels


def limit_figures(result: Result, axes: list[Axes]) -> None:
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


DRAW = {"rate": deviation_figures, "expectation": expectation_figures, "sure": sure_figures, "limit": limit_figures}


def draw(result: Result, axes: list[Axes]) -> None:
    if not result.points:
        for ax in axes:
            ax.set_axis_off()
        axes[0].text(0, 0.5, "No measurements (see the verdict's reason).", fontsize=8)
        return
    DRAW[result.kind](result, axes)
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
        ax.grid(True, which="major", alpha=0.25)
