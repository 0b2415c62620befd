"""The calibration table of the report index, kept in the results store.

``calibrate(seeds)`` takes minutes at 1000 seeds and depends only on the calibration code and the seed count,
so its table is stored as an artifact keyed by both: the hash of the import closure of boundlab.calibration
(following BoundLab's own modules, since the decision rules it calibrates live there) and ``seeds``. Editing
the calibration or the decision code, or asking for another seed count, recomputes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boundlab.closure import module_hash
from boundlab.store import Store, default_store_path

CALIBRATION_MODULE = "boundlab.calibration"


@dataclass(frozen=True)
class CalibrationTable:
    """The calibration rows, the seconds they took to compute, and whether they came from the store."""

    rows: dict[str, list[dict[str, Any]]]
    runtime_s: float
    cached: bool


def calibration_key(seeds: int) -> str:
    """The store key of the calibration table over ``seeds`` seeds with the current calibration code."""
    return (f"calibration:{module_hash(CALIBRATION_MODULE, workbench=True)}:seeds={int(seeds)}"
            f":search-seeds={search_seeds(seeds)}")


def search_seeds(seeds: int) -> int:
    """Seeds for the search rows of the table: 10 at most (a 100-dimension trial costs seconds)."""
    return min(int(seeds), 10)


def cached_calibration(seeds: int, store: str | Path | None = None, cache: bool = True) -> CalibrationTable:
    """``calibrate(seeds)``, read from the store when this code and seed count were computed before.

    ``store``: a path, None for BOUNDLAB_STORE or .boundlab/results.db, ':memory:' to keep nothing.
    ``cache=False`` recomputes and overwrites the stored table.
    """
    from boundlab.calibration import calibrate

    path = default_store_path() if store is None else store
    with Store(None if str(path) == ":memory:" else path) as db:
        key = calibration_key(seeds)
        found = db.get_artifact(key) if cache else None
        if found is not None:
            return CalibrationTable(found[0], found[1], True)
        start = time.perf_counter()
        rows = calibrate(seeds, search_seeds=search_seeds(seeds))
        runtime = time.perf_counter() - start
        db.put_artifact(key, rows, runtime)
        return CalibrationTable(rows, runtime, False)
