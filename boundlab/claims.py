"""Claims of the four kinds, their provenance and their mutants.

A claim couples a statement (sympy) with an experiment and a decision rule. Its mutants are deliberately
wrong statements run through exactly the same experiment and rule; each must come out ``violated``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal

import numpy as np

from boundlab import asymptotics
from boundlab.decisions import (
    Decision,
    MeanEvidence,
    Nearest,
    SureEvidence,
    decide_expectation,
    decide_limit,
    decide_rate,
    decide_sure,
)
from boundlab.errors import MeasurementError, UsageError
from boundlab.experiments import FIDELITIES, THETA, Experiment
from boundlab.papers import Paper
from boundlab.rates import unit_distance
from boundlab.statements import Asymptotic, Limit, Relation, Statement

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Provenance:
    """Where a statement comes from: ``quoted`` (with its theorem number) or ``reconstructed`` (with what was
    inferred)."""

    status: Literal["quoted", "reconstructed"]
    source: str


def quoted(source: str) -> Provenance:
    return Provenance("quoted", source)


def reconstructed(note: str) -> Provenance:
    return Provenance("reconstructed", note)


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong variant of a claim; ``description`` names the error it encodes."""

    name: str
    statement: Statement
    description: str


@dataclass
class PointData:
    """Everything measured at one sweep point: the parameters, the replicate arrays, and how to replay each."""

    params: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray]
    replay: list[dict[str, Any]]

    @property
    def values(self) -> dict[str, Any]:
        return {**self.params, **{k: v for k, v in self.arrays.items() if k != THETA}}


@dataclass(frozen=True)
class Entry:
    """One statement to decide: the claim itself or one of its mutants."""

    id: str
    claim: Claim
    statement: Statement
    mutant: Mutant | None

    @property
    def mutant_of(self) -> str | None:
        return self.claim.id if self.mutant else None


@dataclass(eq=False)
class Claim(ABC):
    """Base of the four kinds. ``module`` is filled in by the registry (the theorem module's import name).

    ``diagnostics`` names measured quantities (a plan's feasibility gap, a solver's certified gap) that every
    result reports per sweep point (median and max) without entering the verdict.
    """

    name: str
    paper: Paper
    statement: Statement
    experiment: Experiment
    provenance: Provenance
    description: str = ""
    assumptions: tuple[str, ...] = ()
    mutants: tuple[Mutant, ...] = ()
    diagnostics: tuple[str, ...] = ()
    module: str = ""

    kind: ClassVar[str] = ""
    statement_type: ClassVar[type[Statement]] = Statement

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(f"Claim name {self.name!r} must be kebab-case.")
        names = [m.name for m in self.mutants]
        if len(set(names)) != len(names) or not all(_NAME.match(n) for n in names):
            raise UsageError(f"Claim {self.id}: mutant names must be unique and kebab-case, got {names}.")
        for s in [self.statement, *(m.statement for m in self.mutants)]:
            self.validate_statement(s)

    @property
    def id(self) -> str:
        return f"{self.paper.key}/{self.name}"

    def validate_statement(self, statement: Statement) -> None:
        if not isinstance(statement, self.statement_type):
            raise UsageError(
                f"Claim {self.id}: a {self.kind} claim needs a {self.statement_type.__name__} statement, "
                f"got {type(statement).__name__}."
            )

    def entries(self, with_mutants: bool) -> list[Entry]:
        out = [Entry(self.id, self, self.statement, None)]
        if with_mutants:
            out += [Entry(f"{self.id}~{m.name}", self, m.statement, m) for m in self.mutants]
        return out

    def settings(self) -> dict[str, Any]:
        """The decision settings, for reports and the results' details."""
        return {}

    @abstractmethod
    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator) -> Decision:
        """Turn the measurements of every sweep point into a verdict for ``statement``."""


