"""Units of work and the functions that run them, in any process (serial, local processes, Dask workers).

A task names its theorem module, so a fresh worker process can import it and find the experiment or claim.
BLAS is pinned to one thread inside every unit, so a unit's numbers do not depend on where it runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from boundlab.backends import namespace, to_numpy
from boundlab.errors import MeasurementError
from boundlab.kinds.base import Claim, PointData
from boundlab.registry import find_claim, find_experiment
from boundlab.search import maximise_violation
from boundlab.seeding import unit_rng, unit_seed
from boundlab.statements import Statement
from boundlab.store import UnitRecord


@dataclass(frozen=True)
class MeasureTask:
    """Replicates ``block`` of one sweep point of one experiment."""

    module: str
    experiment: str
    scope: str
    params: dict[str, Any]
    block: int
    n: int
    seed: int
    backend: str


@dataclass(frozen=True)
class SearchTask:
    """Adversarial search for one statement of a searchable claim (``Claim.searchable``: sure claims) at one sweep
    point, from the given starts.

    ``evaluations`` is per dimension of the instance space; ``seed`` is derived by the engine from the root
    seed, the entry id and the point (:func:`search_seed`), so results do not depend on the executor.
    """

    module: str
    claim: str
    mutant: str | None
    params: dict[str, Any]
    starts: list[list[float]] = field(default_factory=list)
    evaluations: int = 200
    backend: str = "numpy"
    seed: int = 0


def search_seed(root: int, entry_id: str, params: Mapping[str, Any]) -> int:
    """The seed of the search of one entry (claim or mutant id) at one sweep point."""
    return int(unit_seed(root, "search:" + entry_id, params, 0).generate_state(1, np.uint64)[0])


def run_measure(task: MeasureTask) -> UnitRecord:
    experiment = find_experiment(task.module, task.experiment)
    rng = unit_rng(task.seed, task.scope, experiment.seed_params(task.params), task.block)
    xp = namespace(task.backend)
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        raw = experiment.run(task.params, rng, task.n, xp)
    runtime = time.perf_counter() - start
    arrays: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        array = to_numpy(value).astype(float, copy=False)
        if array.ndim == 0 or array.shape[0] != task.n:
            raise MeasurementError(
                f"{task.scope}: quantity {name!r} has shape {array.shape}, expected {task.n} replicates first."
            )
        if np.isnan(array).any():
            raise MeasurementError(f"{task.scope} at {task.params}: quantity {name!r} contains NaN.")
        arrays[name] = array
    return UnitRecord(arrays, None, runtime)


def _statement(claim: Claim, mutant: str | None) -> Statement:
    if mutant is None:
        return claim.statement
    return next(m.statement for m in claim.mutants if m.name == mutant)


def worst_draws(claim: Claim, statement: Statement, point: PointData, restarts: int) -> list[list[float]] | None:
    """Where the search of ``statement`` starts at one point (the claim kind's ``search_starts``: for sure claims
    the ``restarts`` random draws with the largest excess), or None when a draw already refutes it."""
    return claim.search_starts(statement, point, restarts)


def search_claim(claim: Claim, statement: Statement, params: Mapping[str, Any], starts: list[list[float]],
                 evaluations: int, seed: int, xp: Any) -> list[dict[str, Any]]:
    """The adversarial search (:func:`boundlab.search.maximise_violation`) for one statement at one point, of the
    objective the claim kind declares (``search_objective``)."""
    search = claim.experiment.search
    assert search is not None
    space = search.space_at(params)

    def score(z: np.ndarray) -> tuple[np.ndarray, ...]:
        raw = search.evaluate_coordinates(params, z, xp, space)
        values = {**params, **{k: to_numpy(v).astype(float) for k, v in raw.items()}}
        return claim.search_objective(statement, values)

    starts_array = np.asarray(starts, dtype=float).reshape(-1, space.dim)
    with threadpool_limits(limits=1):
        return maximise_violation(score, space.low, space.high, starts_array, evaluations,
                                  np.random.default_rng(seed))


def replay_found(claim: Claim, statement: Statement, params: Mapping[str, Any], found: list[dict[str, Any]],
                 backend: str) -> list[dict[str, Any]]:
    """The instances another search found (``found``, each with its coordinates ``theta``), judged under
    ``statement``: the same instances, this statement's lhs, rhs and excess. Instances are deterministic in their
    coordinates, so a claim and its mutants share every instance any of their searches found."""
    search = claim.experiment.search
    assert search is not None
    if not found:
        return []
    space = search.space_at(params)
    z = np.asarray([f["theta"] for f in found], dtype=float).reshape(len(found), space.dim)
    with threadpool_limits(limits=1):
        raw = search.evaluate_coordinates(params, z, namespace(backend), space)
    values = {**params, **{k: to_numpy(v).astype(float) for k, v in raw.items()}}
    objective, excess, lhs, rhs = (np.broadcast_to(np.asarray(v, float), (len(found),))
                                   for v in claim.search_objective(statement, values))
    return [{**f, "lhs": float(lhs[i]), "rhs": float(rhs[i]), "excess": float(excess[i]),
             "objective": float(objective[i])} for i, f in enumerate(found)]


def run_search(task: SearchTask) -> UnitRecord:
    """Maximise the claim's violation inside its instance space from the worst random draws; keep the best."""
    claim = find_claim(task.module, task.claim)
    assert claim.searchable and claim.experiment.search is not None
    statement = _statement(claim, task.mutant)
    start = time.perf_counter()
    found = search_claim(claim, statement, task.params, task.starts, task.evaluations, task.seed,
                         namespace(task.backend))
    return UnitRecord({}, found, time.perf_counter() - start)


def _guarded(fn: Any, task: Any) -> UnitRecord:
    try:
        return fn(task)
    except Exception as exc:  # reported as an 'error' verdict by the engine, never stored
        return UnitRecord({}, {"error": f"{type(exc).__name__}: {exc}"}, 0.0)


def run_measure_guarded(task: MeasureTask) -> UnitRecord:
    return _guarded(run_measure, task)


def run_search_guarded(task: SearchTask) -> UnitRecord:
    return _guarded(run_search, task)


def unit_error(record: UnitRecord) -> str | None:
    meta = record.meta
    return meta.get("error") if isinstance(meta, dict) else None
