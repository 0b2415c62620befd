"""Units of work and the functions that run them, in any process (serial, local processes, Dask workers).

A task names its theorem module, so a fresh worker process can import it and find the experiment or claim.
BLAS is pinned to one thread inside every unit, so a unit's numbers do not depend on where it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from boundlab.backends import namespace, to_numpy
from boundlab.claims import SureClaim
from boundlab.errors import MeasurementError
from boundlab.registry import find_claim, find_experiment
from boundlab.seeding import unit_rng
from boundlab.statements import Relation
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
    """Adversarial search for one statement of a sure claim at one sweep point, from the given starts."""

    module: str
    claim: str
    mutant: str | None
    params: dict[str, Any]
    starts: list[list[float]] = field(default_factory=list)
    evaluations: int = 200
    backend: str = "numpy"


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


def _statement(claim: SureClaim, mutant: str | None) -> Relation:
    if mutant is None:
        statement = claim.statement
    else:
        statement = next(m.statement for m in claim.mutants if m.name == mutant)
    assert isinstance(statement, Relation)
    return statement


def run_search(task: SearchTask) -> UnitRecord:
    """Maximise the claim's excess (Nelder-Mead inside the instance box) from each start; keep each best."""
    claim = find_claim(task.module, task.claim)
    assert isinstance(claim, SureClaim) and claim.experiment.search is not None
    statement = _statement(claim, task.mutant)
    search = claim.experiment.search
    xp = namespace(task.backend)
    low, high = (np.asarray(b, dtype=float) for b in search.bounds(task.params))

    def excess_of(theta: np.ndarray) -> tuple[float, float, float]:
        theta = np.clip(theta, low, high)[None, :]
        raw = search.evaluate(task.params, theta, xp)
        values = {**task.params, **{k: to_numpy(v).astype(float) for k, v in raw.items()}}
        excess, lhs, rhs = claim.excess(statement, values)
        return float(np.ravel(excess)[0]), float(np.ravel(lhs)[0]), float(np.ravel(rhs)[0])

    def objective(theta: np.ndarray) -> float:
        value = excess_of(theta)[0]
        return float(np.nan_to_num(-value, nan=1e300, posinf=1e300, neginf=-1e300))

    start = time.perf_counter()
    found = []
    with threadpool_limits(limits=1):
        for i, x0 in enumerate(task.starts):
            result = optimize.minimize(
                objective,
                np.asarray(x0, dtype=float),
                method="Nelder-Mead",
                bounds=list(zip(low, high, strict=True)),
                options={"maxfev": task.evaluations, "xatol": 1e-10, "fatol": 1e-14, "adaptive": True},
            )
            theta = np.clip(result.x, low, high)
            excess, lhs, rhs = excess_of(theta)
            found.append(
                {
                    "theta": theta.tolist(),
                    "lhs": lhs,
                    "rhs": rhs,
                    "excess": excess,
                    "found_by": f"adversarial search (Nelder-Mead from the {_ordinal(i + 1)} worst random draw, "
                    f"{result.nfev} evaluations)",
                }
            )
    return UnitRecord({}, found, time.perf_counter() - start)


def _ordinal(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


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
