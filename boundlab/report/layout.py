"""Page layout on matplotlib figures: A4 pages, wrapped text, typeset statements, tables, footers."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from functools import cache

import matplotlib.lines
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.mathtext import MathTextParser

A4 = (8.27, 11.69)
MARGIN = 0.07
VERDICT_COLOURS = {
    "consistent": "#1b7837",
    "violated": "#b2182b",
    "inconclusive": "#b8860b",
    "error": "#6a3d9a",
}


@cache
def _parser() -> MathTextParser:
    return MathTextParser("path")


def mathtext_ok(latex: str) -> bool:
    """Whether matplotlib's mathtext can typeset this LaTeX (no TeX installation is needed)."""
    try:
        _parser().parse(f"${latex}$", dpi=72)
    except Exception:
        return False
    return True


class Page:
    """A portrait A4 page filled top to bottom; ``y`` is the next free line in figure coordinates."""

    def __init__(self, footer: str, header: str = "") -> None:
        self.fig = Figure(figsize=A4)  # no pyplot: no GUI backend, nothing left open
        self.y = 1.0 - MARGIN
        if header:
            self.fig.text(MARGIN, 1.0 - MARGIN / 2, header, fontsize=7, color="0.4", va="center")
        self.fig.text(MARGIN, MARGIN / 2, footer, fontsize=6, color="0.4", va="center", wrap=True)

    def text(self, text: str, size: float = 9.0, width: int = 110, weight: str = "normal", color: str = "black",
             indent: float = 0.0, gap: float = 0.004) -> None:
        lines = []
        for paragraph in text.split("\n"):
            lines += textwrap.wrap(paragraph, width=width) or [""]
        step = size / 72 * 1.35 / A4[1]
        for line in lines:
            self.fig.text(MARGIN + indent, self.y, line, fontsize=size, weight=weight, color=color, va="top")
            self.y -= step
        self.y -= gap

    def math(self, latex: str, fallback: str, size: float = 12.0, indent: float = 0.02) -> None:
        if mathtext_ok(latex):
            self.fig.text(MARGIN + indent, self.y, f"${latex}$", fontsize=size, va="top")
            self.y -= size / 72 * 2.2 / A4[1]
        else:
            self.text(fallback, size=size - 2, indent=indent)

    def badge(self, verdict: str, x: float = 1.0 - MARGIN) -> None:
        self.fig.text(x, self.y + 0.012, f" {verdict.upper()} ", fontsize=10, color="white", ha="right", va="top",
                      weight="bold", bbox={"facecolor": VERDICT_COLOURS.get(verdict, "grey"), "edgecolor": "none",
                                           "boxstyle": "round,pad=0.3"})

    def rule(self) -> None:
        self.fig.add_artist(matplotlib.lines.Line2D([MARGIN, 1 - MARGIN], [self.y, self.y], color="0.7", lw=0.6))
        self.y -= 0.008

    def axes(self, height: float, columns: int = 2) -> list[Axes]:
        """A row of plot axes occupying ``height`` of the page below the current line."""
        bottom = self.y - height
        width = (1 - 2 * MARGIN - 0.08 * (columns - 1)) / columns
        axes = [
            self.fig.add_axes((MARGIN + 0.04 + i * (width + 0.08), bottom + 0.035, width - 0.04, height - 0.06))
            for i in range(columns)
        ]
        self.y = bottom - 0.01
        return axes

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
              colours: Sequence[str | None] | None = None, size: float = 7.5) -> None:
        """A simple ruled table; ``widths`` are fractions of the text width; long cells are wrapped."""
        total = 1 - 2 * MARGIN
        xs = [MARGIN]
        for w in widths[:-1]:
            xs.append(xs[-1] + w * total)
        step = size / 72 * 1.35 / A4[1]

        def wrap(cells: Sequence[object], bold: bool = False) -> list[list[str]]:
            chars = 115 if bold else 128
            return [textwrap.wrap(str(c), width=max(int(widths[i] * chars * 7.5 / size), 4)) or [""]
                    for i, c in enumerate(cells)]

        head = wrap(header, bold=True)
        for i, lines in enumerate(head):
            for j, line in enumerate(lines):
                self.fig.text(xs[i], self.y - j * step, line, fontsize=size, weight="bold", va="top")
        self.y -= max(len(h) for h in head) * step
        self.rule()
        for r, row in enumerate(rows):
            wrapped = wrap(row)
            height = max(len(w) for w in wrapped)
            for i, lines in enumerate(wrapped):
                colour = colours[r] if colours and i == len(row) - 1 and colours[r] else "black"
                for j, line in enumerate(lines):
                    self.fig.text(xs[i], self.y - j * step, line, fontsize=size, va="top",
                                  color=VERDICT_COLOURS.get(line.strip(), colour))
            self.y -= height * step + 0.003

    def remaining(self) -> float:
        return self.y - MARGIN

    def close(self) -> Figure:
        return self.fig


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)
