"""A compact, checked way to declare a paper: sweeps written once, and mutants for the common wrong variants.

``budgets`` writes an experiment's sweep once, as a grid of axes, and gives each fidelity its overrides of axes
and its replicate count (always stated: the replicate count decides what a verdict can resolve)::

    budgets({"T": [300, 1000, 3000, 10000], "d": 5}, block=128,
            quick=at(replicates=512),
            standard=at(replicates=2048, T=[300, 1000, 3000, 10000, 30000]),
            full=at(replicates=4096, T=[300, 1000, 3000, 10000, 30000, 100000]))

The mutant helpers build a :class:`~boundlab.claims.Mutant` with a generated kebab-case name and a description
saying what the error is; ``name=`` and ``why=`` replace or extend them. Free-form ``Mutant(...)`` stays
available for any other wrong variant.

* :func:`faster` / :func:`slower`: a rate whose shape is multiplied / divided by ``by`` (a power of the
  variable or of its log), e.g. ``slower(claim, sp.sqrt(sp.log(T)))`` for "O(sqrt(log T)) instead of O(log T)";
* :func:`scaled_bound`: the bound of a sure or expectation relation multiplied by a constant;
* :func:`wrong_limit`: a limit claimed to be another object;
* :func:`dropped_term`: an additive term of the bound left out.

Every bad argument raises :class:`~boundlab.errors.UsageError` naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from boundlab.claims import Mutant
from boundlab.errors import UsageError
from boundlab.experiments import FIDELITIES, Budget, grid
from boundlab.statements import Asymptotic, Limit, Order, Relation

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
Points = tuple[Mapping[str, Any], ...]


# ------------------------------------------------------------------------------------------------ budgets
@dataclass(frozen=True)
class Fidelity:
    """One fidelity's part of a sweep: its replicate count and what it changes in the shared declaration.

    ``axes`` override (or add) axes of the shared grid; ``points`` replaces the whole sweep (for sweeps that are
    not one grid, e.g. the union of two grids). ``block``, ``restarts`` and ``evaluations`` override the shared
    values given to :func:`budgets`.
    """

    replicates: int
    block: int | None = None
    restarts: int | None = None
    evaluations: int | None = None
    points: Points | None = None
    axes: Mapping[str, Any] = field(default_factory=dict)


def at(replicates: int, *, block: int | None = None, restarts: int | None = None, evaluations: int | None = None,
       points: Sequence[Mapping[str, Any]] | None = None, **axes: Any) -> Fidelity:
    """A fidelity's overrides: ``replicates`` (required), optional block and search sizes, and axis overrides."""
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise UsageError(f"at(): replicates must be an integer >= 1, got {replicates!r}.")
    if points is not None and axes:
        raise UsageError(f"at(): give either points or axis overrides, not both (axes {', '.join(axes)}).")
    return Fidelity(replicates, block, restarts, evaluations, None if points is None else tuple(points), dict(axes))


def budgets(axes: Mapping[str, Any] | None = None, *, quick: Fidelity, standard: Fidelity, full: Fidelity,
            block: int, restarts: int = 0, evaluations: int | None = None) -> dict[str, Budget]:
    """The three fidelities' budgets of one sweep: the grid of ``axes``, overridden per fidelity by :func:`at`.

    ``block`` (required, as it fixes how replicates are drawn and seeded) is the replicates per batched block;
    a block larger than a fidelity's replicate count is cut to it. ``restarts`` and ``evaluations`` size the
    adversarial search of sure claims (:class:`~boundlab.experiments.Budget`); per-fidelity values override them.
    A fidelity that searches (restarts >= 1) must be given its ``evaluations`` (here or in :func:`at`): the
    search's size decides what a sure claim's verdict means, so it has no silent default.
    """
    given = {"quick": quick, "standard": standard, "full": full}
    for name, spec in given.items():
        if not isinstance(spec, Fidelity):
            raise UsageError(f"budgets(): {name} must be at(replicates=..., ...), got {type(spec).__name__}.")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise UsageError(f"budgets(): block must be an integer >= 1, got {block!r}.")
    shared = dict(axes or {})
    out: dict[str, Budget] = {}
    for fidelity in FIDELITIES:
        spec = given[fidelity]
        if spec.points is not None:
            points = spec.points
        else:
            merged = {**shared, **spec.axes}
            if not merged:
                raise UsageError(f"budgets(): {fidelity} has no sweep: give axes or at(points=...).")
            points = grid(**merged)
        size = spec.block if spec.block is not None else block
        searches = restarts if spec.restarts is None else spec.restarts
        evals = evaluations if spec.evaluations is None else spec.evaluations
        if searches and evals is None:
            raise UsageError(f"budgets(): {fidelity} searches ({searches} restarts) but has no evaluations: give "
                             "evaluations= (per dimension of the instance space) to budgets() or at().")
        out[fidelity] = Budget(
            points,
            replicates=spec.replicates,
            block=min(size, spec.replicates),
            restarts=searches,
            evaluations=1 if evals is None else evals,
        )
    return out


