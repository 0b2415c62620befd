"""Compute time of a verification, from the measured unit runtimes recorded in its Result objects.

A claim and its mutants (and possibly other claims) share one experiment, so summing ``Result.runtime_s``
would count the experiment's measurement units several times. Each Result carries ``units["measure_s"]`` (its
experiment's measurement units) and ``units["search_s"]`` (its own adversarial-search units); cached units
report the runtime measured when they were computed, so these numbers describe the cost of a cold run even
when every unit came from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from boundlab.results import Result


@dataclass(frozen=True)
class Cost:
    """Compute seconds of one group of results, and the largest single contribution (experiment or search)."""

    seconds: float
    largest_name: str
    largest_seconds: float


def _parts(results: Iterable[Result]) -> dict[str, float]:
    """Compute seconds by part: ``<paper>/<experiment>`` once per experiment, ``search:<entry>`` per search."""
    parts: dict[str, float] = {}
    for r in results:
        experiment = f"{r.paper}/{r.experiment.get('name', '?')}"
        parts[experiment] = max(parts.get(experiment, 0.0), float(r.units.get("measure_s", 0.0)))
        search = float(r.units.get("search_s", 0.0))
        if search:
            parts["search:" + r.claim] = search
    return parts


def compute_cost(results: Sequence[Result]) -> Cost:
    """Sum of the measured unit runtimes behind ``results`` (each experiment counted once)."""
    parts = _parts(results)
    if not parts:
        return Cost(0.0, "-", 0.0)
    name, largest = max(parts.items(), key=lambda item: item[1])
    return Cost(sum(parts.values()), name, largest)


def claim_cost(claim: Result, mutants: Sequence[Result] = ()) -> float:
    """Compute seconds behind one claim with its mutants: its experiment once, plus their searches."""
    return compute_cost([claim, *mutants]).seconds


def by_paper(results: Iterable[Result]) -> dict[str, Cost]:
    """:func:`compute_cost` of each paper's results."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.paper, []).append(r)
    return {paper: compute_cost(group) for paper, group in groups.items()}
