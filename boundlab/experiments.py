"""Experiments: what is measured at a sweep point, how many replicates, and the instance space to search.

An experiment is shared by a claim and its mutants (and may be shared by several claims of a paper): the
statement decides what the measurements mean, the experiment only produces them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from boundlab.errors import MeasurementError, UsageError
from boundlab.spaces import Space

FIDELITIES: tuple[str, ...] = ("quick", "standard", "full")

Params = Mapping[str, Any]
Measure = Callable[[Params, np.random.Generator, int, Any], Mapping[str, Any]]


def grid(**axes: Any) -> tuple[dict[str, Any], ...]:
    """Sweep points: the cartesian product of the list-valued axes, scalars held fixed.

    >>> grid(T=[10, 100], d=3)
    ({'T': 10, 'd': 3}, {'T': 100, 'd': 3})
    """
    names = list(axes)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in axes.values()]
    return tuple(dict(zip(names, combo, strict=True)) for combo in itertools.product(*values))


@dataclass(frozen=True)
class Budget:
    """The size of an experiment at one fidelity.

    ``replicates`` per sweep point are computed in blocks of ``block`` (one batched array computation per
    block). ``restarts`` and ``evaluations`` size the adversarial search of sure claims: it starts from the
    ``restarts`` worst random draws and may use ``evaluations`` x dim instance evaluations in all at each
    sweep point (``evaluations`` is *per dimension* of the instance space; see :mod:`boundlab.search` for how
    they are split between L-BFGS-B and CMA-ES).
    """

    points: tuple[Mapping[str, Any], ...]
    replicates: int
    block: int = 64
    restarts: int = 0
    evaluations: int = 200

    def __post_init__(self) -> None:
        if not self.points:
            raise UsageError("Budget.points must hold at least one sweep point.")
        if self.replicates < 1 or self.block < 1:
            raise UsageError("Budget.replicates and Budget.block must be >= 1.")
        if self.restarts < 0 or self.evaluations < 1:
            raise UsageError("Budget.restarts must be >= 0 and Budget.evaluations >= 1.")

    def blocks(self) -> list[int]:
        """Replicates in each block; the last block may be smaller."""
        full, rest = divmod(self.replicates, self.block)
        return [self.block] * full + ([rest] if rest else [])


SpaceAt = Space | Callable[[Params], Space]


@dataclass(frozen=True)
class InstanceSearch:
    """The instances of a sure claim: a parametrised space (:mod:`boundlab.spaces`) and what to measure on them.

    ``space`` is a :class:`~boundlab.spaces.Space` or a function ``params -> Space`` (dimensions usually depend
    on the sweep parameters). Random instances are ``space.sample``; ``evaluate(params, instances, xp)`` returns
    the measured quantities of each instance, where ``instances`` is ``space.decode(z)`` for a batch of
    coordinates ``z`` (deterministic in z, so any instance can be replayed from its coordinates). The adversarial
    search (:mod:`boundlab.search`) moves the coordinates inside the space's box, so every instance it tries is
    valid by construction.
    """

    space: SpaceAt
    evaluate: Callable[[Params, Any, Any], Mapping[str, Any]]

    def space_at(self, params: Params) -> Space:
        space = self.space if isinstance(self.space, Space) else self.space(params)
        if not isinstance(space, Space):
            raise UsageError(f"InstanceSearch.space must give a Space at {dict(params)}, got {type(space).__name__}.")
        return space

    def sample(self, params: Params, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, dim) coordinates of random instances."""
        return self.space_at(params).sample(rng, n)

    def evaluate_coordinates(self, params: Params, z: np.ndarray, xp: Any, space: Space | None = None
                             ) -> dict[str, Any]:
        """Measured quantities of the instances with coordinates z (n, dim)."""
        space = self.space_at(params) if space is None else space
        return dict(self.evaluate(params, space.decode(z), xp))


THETA = "__theta__"


@dataclass(frozen=True, eq=False)
class Experiment:
    """A Monte Carlo experiment: ``measure(params, rng, n, xp)`` returns arrays of n replicates per quantity.

    Give either ``measure`` or ``search`` (an :class:`InstanceSearch`: random instances are drawn from its
    space, measured by its ``evaluate``, and their coordinates are kept for replay and for the adversarial
    search).
    ``outputs`` names the quantities the measure (or evaluate) returns, exactly: statements are checked
    against it when their module loads, and every measurement against it when it runs.

    ``common_random_numbers``: every sweep point draws from the same random numbers (the seed of a block does
    not depend on the point), so replicate r is the same random instance at every point, e.g. one trajectory
    observed at several horizons. Rate claims then judge differences between points on paired data, which
    removes the variance they share; the measure must draw its randomness in an order that does not depend on
    the swept parameter for the pairing to be exact.
    """

    name: str
    description: str
    budgets: Mapping[str, Budget]
    measure: Measure | None = None
    search: InstanceSearch | None = None
    setup: Mapping[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = field(default=(), kw_only=True)
    common_random_numbers: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if (self.measure is None) == (self.search is None):
            raise UsageError(f"Experiment {self.name!r}: give exactly one of measure or search.")
        if isinstance(self.outputs, str) or not self.outputs or not all(isinstance(o, str) for o in self.outputs):
            raise UsageError(f"Experiment {self.name!r}: declare outputs=(...), the names of the quantities its "
                             f"measure or evaluate returns (got {self.outputs!r}).")
        object.__setattr__(self, "outputs", tuple(self.outputs))
        missing = [f for f in FIDELITIES if f not in self.budgets]
        if missing:
            raise UsageError(f"Experiment {self.name!r}: no budget for fidelity {', '.join(missing)}.")
        if self.search is not None:
            unsearched = [f for f in FIDELITIES if self.budgets[f].restarts < 1]
            if unsearched:
                raise UsageError(
                    f"Experiment {self.name!r}: an InstanceSearch experiment needs a search budget at every "
                    f"fidelity, but {', '.join(unsearched)} has restarts=0: give restarts= and evaluations= to "
                    "budgets() (or per fidelity to at()). Without a search a sure claim rests on random draws only.")

    def budget(self, fidelity: str) -> Budget:
        if fidelity not in self.budgets:
            raise UsageError(f"fidelity must be one of {', '.join(FIDELITIES)}, got {fidelity!r}.")
        return self.budgets[fidelity]

    def seed_params(self, params: Params) -> Params:
        """The parameters that key a block's seed: none under common random numbers, else the point's."""
        return {} if self.common_random_numbers else params

    def run(self, params: Params, rng: np.random.Generator, n: int, xp: Any) -> dict[str, Any]:
        if self.search is not None:
            space = self.search.space_at(params)
            theta = np.asarray(space.sample(rng, n), dtype=float)
            out = self.check_outputs(self.search.evaluate_coordinates(params, theta, xp, space))
            out[THETA] = theta
            return out
        assert self.measure is not None
        return self.check_outputs(self.measure(params, rng, n, xp))

    def check_outputs(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """``raw`` as a dict, after checking that it holds exactly the declared outputs."""
        if set(raw) != set(self.outputs):
            raise MeasurementError(
                f"Experiment {self.name!r} returned the quantities [{', '.join(sorted(raw))}] but declares "
                f"outputs [{', '.join(self.outputs)}]."
            )
        return dict(raw)
