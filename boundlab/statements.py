"""Claims as sympy statements: the single source of their LaTeX, numeric evaluation and asymptotic order.

Four statement forms cover the five claim kinds:

* :class:`Relation` wraps a sympy relation ``lhs <= rhs``, ``lhs >= rhs`` or ``Eq(lhs, rhs)``. It is used by
  ``sure`` claims (on every instance) and by ``expectation`` claims (write the lhs as ``Expectation(Q)``).
* :class:`Asymptotic` states ``Q = O(g)``, ``Theta(g)`` or ``Omega(g)``; the claimed exponent of the swept
  variable is derived from ``g``.
* :class:`Limit` states ``lim_{v -> v0} Q = target``; the distance ``|Q - target| / scale`` is what is measured.
* :class:`Probability` states ``P[Q > B] <= delta`` (high-probability claims): the event is a strict or non-strict
  :class:`Relation`, ``delta`` a number or an expression of the sweep parameters.

Measured quantities appear as symbols (``S_k``) or applied undefined functions (``R(T)``); both evaluate to the
measured array of that name. Everything else evaluates from the sweep point's parameters.
"""

from __future__ import annotations

import hashlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from boundlab.errors import MeasurementError, UsageError


class Expectation(sp.Function):
    """``E[Q]``: marks the measured side of an expectation claim; evaluates to Q per replicate."""

    nargs = 1

    def _latex(self, printer: Any) -> str:
        return r"\mathbb{E}\left[" + printer._print(self.args[0]) + r"\right]"

    def _sympystr(self, printer: Any) -> str:
        return "E[" + printer._print(self.args[0]) + "]"


# Typeset names of measured quantities, per module that declared them (two papers may both call a quantity R).
# Sympy caches equal symbols, so the name cannot live on the symbol itself.
_LATEX_NAMES: dict[str, dict[sp.Symbol, str]] = {}

LatexNames = Mapping[sp.Symbol, str]


def quantity(name: str, latex: str | None = None, *, module: str | None = None) -> sp.Symbol:
    """A measured quantity: a symbol evaluated from the measurement called ``name``, typeset as ``latex``.

    The typeset name belongs to ``module`` (default: the calling module), so it applies to that module's
    statements only (see :func:`latex_names`).
    """
    symbol = sp.Symbol(name, real=True)
    if latex is not None:
        owner = module or sys._getframe(1).f_globals.get("__name__", "__main__")
        _LATEX_NAMES.setdefault(owner, {})[symbol] = latex
    return symbol


@cache
def _imported_project_modules(module: str) -> tuple[str, ...]:
    from boundlab.closure import module_closure

    return tuple(m for m in module_closure(module) if m != module)


def latex_names(module: str) -> dict[sp.Symbol, str]:
    """The typeset names for statements of ``module``: its own, over those of the project modules it imports."""
    if not module:
        return {}
    names: dict[sp.Symbol, str] = {}
    for other in _imported_project_modules(module):
        names.update(_LATEX_NAMES.get(other, {}))
    names.update(_LATEX_NAMES.get(module, {}))
    return names


def to_latex(expr: sp.Basic, names: LatexNames | None = None) -> str:
    """LaTeX of an expression, with the typeset names given to measured quantities (``names``, see
    :func:`latex_names`; none: sympy's own)."""
    return sp.latex(expr, symbol_names=dict(names or {}))


def _plain(expr: sp.Expr) -> sp.Expr:
    """Replace E[Q] by Q and every applied undefined function R(T) by the symbol R."""
    expr = expr.replace(lambda e: isinstance(e, Expectation), lambda e: e.args[0])
    return expr.replace(
        lambda e: isinstance(e, AppliedUndef), lambda e: sp.Symbol(e.func.__name__, real=True)
    )


def symbol_names(*exprs: sp.Basic) -> set[str]:
    """Names a statement's expressions evaluate from: free symbols, with R(T) counted as R and E[Q] as Q."""
    names: set[str] = set()
    for expr in exprs:
        names |= {s.name for s in _plain(sp.sympify(expr)).free_symbols}
    return names