@dataclass(eq=False)
class SureClaim(Claim):
    """An inequality (or identity) that must hold on every instance, to a stated numerical tolerance."""

    rtol: float = 1e-9
    atol: float = 1e-12
    tolerance_reason: str = ""
    kind: ClassVar[str] = "sure"
    statement_type: ClassVar[type[Statement]] = Relation

    #: A band wider than this (relative, or absolute for atol) must say why, e.g. a measured solver error.
    WIDE_RTOL: ClassVar[float] = 1e-3
    WIDE_ATOL: ClassVar[float] = 1e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value in (("rtol", self.rtol), ("atol", self.atol)):
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise UsageError(f"Claim {self.id}: {name} must be a finite number >= 0, got {value!r}.")
        if (self.rtol > self.WIDE_RTOL or self.atol > self.WIDE_ATOL) and not self.tolerance_reason.strip():
            raise UsageError(
                f"Claim {self.id}: a tolerance band wider than rtol={self.WIDE_RTOL:g} or atol={self.WIDE_ATOL:g} "
                f"(got rtol={self.rtol:g}, atol={self.atol:g}) needs tolerance_reason=..., e.g. the measured error "
                "of the solver it allows for.")

    def validate_statement(self, statement: Statement) -> None:
        super().validate_statement(statement)
        assert isinstance(statement, Relation)
        if statement.is_expectation:
            raise UsageError(f"Claim {self.id}: a sure claim cannot state an expectation E[...].")

    def settings(self) -> dict[str, Any]:
        return {"rtol": self.rtol, "atol": self.atol, "tolerance_reason": self.tolerance_reason}

    def excess(self, statement: Relation, values: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        from boundlab.decisions import sure_excess

        lhs, rhs = statement.evaluate(values)
        lhs, rhs = np.broadcast_arrays(lhs, rhs)
        return sure_excess(lhs, rhs, statement.op, self.rtol, self.atol), lhs, rhs

    def decide(
        self,
        statement: Statement,
        points: Sequence[PointData],
        rng: np.random.Generator,
        searched: Sequence[list[dict[str, Any]]] | None = None,
    ) -> Decision:
        assert isinstance(statement, Relation)
        evidence = []
        for i, p in enumerate(points):
            lhs, rhs = statement.evaluate(p.values)
            n = len(p.replay)
            lhs, rhs = (np.broadcast_to(v, (n,)) for v in (lhs, rhs))
            evidence.append(SureEvidence(p.params, lhs, rhs, p.replay, list(searched[i]) if searched else []))
        return decide_sure(evidence, statement.op, self.rtol, self.atol)


@dataclass(eq=False)
class ExpectationClaim(Claim):
    """E[Q] <= B (or >=, =) at each sweep point, with a relative margin and Holm's correction over points."""

    margin: float = 0.0
    alpha: float = 0.05
    kind: ClassVar[str] = "expectation"
    statement_type: ClassVar[type[Statement]] = Relation

    def validate_statement(self, statement: Statement) -> None:
        super().validate_statement(statement)
        assert isinstance(statement, Relation)
        if not statement.is_expectation:
            raise UsageError(f"Claim {self.id}: write the measured side of an expectation claim as E[Q].")

    def settings(self) -> dict[str, Any]:
        return {"margin": self.margin, "alpha": self.alpha}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator) -> Decision:
        assert isinstance(statement, Relation)
        evidence = []
        for p in points:
            lhs, rhs = statement.evaluate(p.values)
            n = len(p.replay)
            evidence.append(MeanEvidence(p.params, np.broadcast_to(lhs, (n,)), np.broadcast_to(rhs, (n,))))
        return decide_expectation(evidence, statement.op, self.margin, self.alpha)


@cache
def _exponents(statement: Asymptotic, variable: str) -> tuple[float, float]:
    return statement.exponents(variable)


_MIN_POINTS = {True: 4, False: 3}  # distinct values of the variable needed with / without an offset
#: Replicates per sweep point below which the score test's size is not calibrated (log-normal noise at 16
#: replicates: 0.075 false violations at the margin's edge against a nominal 0.05; at 32: 0.045).
MIN_RATE_REPLICATES = 32