# ------------------------------------------------------------------------------------------------ mutants
def slug(expr: Any) -> str:
    """A kebab-case rendering of a sympy expression or number: ``sqrt(log(T))`` -> ``sqrt-log-t``."""
    text = sp.sstr(sp.sympify(expr)).lower()
    text = ("minus " + text[1:]) if text.startswith("-") else text
    for old, new in (("**", " pow "), ("/", " over "), ("*", " "), (".", "p"), ("-", " minus ")):
        text = text.replace(old, new)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "zero"


def _name(name: str | None, generated: str) -> str:
    chosen = generated if name is None else name
    if not isinstance(chosen, str) or not _NAME.match(chosen):
        raise UsageError(f"name must be kebab-case (lower-case words joined by '-'), got {chosen!r}.")
    return chosen


def _describe(text: str, why: str) -> str:
    return f"{text} {why.strip()}".strip() if why else text


def _asymptotic(statement: Any, helper: str) -> Asymptotic:
    if not isinstance(statement, Asymptotic):
        raise UsageError(f"{helper}(): statement must be an Asymptotic (a rate claim's statement), got "
                         f"{type(statement).__name__}.")
    return statement


def _rate_factor(statement: Asymptotic, by: Any, helper: str) -> sp.Expr:
    try:
        factor = sp.sympify(by)
    except (sp.SympifyError, TypeError):
        raise UsageError(f"{helper}(): by must be a sympy expression, got {by!r}.") from None
    if not factor.free_symbols:
        raise UsageError(f"{helper}(): by must depend on the rate's variable (e.g. T or log(T)): a constant factor "
                         f"{factor} does not change a rate.")
    return factor


def _rate_mutant(statement: Any, by: Any, direction: str, order: Order | None, name: str | None, why: str
                 ) -> Mutant:
    helper = "faster" if direction == "faster" else "slower"
    claim = _asymptotic(statement, helper)
    factor = _rate_factor(claim, by, helper)
    shape = sp.simplify(claim.shape * factor if direction == "faster" else claim.shape / factor)
    new_order = claim.order if order is None else order
    if new_order not in ("O", "Theta", "Omega"):
        raise UsageError(f"{helper}(): order must be one of O, Theta, Omega, got {order!r}.")
    mutant = Asymptotic(claim.quantity, new_order, shape)
    side = "larger" if direction == "faster" else "smaller"
    text = (f"A {side} rate: {mutant.text()} instead of {claim.text()} (the claimed shape "
            f"{'times' if direction == 'faster' else 'divided by'} {sp.sstr(factor)}).")
    return Mutant(_name(name, f"{helper}-by-{slug(factor)}"), mutant, _describe(text, why))


def faster(statement: Asymptotic, by: Any, *, order: Order | None = None, name: str | None = None, why: str = ""
           ) -> Mutant:
    """The rate claim with its shape multiplied by ``by`` (e.g. ``T``, ``sp.log(T)``): a faster growth.

    For an Omega (or Theta) claim this is a larger false lower bound; ``order`` changes the order too.
    """
    return _rate_mutant(statement, by, "faster", order, name, why)


