"""Claim kinds as plug-ins: one module per kind, each holding its claim class (statement type, load-time
checks, ``decide``), its decision function, its headline, its figure and a pointer to its calibration cases.

:data:`KINDS` is the registry: the engine, :meth:`boundlab.results.Result.headline` and the report look a kind
up here by its name (:func:`kind_of`) and call its hooks; none of them tests which kind a claim is.
"""

from __future__ import annotations

from boundlab.kinds.base import Claim, Decision, Entry, Mutant, PointData, Provenance, quoted, reconstructed
from boundlab.kinds.expectation import ExpectationClaim
from boundlab.kinds.high_probability import HighProbabilityClaim
from boundlab.kinds.limit import LimitClaim
from boundlab.kinds.rate import MIN_RATE_REPLICATES, RateClaim
from boundlab.kinds.sure import SureClaim

#: Every claim kind, by its ``kind`` name.
KINDS: dict[str, type[Claim]] = {cls.kind: cls for cls in (SureClaim, ExpectationClaim, RateClaim, LimitClaim,
                                                              HighProbabilityClaim)}


def kind_of(name: str) -> type[Claim]:
    """The claim class of the kind called ``name`` (a Result's ``kind``)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"Unknown claim kind {name!r}; known: {', '.join(KINDS)}.") from None


__all__ = [
    "KINDS",
    "MIN_RATE_REPLICATES",
    "Claim",
    "Decision",
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
