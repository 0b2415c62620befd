"""Benchmark: Sinkhorn-Newton-Sparse (solvers.sinkhorn) vs our Sinkhorn and POT's ot.sinkhorn(method='sinkhorn_log').

Besides the log-domain Sinkhorns (the paper's baseline), the kernel-domain ones are timed too: ours with
``domain="auto"`` and POT's ``method="sinkhorn"``; at eta (max C - min C) <= 200 their kernels stay in float64's range
and they do the same iterations without exponentials, several times faster per iteration.

Run ``python benchmarks/bench_sns.py``. BLAS/OpenMP threads are pinned to 1 for every solver. Accuracy is matched as
a user would set it: every solver runs to a marginal error ||P 1 - r||_1 + ||P^T 1 - c||_1 <= 1e-10 (POT: stopThr
1e-10 on its column error, checked every 10 iterations; the table shows the l1 marginal error each run reached).
Times are medians of 3 interleaved repeats after one warm-up, all measured in this one run on the same instances.
Instances: random assignment (C uniform in [0, 1]^{n x n}, r = c = 1/n). Nothing here asserts a time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import ot  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import median_walls, pin_threads, print_agreement, print_header  # noqa: E402

from simulations.sinkhorn_newton_sparse import random_assignment  # noqa: E402
from solvers import sinkhorn as sk  # noqa: E402

REPEATS = 3
TOL = 1e-10
MAX_ITER = 200_000


def marginal(P: np.ndarray, r: np.ndarray, c: np.ndarray) -> float:
    return float(np.abs(P.sum(1) - r).sum() + np.abs(P.sum(0) - c).sum())


def compare(n: int, eta: float, seed: int) -> None:
    r, c, C = (v[0] for v in random_assignment(np.random.default_rng(seed), 1, n))
    runs = {
        "SNS (lambda = 2/n)": lambda: sk.sinkhorn_newton_sparse(r, c, C, eta, tol=TOL),
        "SNS (lambda = 5/n)": lambda: sk.sinkhorn_newton_sparse(r, c, C, eta, tol=TOL, density=5.0 / n),
        "Sinkhorn (ours)": lambda: sk.sinkhorn(r, c, C, eta, tol=TOL, max_iter=MAX_ITER),
        "Sinkhorn (ours, auto)": lambda: sk.sinkhorn(r, c, C, eta, tol=TOL, max_iter=MAX_ITER, domain="auto"),
        "POT sinkhorn_log": lambda: ot.sinkhorn(r, c, C, 1.0 / eta, method="sinkhorn_log", stopThr=TOL,
                                                numItermax=MAX_ITER, log=True, warn=False),
        "POT sinkhorn (kernel)": lambda: ot.sinkhorn(r, c, C, 1.0 / eta, method="sinkhorn", stopThr=TOL,
                                                     numItermax=MAX_ITER, log=True, warn=False),
    }
    med, res = median_walls(runs, REPEATS)
    print(f"\n== n = {n}, eta = {eta}, seed {seed}")
    print(f"{'solver':23s} {'time[s]':>9s} {'iterations':>18s} {'marginal l1':>12s} {'time / SNS(2/n)':>16s}")
    plans = {}
    for name, out in res.items():
        if name.startswith("SNS"):
            P, its = out.plan[0], f"{int(out.sinkhorn_iterations[0])}+{int(out.newton_iterations[0])}"
        elif name.startswith("Sinkhorn"):
            P, its = out.plan[0], f"{int(out.iterations[0])}"
        else:
            P, its = out[0], f"{int(out[1]['niter'])}"
        plans[name] = P
        print(f"{name:23s} {med[name]:9.3f} {its:>18s} {marginal(P, r, c):12.1e} "
              f"{med[name] / med['SNS (lambda = 2/n)']:16.1f}")
    ref = plans["POT sinkhorn_log"]
    print_agreement([(f"{k} plan vs POT (l1)", float(np.abs(v - ref).sum())) for k, v in plans.items()
                     if k != "POT sinkhorn_log"], rtol=1e-7)


def batched(B: int, n: int, eta: float) -> None:
    r, c, C = random_assignment(np.random.default_rng(1), B, n)
    runs = {"batched": lambda: sk.sinkhorn_newton_sparse(r, c, C, eta, tol=TOL),
            "loop": lambda: [sk.sinkhorn_newton_sparse(r[i], c[i], C[i], eta, tol=TOL) for i in range(B)]}
    med, res = median_walls(runs, REPEATS)
    diff = max(float(np.abs(res["batched"].plan[i] - res["loop"][i].plan[0]).max()) for i in range(B))
    print(f"\n== SNS batched over {B} instances of n = {n}, eta = {eta}: batched {med['batched']:.3f} s, loop "
          f"{med['loop']:.3f} s, loop / batched = {med['loop'] / med['batched']:.2f}; max |plan difference| "
          f"{diff:.1e}")


def main() -> None:
    print_header(__doc__.strip().splitlines()[0], f"tol = {TOL:g}; medians of {REPEATS} interleaved repeats after "
                 "1 warm-up", pin_threads(), f"POT {ot.__version__}")
    compare(100, 50.0, 0)
    compare(100, 200.0, 0)
    compare(200, 200.0, 1)
    batched(16, 50, 100.0)


if __name__ == "__main__":
    main()