def slower(statement: Asymptotic, by: Any, *, order: Order | None = None, name: str | None = None, why: str = ""
           ) -> Mutant:
    """The rate claim with its shape divided by ``by``: a slower growth (for an O claim, a tighter false bound)."""
    return _rate_mutant(statement, by, "slower", order, name, why)


def _relation(relation: Any, helper: str) -> Relation:
    if not isinstance(relation, Relation):
        raise UsageError(f"{helper}(): relation must be a Relation, got {type(relation).__name__}.")
    return relation


def _rebuild(relation: Relation, rhs: sp.Expr) -> Relation:
    return Relation(relation.relation.func(relation.relation.lhs, rhs, evaluate=False))


def scaled_bound(relation: Relation, factor: float, *, name: str | None = None, why: str = "") -> Mutant:
    """The relation with its bound (right-hand side) multiplied by ``factor``, a positive number other than 1:
    e.g. ``scaled_bound(E[R] <= B, 0.5)``, a bound twice too tight."""
    claim = _relation(relation, "scaled_bound")
    if isinstance(factor, bool) or not isinstance(factor, (int, float, sp.Number)) or not 0 < float(factor) != 1:
        raise UsageError(f"scaled_bound(): factor must be a positive number other than 1, got {factor!r}.")
    if not float(factor) < float("inf"):
        raise UsageError(f"scaled_bound(): factor must be finite, got {factor!r}.")
    value = sp.nsimplify(factor)
    mutant = _rebuild(claim, sp.Mul(value, claim.relation.rhs, evaluate=False))
    text = f"The bound scaled by {sp.sstr(value)}: {mutant.text()} instead of {claim.text()}."
    return Mutant(_name(name, f"bound-times-{slug(value)}"), mutant, _describe(text, why))


def dropped_term(relation: Relation, term: Any, *, name: str | None = None, why: str = "") -> Mutant:
    """The relation with one additive ``term`` of its right-hand side left out (a forgotten constant or
    lower-order term)."""
    claim = _relation(relation, "dropped_term")
    try:
        dropped = sp.sympify(term)
    except (sp.SympifyError, TypeError):
        raise UsageError(f"dropped_term(): term must be a sympy expression, got {term!r}.") from None
    terms = sp.Add.make_args(claim.relation.rhs)
    if dropped not in terms or len(terms) < 2:
        raise UsageError(f"dropped_term(): term {sp.sstr(dropped)} is not one of the additive terms of the bound "
                         f"{sp.sstr(claim.relation.rhs)} ({', '.join(sp.sstr(t) for t in terms)}).")
    mutant = _rebuild(claim, sp.Add(*[t for t in terms if t != dropped]))
    text = f"The term {sp.sstr(dropped)} dropped from the bound: {mutant.text()} instead of {claim.text()}."
    return Mutant(_name(name, f"drops-{slug(dropped)}"), mutant, _describe(text, why))


def wrong_limit(limit: Limit, target: Any, *, scale: Any = None, name: str | None = None, why: str = ""
                ) -> Mutant:
    """The limit claimed to be ``target`` instead of the claim's target (``scale``: the new relative scale,
    default the claim's)."""
    if not isinstance(limit, Limit):
        raise UsageError(f"wrong_limit(): limit must be a Limit, got {type(limit).__name__}.")
    try:
        other = sp.sympify(target)
        new_scale = limit.scale if scale is None else sp.sympify(scale)
    except (sp.SympifyError, TypeError):
        raise UsageError(f"wrong_limit(): target and scale must be sympy expressions, got {target!r}, "
                         f"{scale!r}.") from None
    if other == limit.target:
        raise UsageError(f"wrong_limit(): target must differ from the claim's target {sp.sstr(limit.target)}.")
    mutant = Limit(limit.quantity, other, limit.variable, limit.point, scale=new_scale)
    text = f"The wrong limit object: {mutant.text()} instead of {limit.text()}."
    return Mutant(_name(name, f"limit-is-{slug(other)}"), mutant, _describe(text, why))
