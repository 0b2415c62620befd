"""Figures of a Result: the shared axes helpers, and :func:`draw`, which calls the claim kind's own figure
(``figure`` of its class in boundlab.kinds)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes

from boundlab.kinds import kind_of
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
    else:  # a kind with a variable of its own (the limit variable) names it in its details or settings
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


def estimates_against_bound(result: Result, axes: list[Axes], *, estimate: str, bound: str, ylabel: str,
                            ratio_intervals: bool = False) -> None:
    """The two panels of a per-point test: the estimate with its interval against the bound per sweep point, and
    the estimate relative to the bound with the margin's line (``ratio_intervals``: the interval too)."""
    name, x = sweep_axis(result)
    pts = result.points
    ax = axes[0]
    _errorbars(ax, x, pts, color=BLUE, label=estimate)
    limit = np.array([np.nan if p["bound"] is None else p["bound"] for p in pts], float)
    # join the points by lines only along a monotone axis: with several parameters varying, a line from one
    # sweep point to the next zigzags across the panel and suggests a trend that is not there
    joined = bool(np.all(np.diff(x) > 0)) if len(x) > 1 else False
    ax.plot(x, limit, "s--" if joined else "s", color=ORANGE, ms=4, label=bound)
    _log_x_if_wide(ax, name, x)
    ax.set_xlabel(name or "sweep point")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6)
    ax2 = axes[1]
    ratio = np.array([np.nan if p["ratio"] is None else p["ratio"] for p in pts], float)
    if ratio_intervals:
        ci = np.array([p["ci"] if p.get("ci") else [np.nan, np.nan] for p in pts], float) / limit[:, None]
        ax2.errorbar(x, ratio, yerr=[ratio - ci[:, 0], ci[:, 1] - ratio], fmt="o", capsize=3, ms=4, color=BLUE,
                     label=f"{estimate.split(' (')[0]} / {bound}")
    else:
        ax2.plot(x, ratio, "o-" if joined else "o", color=BLUE, ms=4, label=f"{estimate.split(' (')[0]} / {bound}")
    ax2.axhline(1.0, color=RED, lw=1, label=bound)
    margin = result.details.get("margin", 0.0)
    if margin:
        # the side(s) the claim allows: above for <=, below for >=, both for ==
        op = result.details.get("op", "<=")
        if op in ("<=", "=="):
            ax2.axhline(1.0 + margin, color=RED, lw=0.8, ls=":", label=f"{bound} x (1 + {margin:g})")
        if op in (">=", "=="):
            ax2.axhline(1.0 - margin, color=RED, lw=0.8, ls="--", label=f"{bound} x (1 - {margin:g})")
    _log_x_if_wide(ax2, name, x)
    ax2.set_xlabel(name or "sweep point")
    ax2.set_ylabel(f"ratio to {bound}")
    ax2.legend(fontsize=6)


def point_labels(points: list[dict[str, Any]]) -> list[str]:
    """Short tick labels: only the parameters that differ between sweep points, at most two lines each."""
    params = [p["params"] for p in points]
    varying = [k for k in (params[0] if params else {}) if len({str(p.get(k)) for p in params}) > 1]
    labels = []
    for p in params:
        parts = [f"{k}={p[k]}" for k in varying]
        labels.append("\n".join([", ".join(parts[:2]), ", ".join(parts[2:])]).strip() or "all")
    return labels


def draw(result: Result, axes: list[Axes]) -> None:
    if not result.points:
        for ax in axes:
            ax.set_axis_off()
        axes[0].text(0, 0.5, "No measurements (see the verdict's reason).", fontsize=8)
        return
    kind_of(result.kind).figure(result, axes)
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
        ax.grid(True, which="major", alpha=0.25)
