"""Benchmark: solvers.sparse_ot vs POT (sparsity-constrained semi-dual) and vs cvxpy D_k.

Run ``python benchmarks/bench_sparse_ot.py``.  BLAS/OpenMP threads are pinned to 1 for every solver (with
threadpoolctl when it is installed, and through the *_NUM_THREADS variables set before NumPy is imported).
Times are medians of REPEATS runs after one warm-up run, all measured in this one run on the same instances.
Instances: X ~ N(0, I_2), Y ~ N(0.5, I_2), C = squared distances / max, uniform marginals, gamma = 0.05.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import ot  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulations.sparsity_constrained_ot import instance  # noqa: E402
from solvers import ot_references as ref  # noqa: E402
from solvers import sparse_ot as so  # noqa: E402

REPEATS = 3
GAMMA = 0.05


def timed(fn, repeats: int = REPEATS):
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def thread_note() -> str:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "threadpoolctl not installed: threads pinned via OMP/OPENBLAS/MKL_NUM_THREADS=1"
    threadpool_limits(1)
    return "threads pinned to 1 with threadpoolctl.threadpool_limits(1) and *_NUM_THREADS=1"


def matched_iterations(a, b, C, k: int, target: float, cap: int = 500) -> int:
    """Smallest ``max_iter`` at which our semi-dual value reaches ``target`` (bisection; runs are deterministic
    and the value at max_iter = N is that of the first N iterations), or ``cap`` if it never does."""
    def value(n: int) -> float:
        return float(so.solve_semi_dual(a, b, C, GAMMA, k, max_iter=n, polish=False).value[0])

    if value(cap) < target:
        return cap
    lo, hi = 0, cap
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if value(mid) >= target else (mid, hi)
    return hi


def compare_pot(m: int, k: int, seeds: list[int]) -> None:
    print(f"\n== ours (solve_semi_dual + polish) vs POT smooth_ot_semi_dual, m = n = {m}, k = {k}, gamma = {GAMMA}")
    print(f"{'seed':>4} {'solver':>6} {'time[s]':>8} {'iters':>5} {'S_k value':>14} {'primal':>14} "
          f"{'feas gap':>9} {'nnz':>3}  note")
    for seed in seeds:
        a, b, C = instance(m, m, seed)
        t_ours, r = timed(lambda a=a, b=b, C=C: so.solve_semi_dual(a, b, C, GAMMA, k))
        t_pot, p = timed(lambda a=a, b=b, C=C: ref.pot_sparse_semi_dual(a, b, C, GAMMA, k))
        n_match = matched_iterations(a, b, C, k, p.value)
        t_match, r_match = timed(lambda a=a, b=b, C=C, n=n_match: so.solve_semi_dual(a, b, C, GAMMA, k, max_iter=n))
        note = (f"polished={bool(r.polished[0])}, certified gap primal-S = {float(r.certified_gap[0]):.2e}, "
                f"raw dual-plan gap {float(r.raw_feasibility_gap[0]):.1e}, stop={int(r.stop_reason[0])}")
        print(f"{seed:>4} {'ours':>6} {t_ours:8.3f} {int(r.iterations[0]):5d} {float(r.value[0]):14.10f} "
              f"{float(r.primal_value[0]):14.10f} {float(r.feasibility_gap[0]):9.1e} "
              f"{int(r.max_column_nnz[0]):3d}  {note}")
        print(f"{seed:>4} {'POT':>6} {t_pot:8.3f} {p.iterations:5d} {p.value:14.10f} {p.primal_value:14.10f} "
              f"{p.feasibility_gap:9.1e} {int(np.count_nonzero(p.plan, axis=0).max()):3d}  "
              f"time ratio POT/ours = {t_pot / t_ours:.2f}, S_ours - S_POT = {float(r.value[0]) - p.value:+.2e}")
        print(f"{seed:>4} {'ours=':>6} {t_match:8.3f} {n_match:5d} {float(r_match.value[0]):14.10f} "
              f"{float(r_match.primal_value[0]):14.10f} {float(r_match.feasibility_gap[0]):9.1e} "
              f"{int(r_match.max_column_nnz[0]):3d}  ours stopped at POT's accuracy (max_iter={n_match}, polish "
              f"included): time ratio POT/ours = {t_pot / t_match:.2f}")


def compare_cvxpy(m: int, k: int, seed: int) -> None:
    print(f"\n== ours vs cvxpy D_k (CLARABEL), m = n = {m}, k = {k}, seed {seed}")
    a, b, C = instance(m, m, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t_cv, d_ref = timed(lambda: ref.dual_dk_cvxpy(a, b, C, GAMMA, k, allow_inaccurate=True))
    t_sd, rs = timed(lambda: so.solve_semi_dual(a, b, C, GAMMA, k))
    t_d, rd = timed(lambda: so.solve_dual(a, b, C, GAMMA, k))
    print(f"cvxpy D_k          {t_cv:8.3f} s  value {d_ref:.10f}  (CLARABEL may report optimal_inaccurate here)")
    for name, t, r in (("ours semi-dual", t_sd, rs), ("ours dual", t_d, rd)):
        print(f"{name:<18} {t:8.3f} s  value {float(r.value[0]):.10f} (diff {float(r.value[0]) - d_ref:+.2e}), "
              f"iters {int(r.iterations[0])}, feas gap {float(r.feasibility_gap[0]):.1e}, "
              f"polished={bool(r.polished[0])}, cvxpy/ours time = {t_cv / t:.1f}")


def batched_throughput(B: int, m: int, k: int) -> None:
    print(f"\n== batched throughput: B = {B} instances of {m} x {m}, k = {k}")
    insts = [instance(m, m, s) for s in range(B)]
    a, b, C = (np.stack(v) for v in zip(*insts, strict=True))
    t_batch, rb = timed(lambda: so.solve_semi_dual(a, b, C, GAMMA, k))
    t_loop, rl = timed(lambda: [so.solve_semi_dual(*inst, GAMMA, k) for inst in insts])
    same = max(abs(float(rb.value[i]) - float(rl[i].value[0])) for i in range(B))
    same_it = all(int(rb.iterations[i]) == int(rl[i].iterations[0]) for i in range(B))
    print(f"batched call {t_batch:.3f} s ({B / t_batch:.1f} inst/s), loop {t_loop:.3f} s ({B / t_loop:.1f} inst/s), "
          f"loop/batched = {t_loop / t_batch:.2f}; max |value difference| = {same:.1e}, same iterations: {same_it}; "
          f"polished {int(np.sum(rb.polished))}/{B}; iterations per instance {rb.iterations.tolist()}")


def k1_exactness(m: int, B: int) -> None:
    print(f"\n== k = 1: S_1 vs OT + gamma/2 ||b||^2 (ot.emd2), B = {B} instances of {m} x {m}, gamma = {GAMMA}")
    for marg in ("uniform", "dirichlet"):
        insts = [instance(m, m, s) for s in range(B)]
        if marg == "dirichlet":
            rng = np.random.default_rng(12345)
            insts = [(rng.dirichlet(np.full(m, 2.0)), rng.dirichlet(np.full(m, 2.0)), C) for _, _, C in insts]
        a, b, C = (np.stack(v) for v in zip(*insts, strict=True))
        t, r = timed(lambda a=a, b=b, C=C: so.solve_semi_dual(a, b, C, GAMMA, 1, polish=False), repeats=1)
        err = [float(r.value[i]) - (ot.emd2(a[i], b[i], C[i]) + GAMMA / 2 * b[i] @ b[i]) for i in range(B)]
        print(f"{marg:>9}: batched call {t:.3f} s, S_1 - (OT + const): max {max(err):+.1e}, min {min(err):+.1e}, "
              f"quasi-Newton iterations {r.iterations.tolist()}")


def main() -> None:
    print(__doc__.strip().splitlines()[0])
    print(thread_note())
    print(f"numpy {np.__version__}; repeats {REPEATS} (median) after 1 warm-up")
    compare_pot(500, 2, [0, 1])
    compare_pot(100, 2, [0, 1, 2])
    compare_cvxpy(100, 2, 0)
    batched_throughput(16, 100, 3)
    batched_throughput(64, 20, 3)
    k1_exactness(50, 8)


if __name__ == "__main__":
    main()