@dataclass(eq=False, kw_only=True)
class RateClaim(Claim):
    """Q = O/Theta/Omega(g) in ``variable``, decided on the deviation from the claimed law in the claim's units.

    ``margin`` (required) is the deviation tolerated, in the claim's units: an exponent of the variable for
    shapes with a power of it, a power of log(variable) for pure log factors and constants (``units``, derived
    from the shape unless given). ``offset`` (derived unless given): whether the fit allows an additive constant,
    a lower-order term exactly when the shape grows. Mutants must lie on the side where the claim can fail and
    beyond the margin over every fidelity's sweep; a mutant that the claim implies is rejected when the module
    loads. See boundlab.rates and docs/statistics.md.
    """

    variable: str
    margin: float
    units: Literal["power", "log-power"] | None = None
    offset: bool | None = None
    alpha: float = 0.05
    kind: ClassVar[str] = "rate"
    statement_type: ClassVar[type[Statement]] = Asymptotic

    def __post_init__(self) -> None:
        super().__post_init__()
        assert isinstance(self.statement, Asymptotic)
        if not (isinstance(self.margin, (int, float)) and 0 < self.margin < 8):
            raise UsageError(f"Claim {self.id}: margin must be a number in (0, 8) in the claim's units, got "
                             f"{self.margin!r}.")
        if not 0 < self.alpha < 0.5:
            raise UsageError(f"Claim {self.id}: alpha must lie in (0, 0.5), got {self.alpha!r}.")
        shape = self.statement.shape
        if self.units is None:
            self.units = asymptotics.deviation_units(shape, self.variable)
        if self.units not in ("power", "log-power"):
            raise UsageError(f"Claim {self.id}: units must be 'power' or 'log-power', got {self.units!r}.")
        if self.offset is None:
            self.offset = asymptotics.grows(shape, self.variable)
        self._check_sweeps()
        self._sides = self._mutant_sides()

    # --------------------------------------------------------------------------------- declarations
    def _sweep(self, fidelity: str) -> tuple[np.ndarray, list[Mapping[str, Any]]]:
        points = list(self.experiment.budget(fidelity).points)
        return np.array([float(p[self.variable]) for p in points]), points

    def _check_sweeps(self) -> None:
        for fidelity in FIDELITIES:
            try:
                x, points = self._sweep(fidelity)
            except KeyError:
                raise UsageError(f"Claim {self.id}: the rate variable {self.variable!r} is not a sweep parameter "
                                 f"of every {fidelity} point.") from None
            replicates = self.experiment.budget(fidelity).replicates
            if replicates < MIN_RATE_REPLICATES:
                raise UsageError(f"Claim {self.id}: a rate claim needs at least {MIN_RATE_REPLICATES} replicates per "
                                 f"sweep point (its tests are calibrated from there), the {fidelity} budget has "
                                 f"{replicates}.")
            need = _MIN_POINTS[bool(self.offset)]
            if len(set(x.tolist())) < need:
                raise UsageError(
                    f"Claim {self.id}: the {fidelity} sweep needs at least {need} distinct values of "
                    f"{self.variable} ({'a fit with an additive constant' if self.offset else 'a rate fit'}), "
                    f"got {len(set(x.tolist()))}.")
            others = {k for p in points for k in p if k != self.variable}
            varying = sorted(k for k in others if len({repr(p.get(k)) for p in points}) > 1)
            if varying:
                raise UsageError(f"Claim {self.id}: a rate sweep varies only {self.variable}; the {fidelity} sweep "
                                 f"also varies {', '.join(varying)} (declare one experiment per variable).")
            if self.units == "log-power" and np.any(x <= 1):
                raise UsageError(f"Claim {self.id}: deviations in powers of log {self.variable} need "
                                 f"{self.variable} > 1 at every point of the {fidelity} sweep.")

    def _mutant_sides(self) -> dict[str, str]:
        """Which side of the claim each mutant lies on ('above': a smaller rate, refuted when the truth grows
        faster; 'below': a larger one), rejecting mutants the claim implies and checking both sides are covered."""
        assert isinstance(self.statement, Asymptotic)
        order, shape = self.statement.order, self.statement.shape
        sides: dict[str, str] = {}
        for m in self.mutants:
            assert isinstance(m.statement, Asymptotic)
            try:
                relation = asymptotics.compare(shape, m.statement.shape, self.variable)
            except (ValueError, NotImplementedError) as exc:
                raise UsageError(f"Claim {self.id}: mutant {m.name}: {exc}.") from None
            m_order = m.statement.order
            implied = (
                (order in ("O", "Theta") and m_order == "O" and relation != "smaller")
                or (order in ("Omega", "Theta") and m_order == "Omega" and relation != "larger")
                or (order == "Theta" and m_order == "Theta" and relation == "same")
            )
            if implied:
                raise UsageError(
                    f"Claim {self.id}: mutant {m.name} ({m.statement.text()}) is implied by the claim "
                    f"({self.statement.text()}), so it can never be refuted; a mutant must lie on the side "
                    "where the claim can fail.")
            if relation == "smaller" and m_order in ("O", "Theta"):
                sides[m.name] = "above"
            elif relation == "larger" and m_order in ("Omega", "Theta"):
                sides[m.name] = "below"
        needed = {"O": ["above"], "Omega": ["below"], "Theta": ["above", "below"]}[order]
        words = {"above": "a tighter false upper bound (a smaller rate)", "below": "a larger false lower bound"}
        for side in needed:
            if side not in sides.values():
                raise UsageError(f"Claim {self.id}: a {order} claim needs a mutant that is {words[side]}.")
        for fidelity in FIDELITIES:
            try:
                distances = self._distances(fidelity, sides)
            except MeasurementError:
                break  # a shape names something the sweep lacks: the declaration check reports it by name
            for name, distance in distances.items():
                if not abs(distance) > self.margin:
                    raise UsageError(
                        f"Claim {self.id}: mutant {name} lies {abs(distance):.3g} from the claim over the "
                        f"{fidelity} sweep ({self.units} units), within the margin {self.margin:g}: it could never "
                        "be refuted.")
        return sides

    def _distances(self, fidelity: str, sides: Mapping[str, str]) -> dict[str, float]:
        x, points = self._sweep(fidelity)
        assert isinstance(self.statement, Asymptotic)
        g = np.array([float(self.statement.shape_function(p)) for p in points])
        out = {}
        for m in self.mutants:
            if m.name in sides:
                assert isinstance(m.statement, Asymptotic)
                other = np.array([float(m.statement.shape_function(p)) for p in points])
                out[m.name] = unit_distance(x, g, other, self.units or "power")
        return out

    def nearest(self, points: Sequence[PointData]) -> Nearest:
        """The nearest mutant on each side, by its distance over this run's sweep."""
        x = np.array([float(p.params[self.variable]) for p in points])
        assert isinstance(self.statement, Asymptotic)
        g = np.array([float(self.statement.shape_function(p.params)) for p in points])
        best: dict[str, tuple[str, float]] = {}
        for m in self.mutants:
            side = self._sides.get(m.name)
            if side is None:
                continue
            assert isinstance(m.statement, Asymptotic)
            other = np.array([float(m.statement.shape_function(p.params)) for p in points])
            distance = abs(unit_distance(x, g, other, self.units or "power"))
            if side not in best or distance < best[side][1]:
                best[side] = (m.name, distance)
        return Nearest(above=best.get("above"), below=best.get("below"))

    def settings(self) -> dict[str, Any]:
        return {"variable": self.variable, "margin": self.margin, "units": self.units, "offset": self.offset,
                "alpha": self.alpha, "mutant_sides": dict(self._sides)}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator) -> Decision:
        assert isinstance(statement, Asymptotic)
        x = np.array([float(p.params[self.variable]) for p in points])
        samples = [np.broadcast_to(statement.measured(p.values), (len(p.replay),)) for p in points]
        shape = np.array([float(statement.shape_function(p.params)) for p in points])
        return decide_rate(
            x,
            samples,
            shape,
            statement.order,
            self.margin,
            self.alpha,
            self.units or "power",
            bool(self.offset),
            params=[p.params for p in points],
            variable=self.variable,
            asymptotic=_exponents(statement, self.variable),
            nearest=self.nearest(points) if statement is self.statement else None,
            paired=self.experiment.common_random_numbers,
        )