def statement_names(statement: Statement) -> set[str]:
    """Every name (measured quantity or sweep parameter) that evaluating ``statement`` needs."""
    if isinstance(statement, Relation):
        return symbol_names(statement.relation.lhs, statement.relation.rhs)
    if isinstance(statement, Asymptotic):
        return symbol_names(statement.quantity, statement.shape)
    if isinstance(statement, Limit):
        return symbol_names(statement.quantity, statement.target, statement.variable, statement.point,
                            statement.scale)
    if isinstance(statement, Probability):
        return symbol_names(statement.event.relation.lhs, statement.event.relation.rhs, statement.level)
    raise UsageError(f"Unknown statement type {type(statement).__name__}.")


@dataclass(frozen=True, eq=False)
class _Evaluator:
    """A lambdified expression that takes its arguments by name from a mapping."""

    expr: sp.Expr
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        plain = _plain(sp.sympify(self.expr))
        object.__setattr__(self, "expr", plain)
        object.__setattr__(self, "names", tuple(sorted(s.name for s in plain.free_symbols)))

    @cached_property
    def _function(self) -> Any:
        symbols = sorted(self.expr.free_symbols, key=lambda s: s.name)
        return sp.lambdify(symbols, self.expr, modules="numpy")

    def __call__(self, values: Mapping[str, Any]) -> np.ndarray:
        missing = [n for n in self.names if n not in values]
        if missing:
            raise MeasurementError(
                f"Cannot evaluate {self.expr}: no value for {', '.join(missing)} "
                f"(available: {', '.join(sorted(values))})."
            )
        args = [np.asarray(values[n], dtype=float) for n in self.names]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self._function(*args), dtype=float)


