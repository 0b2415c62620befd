"""The code part of a unit's cache key: which source files can change the numbers a unit produces.

A measurement unit depends on the import closure of its experiment's functions (``measure``, or a search's
``sample``, ``evaluate`` and ``bounds``) and on the engine files that run them; nothing else. So editing one
paper's theorem module or simulation leaves every other paper's cached units valid, while editing the
experiment's own simulation (or a solver it imports) invalidates them. A search unit of a sure claim also
depends on the decision code and on the claim's tolerances, which define the excess it maximises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from boundlab.closure import DECISION_ENGINE_FILES, MEASUREMENT_ENGINE_FILES, closure_hash, engine_hash
from boundlab.experiments import Experiment


def _functions(experiment: Experiment) -> list[Callable[..., Any]]:
    if experiment.search is not None:
        search = experiment.search
        space = search.space
        # the space's class (its sampler and decoder) and, when it depends on the point, the function building it
        return [search.evaluate, space if callable(space) and not hasattr(space, "decode") else type(space)]
    assert experiment.measure is not None
    return [experiment.measure]


def _combine(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def measurement_code(experiment: Experiment) -> str:
    """Hash of every file that can change the measurements of ``experiment``."""
    seeding = "common-random-numbers" if experiment.common_random_numbers else "seed-per-point"
    return _combine("measure", seeding, *(closure_hash(fn) for fn in _functions(experiment)),
                    engine_hash(MEASUREMENT_ENGINE_FILES))


def search_code(experiment: Experiment) -> str:
    """Hash of every file that can change an adversarial search on ``experiment``'s instance space."""
    return _combine("search", measurement_code(experiment), engine_hash(DECISION_ENGINE_FILES))


def search_statement(statement_digest: str, settings: dict[str, Any], starts: list[list[float]],
                     evaluations: int) -> str:
    """The statement part of a search unit's key: the statement, the claim's tolerances, the search's inputs."""
    text = json.dumps({"statement": statement_digest, "settings": settings, "starts": starts,
                       "evaluations": evaluations}, sort_keys=True)
    return statement_digest + ":" + hashlib.sha256(text.encode()).hexdigest()[:16]
