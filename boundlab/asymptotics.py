"""Asymptotic facts about claimed shapes g(n), derived from their sympy expressions (never typed twice).

Used when a rate claim is declared: which units its deviations are measured in, whether it carries an additive
lower-order term, and on which side of the claim each mutant lies (a mutant implied by a true claim can never
be refuted, so it is rejected when the module loads).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import sympy as sp

from boundlab.statements import _plain

Side = Literal["smaller", "same", "larger"]


_W = sp.Symbol("boundlab_w", positive=True)


def _in_variable(shape: sp.Expr, variable: str) -> tuple[sp.Expr, sp.Symbol]:
    """The shape as a function of a positive symbol w standing for the variable; every other symbol is set to 2
    (constants do not change an order in the variable). Float exponents are made rational first, or their rounding
    leaves spurious powers such as w**(2.8e-17) that change a limit."""
    expr = sp.nsimplify(_plain(sp.sympify(shape)), rational=True)  # T**0.1 -> T**(1/10): exact exponents
    w = _W
    subs = {s: (w if s.name == variable else sp.Integer(2)) for s in expr.free_symbols}
    return expr.subs(subs), w


@cache
def grows(shape: sp.Expr, variable: str) -> bool:
    """True when g(n) -> infinity as n -> infinity (then a constant is a lower-order term)."""
    g, w = _in_variable(shape, variable)
    return bool(sp.limit(g, w, sp.oo) == sp.oo)


@cache
def compare(shape: sp.Expr, other: sp.Expr, variable: str) -> Side:
    """Whether ``other`` is o(shape) ('smaller'), Theta(shape) ('same') or grows faster ('larger')."""
    g, w = _in_variable(shape, variable)
    h, _ = _in_variable(other, variable)
    limit = sp.limit(sp.simplify(h / g), w, sp.oo)
    if limit == 0:
        return "smaller"
    if limit in (sp.oo, -sp.oo):
        return "larger"
    if limit.is_finite and limit.is_positive:
        return "same"
    raise ValueError(f"cannot compare {other} with {shape} as {variable} -> oo (limit of the ratio: {limit})")


@cache
def power_and_log_power(shape: sp.Expr, variable: str) -> tuple[float, float]:
    """(a, b) with g ~ n^a (log n)^b as n -> infinity."""
    g, w = _in_variable(shape, variable)
    if not g.has(w):
        return 0.0, 0.0
    elasticity = sp.simplify(w * sp.diff(g, w) / g)
    a = sp.limit(elasticity, w, sp.oo)
    b = sp.limit(sp.log(w) * (elasticity - a), w, sp.oo)
    return float(a), float(b)


def deviation_units(shape: sp.Expr, variable: str) -> Literal["power", "log-power"]:
    """Exponents of n for shapes with a power of n; powers of log n for pure log factors and constants."""
    a, _ = power_and_log_power(shape, variable)
    return "power" if a != 0 else "log-power"
