"""``verify``: plan units of work, reuse finished ones from the store, run the rest, decide every statement."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from boundlab.backends import BACKENDS, namespace
from boundlab.errors import UsageError
from boundlab.executors import EXECUTORS, make_executor
from boundlab.experiments import FIDELITIES, THETA, Experiment
from boundlab.keys import measurement_code, search_code, search_statement
from boundlab.kinds.base import Claim, Decision, Entry, PointData
from boundlab.registry import Registry
from boundlab.results import Result
from boundlab.seeding import canonical, unit_rng
from boundlab.statements import latex_names
from boundlab.store import Store, UnitKey, UnitRecord, default_store_path
from boundlab.validation import check_scheduler, check_seed
from boundlab.version import code_version
from boundlab.work import (
    MeasureTask,
    SearchTask,
    replay_found,
    run_measure_guarded,
    run_search_guarded,
    search_seed,
    unit_error,
    worst_draws,
)


@dataclass(frozen=True)
class Options:
    fidelity: str = "quick"
    seed: int = 0
    mutants: bool = False
    executor: str = "serial"
    scheduler: str | None = None
    workers: int | None = None
    backend: str = "numpy"
    store: str | Path | None = None
    cache: bool = True
    progress: bool = False

    def validate(self) -> None:
        if self.fidelity not in FIDELITIES:
            raise UsageError(f"fidelity must be one of {', '.join(FIDELITIES)}, got {self.fidelity!r}.")
        check_seed(int(self.seed) if isinstance(self.seed, np.integer) else self.seed)
        if self.executor not in EXECUTORS:
            raise UsageError(f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}.")
        if self.backend not in BACKENDS:
            raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}.")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"workers must be >= 1, got {self.workers}.")
        if self.scheduler and self.executor != "dask":
            raise UsageError("--scheduler is only meaningful with --executor dask.")
        if self.scheduler:
            check_scheduler(self.scheduler)
        if self.workers is not None and self.executor == "serial":
            raise UsageError("--workers is only meaningful with --executor processes or dask (serial runs one unit "
                             "at a time).")


@dataclass
class _Scope:
    """One experiment of one paper, with every unit planned for it."""

    name: str
    module: str
    experiment: Experiment
    points: list[dict[str, Any]]
    blocks: list[int]
    code: str = ""
    error: str | None = None
    runtime_s: float = 0.0  # compute of every unit (a cached one reports the runtime stored with it)
    fresh_s: float = 0.0  # compute of the units this run computed
    cached: int = 0
    total: int = 0


def verify(
    selectors: str | Sequence[str] | None = None,
    *,
    extra_modules: Iterable[str] = (),
    **options: Any,
) -> list[Result]:
    """Verify the selected claims (claim ids, paper keys or globs; none: all) and return one Result each.

    Options: fidelity ('quick'|'standard'|'full'), seed, mutants, executor ('serial'|'processes'|'dask'),
    scheduler, workers, backend ('numpy'|'cupy'|'array-api-strict'), store (path; None uses
    BOUNDLAB_STORE or .boundlab/results.db; ':memory:' keeps nothing), cache, progress.
    """
    unknown = set(options) - set(Options.__dataclass_fields__)
    if unknown:
        raise UsageError(f"Unknown option(s): {', '.join(sorted(unknown))}.")
    opts = Options(**options)
    opts.validate()
    if opts.backend != "numpy":
        namespace(opts.backend)  # fail early, with a clear message, when the backend is unavailable
    if isinstance(selectors, str):
        selectors = [selectors]
    registry = Registry.load(extra_modules, selectors)
    claims = registry.select(selectors)
    store_path = default_store_path() if opts.store is None else opts.store
    store = Store(None if str(store_path) == ":memory:" else store_path)
    executor = make_executor(opts.executor, opts.scheduler, opts.workers)
    try:
        return _Run(claims, opts, store, executor, Registry.mutant_selection(selectors, claims)).results()
    finally:
        executor.close()
        store.close()


class _Run:
    def __init__(self, claims: list[Claim], opts: Options, store: Store, executor: Any,
                 selected_mutants: dict[str, set[str]] | None = None) -> None:
        self.selected_mutants = selected_mutants or {}
        self._search_fresh: dict[str, float] = {}  # per entry: search compute this run did (not from the store)
        self.claims = claims
        self.opts = opts
        self.store = store
        self.executor = executor
        self.version = code_version()

    # ---------------------------------------------------------------------------------------- plan
    def _scopes(self) -> dict[str, _Scope]:
        scopes: dict[str, _Scope] = {}
        for claim in self.claims:
            name = f"{claim.paper.key}/{claim.experiment.name}"
            if name in scopes:
                if scopes[name].experiment is not claim.experiment:
                    raise UsageError(f"Two experiments of paper {claim.paper.key} are named {name!r}.")
                continue
            budget = claim.experiment.budget(self.opts.fidelity)
            scopes[name] = _Scope(name, claim.module, claim.experiment, [dict(p) for p in budget.points],
                                  budget.blocks(), measurement_code(claim.experiment))
        return scopes

    def _key(self, scope: str, statement: str, params: dict[str, Any], code: str, block: int, size: int
             ) -> UnitKey:
        """The store key of one unit; ``code`` hashes the unit's own code (boundlab.keys), ``size`` its
        replicates."""
        return UnitKey(scope, statement, canonical(params), self.opts.fidelity, int(self.opts.seed),
                       code, self.opts.backend, block, size)

    def _execute(
        self,
        planned: list[tuple[UnitKey, Any]],
        runner: Callable[[Any], UnitRecord],
        label: str,
    ) -> tuple[dict[str, UnitRecord], set[str]]:
        """Records for every planned unit (from the store when cached); also which keys were cached."""
        records: dict[str, UnitRecord] = {}
        cached: set[str] = set()
        missing: list[tuple[UnitKey, Any]] = []
        for key, task in planned:
            record = self.store.get(key) if self.opts.cache else None
            if record is None:
                missing.append((key, task))
            else:
                records[key.digest] = record
                cached.add(key.digest)
        damaged = [k for k, _ in missing if k.digest in set(self.store.damaged)]
        if damaged:
            print(f"boundlab: warning: {len(damaged)} damaged unit(s) in the store ({label}) are recomputed.",
                  file=sys.stderr)
        bar = tqdm(total=len(missing), desc=label, unit="unit", file=sys.stderr,
                   disable=not self.opts.progress or not missing, mininterval=0.5)
        with bar:
            for i, record in self.executor.map(runner, [task for _, task in missing]):
                key = missing[i][0]
                if unit_error(record) is None:
                    self.store.put(key, record)
                records[key.digest] = record
                bar.update(1)
        return records, cached

    # ------------------------------------------------------------------------------------- measure
    def _measure(self, scopes: dict[str, _Scope]) -> dict[str, list[PointData]]:
        planned: list[tuple[UnitKey, MeasureTask]] = []
        owner: dict[str, str] = {}
        for scope in scopes.values():
            for params in scope.points:
                for b, n in enumerate(scope.blocks):
                    key = self._key(scope.name, "", params, scope.code, b, n)
                    task = MeasureTask(scope.module, scope.experiment.name, scope.name, params, b, n,
                                       int(self.opts.seed), self.opts.backend)
                    planned.append((key, task))
                    owner[key.digest] = scope.name
        records, cached = self._execute(planned, run_measure_guarded, "measure")
        data: dict[str, list[PointData]] = {}
        for scope in scopes.values():
            points = []
            for params in scope.points:
                arrays: dict[str, list[np.ndarray]] = {}
                replay: list[dict[str, Any]] = []
                for b, n in enumerate(scope.blocks):
                    key = self._key(scope.name, "", params, scope.code, b, n)
                    record = records[key.digest]
                    scope.total += 1
                    scope.cached += key.digest in cached
                    scope.runtime_s += record.runtime_s
                    scope.fresh_s += 0.0 if key.digest in cached else record.runtime_s
                    error = unit_error(record)
                    if error is not None:
                        scope.error = scope.error or f"{scope.name} at {params}: {error}"
                        continue
                    for name, value in record.arrays.items():
                        arrays.setdefault(name, []).append(value)
                    theta = record.arrays.get(THETA)
                    replay += [
                        {"seed": int(self.opts.seed), "scope": scope.name, "block": b, "index": i,
                         **({"theta": theta[i].tolist()} if theta is not None else {})}
                        for i in range(n)
                    ]
                points.append(PointData(params, {k: np.concatenate(v) for k, v in arrays.items()}, replay))
            data[scope.name] = points
        return data

    # -------------------------------------------------------------------------------------- search
    def _search(self, entries: list[Entry], data: dict[str, list[PointData]], scopes: dict[str, _Scope]
                ) -> tuple[dict[str, list[list[dict[str, Any]]]], dict[str, float]]:
        planned: list[tuple[UnitKey, SearchTask]] = []
        layout: dict[str, list[UnitKey]] = {}
        for entry in entries:
            claim = entry.claim
            scope = scopes[f"{claim.paper.key}/{claim.experiment.name}"]
            budget = claim.experiment.budget(self.opts.fidelity)
            if not claim.searchable or claim.experiment.search is None or budget.restarts == 0:
                continue
            if scope.error:
                continue
            per_point = [worst_draws(claim, entry.statement, point, budget.restarts) for point in data[scope.name]]
            if any(starts is None for starts in per_point):
                continue  # random draws already refute the statement: a search could only find worse
            keys = []
            code = search_code(claim.experiment)
            for point, starts in zip(data[scope.name], per_point, strict=True):
                assert starts is not None
                statement = search_statement(entry.statement.digest(), claim.settings(), starts, budget.evaluations)
                key = self._key("search:" + entry.id, statement, dict(point.params), code, 0, len(starts))
                task = SearchTask(claim.module, claim.name, entry.mutant.name if entry.mutant else None,
                                  dict(point.params), starts, budget.evaluations, self.opts.backend,
                                  search_seed(int(self.opts.seed), entry.id, dict(point.params)))
                planned.append((key, task))
                keys.append(key)
            layout[entry.id] = keys
        records, cached = self._execute(planned, run_search_guarded, "search")
        found: dict[str, list[list[dict[str, Any]]]] = {}
        runtime: dict[str, float] = {}
        for entry_id, keys in layout.items():
            recs = [records[k.digest] for k in keys]
            errors = [unit_error(r) for r in recs if unit_error(r)]
            if errors:
                found[entry_id] = [[{"error": errors[0]}]]
                continue
            found[entry_id] = [list(r.meta) for r in recs]
            runtime[entry_id] = sum(r.runtime_s for r in recs)
            self._search_fresh[entry_id] = sum(records[k.digest].runtime_s for k in keys if k.digest not in cached)
        self._share_found(entries, data, scopes, found, runtime)
        return found, runtime

    def _share_found(self, entries: list[Entry], data: dict[str, list[PointData]], scopes: dict[str, _Scope],
                     found: dict[str, list[list[dict[str, Any]]]], runtime: dict[str, float]) -> None:
        """Give each entry the instances that the searches of its claim's other entries (the claim and its
        mutants) found, judged under its own statement: a search that pushed the claim towards its bound has
        also pushed every scaled variant of it, and the best instance of any of them counts for all."""
        by_claim: dict[str, list[Entry]] = {}
        for entry in entries:
            if entry.id in found and not (found[entry.id] and found[entry.id][0]
                                          and "error" in found[entry.id][0][0]):
                by_claim.setdefault(entry.claim.id, []).append(entry)
        for group in by_claim.values():
            if len(group) < 2:
                continue
            claim = group[0].claim
            points = data[scopes[f"{claim.paper.key}/{claim.experiment.name}"].name]
            for entry in group:
                start = time.perf_counter()
                for i, point in enumerate(points):
                    others = [{**f, "found_by": f"{f['found_by']}, found for {other.id.split('/', 1)[1]}"}
                              for other in group if other is not entry for f in found[other.id][i]]
                    found[entry.id][i] = found[entry.id][i] + replay_found(
                        claim, entry.statement, dict(point.params), others, self.opts.backend)
                spent = time.perf_counter() - start
                runtime[entry.id] = runtime.get(entry.id, 0.0) + spent
                self._search_fresh[entry.id] = self._search_fresh.get(entry.id, 0.0) + spent

    # -------------------------------------------------------------------------------------- decide
    def results(self) -> list[Result]:
        scopes = self._scopes()
        data = self._measure(scopes)
        # every mutant with --mutants; otherwise only those a `claim~mutant` selector asked for
        entries = [e for c in self.claims for e in c.entries(True)
                   if e.mutant is None or self.opts.mutants or e.mutant.name in self.selected_mutants.get(c.id, ())]
        searched, search_runtime = self._search(entries, data, scopes)
        results = []
        for entry in entries:
            claim = entry.claim
            scope = scopes[f"{claim.paper.key}/{claim.experiment.name}"]
            start = time.perf_counter()
            decision = self._decide(entry, scope, data.get(scope.name, []), searched.get(entry.id))
            _attach_diagnostics(decision, claim.diagnostics, data.get(scope.name, []))
            searching = search_runtime.get(entry.id, 0.0)
            # this run's time: the units it computed (not those read from the store) and the decision
            runtime = (scope.fresh_s + self._search_fresh.get(entry.id, 0.0)
                       + time.perf_counter() - start)
            results.append(self._result(entry, scope, decision, runtime, searching))
        _flag_weak_checks(results)
        return results

    def _decide(self, entry: Entry, scope: _Scope, points: list[PointData],
                searched: list[list[dict[str, Any]]] | None) -> Decision:
        if scope.error:
            return Decision("error", f"The experiment failed: {scope.error}", [])
        if searched and searched[0] and "error" in searched[0][0]:
            return Decision("error", f"The adversarial search failed: {searched[0][0]['error']}", [])
        rng = unit_rng(int(self.opts.seed), "decide:" + entry.id, {"statement": entry.statement.digest()}, 0)
        try:
            return entry.claim.decide(entry.statement, points, rng, searched=searched)
        except UsageError:
            raise
        except Exception as exc:
            return Decision("error", f"The decision failed: {type(exc).__name__}: {exc}", [])

    def _result(self, entry: Entry, scope: _Scope, decision: Decision, runtime: float, searching: float
                ) -> Result:
        claim = entry.claim
        prov = claim.provenance
        description = entry.mutant.description if entry.mutant else claim.description
        return Result(
            claim=entry.id,
            paper=claim.paper.key,
            kind=claim.kind,
            mutant_of=entry.mutant_of,
            verdict=decision.verdict,
            statement={
                "latex": entry.statement.latex(latex_names(claim.module)),
                "text": entry.statement.text(),
                "provenance": "mutant" if entry.mutant else prov.status,
                "source": f"deliberately wrong variant of {claim.id}" if entry.mutant else prov.source,
                "digest": entry.statement.digest(),
            },
            points=decision.points,
            exponent=decision.exponent,
            tightness=decision.tightness,
            resolution=decision.resolution,
            counterexample=decision.counterexample,
            fidelity=self.opts.fidelity,
            seed=int(self.opts.seed),
            backend=self.opts.backend,
            executor=self.opts.executor,
            runtime_s=round(runtime, 4),
            code_version=self.version,
            reason=decision.reason,
            description=description,
            assumptions=list(claim.assumptions),
            experiment={"name": claim.experiment.name, "description": claim.experiment.description,
                        "setup": dict(claim.experiment.setup)},
            settings=claim.settings(),
            details=decision.details,
            # measured compute of the units (cached ones report the runtime stored with them): the experiment's
            # measurement units, shared by every claim on it, and this entry's own search units; cached_s is the
            # part of it read from the store instead of computed (runtime_s is this run's time)
            units={"total": scope.total, "cached": scope.cached, "measure_s": round(scope.runtime_s, 4),
                   "search_s": round(searching, 4),
                   "cached_s": round(scope.runtime_s - scope.fresh_s + searching
                                     - self._search_fresh.get(entry.id, 0.0), 4)},
        )


def _attach_diagnostics(decision: Decision, names: tuple[str, ...], points: list[PointData]) -> None:
    """Median and max of each diagnostic quantity at each sweep point (they never enter the verdict)."""
    if not names or len(decision.points) != len(points):
        return
    for summary, point in zip(decision.points, points, strict=True):
        summary["diagnostics"] = {
            name: {"median": float(np.median(point.arrays[name])), "max": float(np.max(point.arrays[name]))}
            for name in names
            if name in point.arrays and point.arrays[name].size
        }


def _flag_weak_checks(results: list[Result]) -> None:
    """A claim whose mutants ran (errors aside) and none came out violated is a weak check."""
    by_parent: dict[str, list[Result]] = {}
    for r in results:
        if r.mutant_of and r.verdict != "error":
            by_parent.setdefault(r.mutant_of, []).append(r)
    for r in results:
        mutants = by_parent.get(r.claim)
        if mutants and not any(m.verdict == "violated" for m in mutants):
            r.weak_check = True
