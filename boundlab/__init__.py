"""BoundLab: executable, statistically decided checks of the bounds stated in machine-learning theory papers.

``verify`` is imported on first use (PEP 562), so that loading theorem modules (``boundlab list``) does not
import the engine's executors, progress bar and optimiser.
"""

from typing import Any

from boundlab.backends import to_numpy
from boundlab.claims import (
    Claim,
    ExpectationClaim,
    HighProbabilityClaim,
    LimitClaim,
    Mutant,
    Provenance,
    RateClaim,
    SureClaim,
    quoted,
    reconstructed,
)
from boundlab.declare import at, budgets, dropped_term, faster, scaled_bound, slower, wrong_limit
from boundlab.errors import BoundLabError, MeasurementError, UsageError
from boundlab.experiments import FIDELITIES, Budget, Experiment, InstanceSearch, grid
from boundlab.papers import Paper
from boundlab.results import Result
from boundlab.spaces import PSD, Box, Product, RowStochastic, Simplex, Space, Sphere
from boundlab.statements import Asymptotic, Expectation, Limit, Probability, Relation, quantity
from boundlab.version import __version__

__all__ = [
    "FIDELITIES",
    "Asymptotic",
    "BoundLabError",
    "Budget",
    "Claim",
    "Expectation",
    "ExpectationClaim",
    "Experiment",
    "HighProbabilityClaim",
    "Limit",
    "LimitClaim",
    "MeasurementError",
    "Mutant",
    "Paper",
    "Probability",
    "Provenance",
    "RateClaim",
    "Relation",
    "Result",
    "InstanceSearch",
    "Space",
    "Box",
    "Simplex",
    "RowStochastic",
    "Sphere",
    "PSD",
    "Product",
    "SureClaim",
    "UsageError",
    "__version__",
    "at",
    "budgets",
    "dropped_term",
    "faster",
    "grid",
    "quantity",
    "quoted",
    "reconstructed",
    "scaled_bound",
    "slower",
    "to_numpy",
    "verify",
    "wrong_limit",
]


def __getattr__(name: str) -> Any:
    if name == "verify":
        from boundlab.engine import verify

        return verify
    raise AttributeError(f"module 'boundlab' has no attribute {name!r}")
