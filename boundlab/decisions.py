"""How each claim kind turns measurements into a verdict (see docs/statistics.md): a thin re-export of the
decision functions, which live with their kind in :mod:`boundlab.kinds`.

Pure functions of arrays: the engine calls them (through each kind's ``decide``) with simulation output, the
calibration suite with synthetic data whose truth is known. Each returns a :class:`Decision`.
"""

from __future__ import annotations

from boundlab.kinds.base import Decision, Verdict, _f
from boundlab.kinds.expectation import MeanEvidence, decide_expectation
from boundlab.kinds.high_probability import ExceedanceEvidence, decide_high_probability
from boundlab.kinds.limit import decide_limit
from boundlab.kinds.rate import Nearest, decide_rate
from boundlab.kinds.sure import (
    SureEvidence,
    decide_sure,
    rule_of_three,
    sure_band,
    sure_excess,
    sure_gap,
    sure_ratio,
    sure_vacuous,
)

__all__ = [
    "Decision",
    "ExceedanceEvidence",
    "MeanEvidence",
    "Nearest",
    "SureEvidence",
    "Verdict",
    "_f",
    "decide_expectation",
    "decide_high_probability",
    "decide_limit",
    "decide_rate",
    "decide_sure",
    "rule_of_three",
    "sure_band",
    "sure_excess",
    "sure_gap",
    "sure_ratio",
    "sure_vacuous",
]