@dataclass(eq=False)
class LimitClaim(Claim):
    """The distance to a reference object falls below ``tol`` at the end of the sweep of the limit variable.

    ``final(params)`` says which sweep points are in the limit region (default: the last point).
    """

    tol: float = 1e-6
    statistic: Literal["max", "mean"] = "max"
    alpha: float = 0.05
    final: Callable[[Mapping[str, Any]], bool] | None = field(default=None)
    kind: ClassVar[str] = "limit"
    statement_type: ClassVar[type[Statement]] = Limit

    def settings(self) -> dict[str, Any]:
        assert isinstance(self.statement, Limit)
        return {"variable": self.statement.variable.name, "tol": self.tol, "statistic": self.statistic,
                "alpha": self.alpha}

    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator) -> Decision:
        assert isinstance(statement, Limit)
        var = statement.variable.name
        x = np.array([float(p.params[var]) for p in points])
        distances = [np.broadcast_to(statement.distance(p.values), (len(p.replay),)) for p in points]
        if self.final is None:
            final = x == x.max()
        else:
            final = np.array([bool(self.final(p.params)) for p in points])
        if not final.any():
            raise UsageError(f"Claim {self.id}: no sweep point lies in the limit region.")
        return decide_limit(
            x, distances, self.tol, final, self.statistic, self.alpha, params=[p.params for p in points]
        )
