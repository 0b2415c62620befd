"""What the batched-vs-loop benchmark scripts share: thread pinning (every timing on one BLAS/OpenMP thread), the
header every script prints, a wall/CPU timer and interleaved repeats, the agreement lines, and the speed-up
report."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def pin_threads() -> str:
    """Pin BLAS/OpenMP pools to one thread; return a description of how."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return ("threadpoolctl NOT installed; pinned to 1 via OPENBLAS/OMP/MKL/BLIS_NUM_THREADS=1 "
                "set before importing NumPy")
    threadpool_limits(limits=1)
    pools = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info())
    return f"pinned to 1 with threadpoolctl ({pools or 'no pools found'})"


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def print_header(title: str, config: str, threads: str, versions: str = "") -> None:
    """The lines every benchmark starts with: what is compared, its configuration, how threads were pinned,
    and the machine (CPU count, library versions, load average)."""
    extra = f", {versions}" if versions else ""
    print(title)
    print(f"config : {config}")
    print(f"threads: {threads}")
    print(f"machine: {os.cpu_count()} CPUs, numpy {np.__version__}{extra}, "
          f"load average at start {os.getloadavg()[0]:.2f}")


def interleaved(runs: Mapping[str, Callable[[], object]], repeats: int
                ) -> tuple[dict[str, list[tuple[float, float]]], dict[str, object]]:
    """Time each run `repeats` times, interleaved (a slow drift in machine load hits every run alike); return
    the (wall, CPU) times per run and each run's last result."""
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            wall, cpu, results[name] = timed(fn)
            times[name].append((wall, cpu))
    return times, results


def median_walls(runs: Mapping[str, Callable[[], object]], repeats: int
                 ) -> tuple[dict[str, float], dict[str, object]]:
    """One warm-up of each run, then :func:`interleaved`; return the median wall time of each run and its last
    result."""
    for fn in runs.values():
        fn()
    times, results = interleaved(runs, repeats)
    return {k: statistics.median(w for w, _ in v) for k, v in times.items()}, results


def print_agreement(rows: Sequence[tuple[str, float]], rtol: float) -> bool:
    """Print each (label, max relative difference) and whether all are within rtol; return that."""
    ok = all(err <= rtol for _, err in rows)
    print("agreement:")
    for label, err in rows:
        print(f"  {label:50s} max rel diff {err:.1e}")
    print(f"  -> {'AGREE' if ok else 'DISAGREE'} (tolerance {rtol:g} relative to max(1, |value|))")
    return ok


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| relative to max(1, max |b|)."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(b)))))


def report_speedup(times: Mapping[str, Sequence[tuple[float, float]]], steps: int, repeats: int,
                   labels: Mapping[str, str], target: float | None) -> None:
    """Print the median wall/CPU time of the "batched" and "loop" runs, per replicate-step, and their ratio
    against the target (None: no target is set; the ratio is reported as measured)."""
    med = {k: np.median(np.asarray(v), axis=0) for k, v in times.items()}
    print(f"timing (median of {repeats} interleaved repeats after warm-up; wall / cpu):")
    for k in ("batched", "loop"):
        w, c = med[k]
        print(f"  {labels[k]:26s} {w:8.3f} s / {c:8.3f} s   ({w / steps * 1e6:.3f} us per replicate-step, wall)")
    sw, sc = med["loop"][0] / med["batched"][0], med["loop"][1] / med["batched"][1]
    if target is None:
        print(f"speed-up: {sw:.1f}x wall, {sc:.1f}x cpu  (no target set; as measured)")
    else:
        verdict = "met" if sw >= target else "NOT met"
        print(f"speed-up: {sw:.1f}x wall, {sc:.1f}x cpu  (target >= {target:g}x: {verdict} on wall clock)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