def _digest(*parts: object) -> str:
    text = "|".join(sp.srepr(p) if isinstance(p, sp.Basic) else repr(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Statement(ABC):
    """Base class: every statement gives LaTeX, plain text and a digest that changes when it changes."""

    @abstractmethod
    def latex(self, names: LatexNames | None = None) -> str:
        """LaTeX, typesetting measured quantities with ``names`` (a :func:`latex_names` mapping)."""

    @abstractmethod
    def text(self) -> str: ...

    @abstractmethod
    def digest(self) -> str: ...


Op = Literal["<=", ">=", "=="]


@dataclass(frozen=True, eq=False)
class Relation(Statement):
    """``lhs <= rhs``, ``lhs >= rhs`` or ``lhs == rhs`` as a sympy relation."""

    relation: sp.Rel

    def __post_init__(self) -> None:
        if not isinstance(self.relation, (sp.Le, sp.Lt, sp.Ge, sp.Gt, sp.Eq)):
            raise UsageError(f"relation must be a sympy Le, Ge or Eq, got {type(self.relation).__name__}.")

    @property
    def op(self) -> Op:
        if isinstance(self.relation, (sp.Le, sp.Lt)):
            return "<="
        if isinstance(self.relation, (sp.Ge, sp.Gt)):
            return ">="
        return "=="

    @property
    def is_expectation(self) -> bool:
        return isinstance(self.relation.lhs, Expectation)

    @cached_property
    def lhs(self) -> _Evaluator:
        return _Evaluator(self.relation.lhs)

    @cached_property
    def rhs(self) -> _Evaluator:
        return _Evaluator(self.relation.rhs)

    def evaluate(self, values: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return self.lhs(values), self.rhs(values)

    def latex(self, names: LatexNames | None = None) -> str:
        return to_latex(self.relation, names)

    def text(self) -> str:
        return f"{sp.sstr(self.relation.lhs)} {self.op} {sp.sstr(self.relation.rhs)}"

    def digest(self) -> str:
        return _digest("Relation", self.relation)


Order = Literal["O", "Theta", "Omega"]
_ORDER_LATEX = {"O": r"\mathcal{O}", "Theta": r"\Theta", "Omega": r"\Omega"}


@dataclass(frozen=True, eq=False)
class Asymptotic(Statement):
    """``quantity = O(shape)`` (or Theta, Omega) in the swept variable; constants in ``shape`` are irrelevant."""

    quantity: sp.Expr
    order: Order
    shape: sp.Expr

    def __post_init__(self) -> None:
        if self.order not in _ORDER_LATEX:
            raise UsageError(f"order must be one of O, Theta, Omega, got {self.order!r}.")

    @cached_property
    def measured(self) -> _Evaluator:
        return _Evaluator(self.quantity)

    @cached_property
    def shape_function(self) -> _Evaluator:
        return _Evaluator(self.shape)

    def exponents(self, variable: str) -> tuple[float, float]:
        """Asymptotic (power, log power) of ``shape`` in ``variable``: shape ~ v^a (log v)^b as v -> oo."""
        shape = _plain(self.shape)
        matches = [s for s in shape.free_symbols if s.name == variable]
        if not matches:
            return 0.0, 0.0
        v = matches[0]
        w = sp.Dummy("w", positive=True)
        g = shape.subs(v, w)
        elasticity = sp.simplify(w * sp.diff(g, w) / g)
        a = sp.limit(elasticity, w, sp.oo)
        b = sp.limit(sp.log(w) * (elasticity - a), w, sp.oo)
        return float(a), float(b)

    def latex(self, names: LatexNames | None = None) -> str:
        measured, shape = to_latex(self.quantity, names), to_latex(self.shape, names)
        return f"{measured} = {_ORDER_LATEX[self.order]}\\left({shape}\\right)"

    def text(self) -> str:
        return f"{sp.sstr(self.quantity)} = {self.order}({sp.sstr(self.shape)})"

    def digest(self) -> str:
        return _digest("Asymptotic", self.quantity, self.order, self.shape)


@dataclass(frozen=True, eq=False)
class Limit(Statement):
    """``lim_{variable -> point} quantity = target``; the check measures ``|quantity - target| / scale``."""

    quantity: sp.Expr
    target: sp.Expr
    variable: sp.Symbol
    point: sp.Expr
    scale: sp.Expr = sp.Integer(1)

    @cached_property
    def _distance(self) -> _Evaluator:
        return _Evaluator(sp.Abs(self.quantity - self.target) / self.scale)

    def distance(self, values: Mapping[str, Any]) -> np.ndarray:
        return self._distance(values)

    def latex(self, names: LatexNames | None = None) -> str:
        lim = to_latex(sp.Symbol(self.variable.name), names) + r" \to " + to_latex(self.point, names)
        return r"\lim_{" + lim + "} " + to_latex(self.quantity, names) + " = " + to_latex(self.target, names)

    def text(self) -> str:
        return f"lim_{{{self.variable} -> {self.point}}} {sp.sstr(self.quantity)} = {sp.sstr(self.target)}"

    def digest(self) -> str:
        return _digest("Limit", self.quantity, self.target, self.variable, self.point, self.scale)


_STRICT = {sp.StrictGreaterThan: ">", sp.GreaterThan: ">=", sp.StrictLessThan: "<", sp.LessThan: "<="}


@dataclass(frozen=True, eq=False)
class Probability(Statement):
    """``P[event] <= level``: the probability of ``event`` (a Relation ``Q > B``, ``Q >= B``, ``Q < B`` or
    ``Q <= B`` between a measured quantity and a bound) is at most ``level`` (delta: a number, or an expression
    of the sweep parameters). Typeset as ``\\mathbb{P}[Q > B] \\le \\delta``."""

    event: Relation
    level: sp.Expr

    def __post_init__(self) -> None:
        if not isinstance(self.event, Relation) or type(self.event.relation) not in _STRICT:
            raise UsageError("the event of a Probability must be a Relation Q > B, Q >= B, Q < B or Q <= B, got "
                             f"{self.event!r}.")
        object.__setattr__(self, "level", sp.sympify(self.level))

    @property
    def op(self) -> str:
        """The event's comparison, strictness kept: '>', '>=', '<' or '<='."""
        return _STRICT[type(self.event.relation)]

    @property
    def upper(self) -> bool:
        """True for an upper-tail event (Q > B or Q >= B): a smaller B makes it more likely."""
        return self.op in (">", ">=")

    def exceeds(self, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Per replicate, whether the event happened (NaN on either side: False; the caller counts those)."""
        with np.errstate(invalid="ignore"):
            return {">": lhs > rhs, ">=": lhs >= rhs, "<": lhs < rhs, "<=": lhs <= rhs}[self.op]

    @cached_property
    def level_function(self) -> _Evaluator:
        return _Evaluator(self.level)

    def latex(self, names: LatexNames | None = None) -> str:
        event = to_latex(self.event.relation, names)
        return r"\mathbb{P}\left[" + event + r"\right] \le " + to_latex(self.level, names)

    def text(self) -> str:
        rel = self.event.relation
        return f"P[{sp.sstr(rel.lhs)} {self.op} {sp.sstr(rel.rhs)}] <= {sp.sstr(self.level)}"

    def digest(self) -> str:
        return _digest("Probability", self.event.relation, self.level)
