"""Thread pinning shared by the benchmark scripts: every timing runs on one BLAS/OpenMP thread."""

from __future__ import annotations


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
