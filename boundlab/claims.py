"""Claims, their provenance and their mutants: the names of :mod:`boundlab.kinds` (one module per kind), kept
under this name so that theorem modules and user code importing from ``boundlab.claims`` keep working.

A claim couples a statement (sympy) with an experiment and a decision rule. Its mutants are deliberately
wrong statements run through exactly the same experiment and rule; each must come out ``violated``.
"""

from __future__ import annotations

from boundlab import kinds as _kinds
from boundlab.kinds import *  # noqa: F403  (the names listed in boundlab.kinds.__all__)

__all__ = list(_kinds.__all__)
