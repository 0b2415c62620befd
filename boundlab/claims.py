"""Claims, their provenance and their mutants: a thin re-export of :mod:`boundlab.kinds` (one module per kind),
kept so that theorem modules and user code importing from ``boundlab.claims`` keep working.

A claim couples a statement (sympy) with an experiment and a decision rule. Its mutants are deliberately
wrong statements run through exactly the same experiment and rule; each must come out ``violated``.
"""

from __future__ import annotations

from boundlab.kinds import KINDS, kind_of
from boundlab.kinds.base import Claim, Entry, Mutant, PointData, Provenance, quoted, reconstructed
from boundlab.kinds.expectation import ExpectationClaim
from boundlab.kinds.high_probability import HighProbabilityClaim
from boundlab.kinds.limit import LimitClaim
from boundlab.kinds.rate import MIN_RATE_REPLICATES, RateClaim
from boundlab.kinds.sure import SureClaim

__all__ = [
    "KINDS",
    "MIN_RATE_REPLICATES",
    "Claim",
    "Entry",
    "ExpectationClaim",
    "HighProbabilityClaim",
    "LimitClaim",
    "Mutant",
    "PointData",
    "Provenance",
    "RateClaim",
    "SureClaim",
    "kind_of",
    "quoted",
    "reconstructed",
]
