"""What every claim kind shares: the Decision it returns, provenance, mutants, the data of a sweep point, and
the base class :class:`Claim` with the hooks a kind fills in (statement type, load-time checks, ``decide``, the
adversarial search, the headline, the figure and a pointer to its calibration cases).

A kind is one module of :mod:`boundlab.kinds`; the engine, the results and the report reach it only through
these hooks, never by testing which kind a claim is.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from boundlab.errors import UsageError
from boundlab.experiments import THETA, Experiment
from boundlab.papers import Paper
from boundlab.statements import Statement

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from boundlab.results import Result

Verdict = Literal["consistent", "violated", "inconclusive", "error"]
VERDICTS: tuple[str, ...] = ("consistent", "violated", "inconclusive", "error")

#: Instances found by the adversarial search, per sweep point (each a dict with at least lhs and rhs).
Searched = Sequence[list[dict[str, Any]]]


@dataclass
class Decision:
    """A verdict, the one sentence that explains it, per-point summaries and the kind-specific evidence."""

    verdict: Verdict
    reason: str
    points: list[dict[str, Any]]
    exponent: dict[str, Any] | None = None
    tightness: float | None = None
    counterexample: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    resolution: dict[str, Any] | None = None


def _f(x: float | None) -> float | None:
    """A finite float, or None (JSON has no inf/NaN)."""
    return None if x is None or not np.isfinite(x) else float(x)


def tightness_headline(result: Result) -> str | None:
    """The generic headline: the fraction of the tolerance used (identities) or the tightness, when known."""
    if result.tightness is not None and result.details.get("op") == "==":
        return f"{result.tightness:.2g} of the tolerance used"
    if result.tightness is not None:
        return f"tightness {result.tightness:.4g}"
    return None


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
    """Base of the claim kinds. ``module`` is filled in by the registry (the theorem module's import name).

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
    def decide(self, statement: Statement, points: Sequence[PointData], rng: np.random.Generator,
               searched: Searched | None = None) -> Decision:
        """Turn the measurements of every sweep point into a verdict for ``statement``; ``searched`` holds the
        adversarial search's finds per point (only for kinds that are :attr:`searchable`)."""

    # ------------------------------------------------------------------------------ adversarial search
    #: Whether the engine runs an adversarial search over the experiment's instance space for this kind.
    searchable: ClassVar[bool] = False

    def search_starts(self, statement: Statement, point: PointData, restarts: int) -> list[list[float]] | None:
        """Coordinates of the random draws a search starts from, or None when the draws already refute
        ``statement`` (a search could only find worse)."""
        raise NotImplementedError(f"{self.kind} claims are not searched.")

    def search_objective(self, statement: Statement, values: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        """(violation to maximise, excess, lhs, rhs) of ``statement`` on searched instances' values."""
        raise NotImplementedError(f"{self.kind} claims are not searched.")

    # ------------------------------------------------------------------------------ report hooks
    #: ``module:function`` of this kind's known-truth calibration cases (called with a seed, returns a verdict,
    #: or, for rate claims, the case rows); see boundlab.calibration.calibrate.
    calibration_cases: ClassVar[str] = ""

    @staticmethod
    def headline(result: Result) -> str:
        """The one number a reader looks at first (Result.headline)."""
        return tightness_headline(result) or "—"

    @staticmethod
    def figure(result: Result, axes: list[Axes]) -> None:
        """Draw this kind's two figures of ``result`` on ``axes`` (the report's claim page)."""
        raise NotImplementedError

