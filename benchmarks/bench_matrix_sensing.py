"""Benchmark: batched gradient descent on matrix-sensing replicates against a per-replicate Python loop computing
the same numbers.

Run ``python benchmarks/bench_matrix_sensing.py`` (``--help`` for options). The experiment is the incremental
-learning run of the matrix-sensing paper: R replicates of GD on f(U) = F(U U^T) with a Wishart measurement Gram
operator (m measurements), a rank-r ground truth with geometrically decaying eigenvalues and a small random
start alpha * Ubar (``simulations.incremental_matrix_sensing``), for T steps; the defaults are the time-law
experiment's (d = 10, width 5, eta = 0.02, m = 10^6, alpha = 1e-4).

* batched: ``solvers.matrix_sensing.gradient_descent`` (all replicates at once, one array operation per step);
* loop: for each replicate, the same update with NumPy on its own (d, width) factor: U U^T, its coordinates in
  the symmetric basis, the Gram operator applied, back to a matrix, times U; the natural way to write it
  without a batch axis.

Instances are drawn once, before timing, and shared. BLAS threads are pinned to 1. Timings are medians over
``--repeats`` interleaved repeats after one warm-up; wall-clock is the headline, CPU time is shown too.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: the fallback when threadpoolctl is missing

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import interleaved, max_rel_diff, pin_threads, print_agreement, print_header, report_speedup  # noqa: E402, E501

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulations.incremental_matrix_sensing import ground_truth, initial_factor, wishart_gram  # noqa: E402
from solvers.matrix_sensing import gradient_descent, sym_basis  # noqa: E402

TARGET_SPEEDUP = None  # the issue asks for the ratio, not a target
AGREE_RTOL = 1e-10


def loop_replicate(H: np.ndarray, Xstar: np.ndarray, U0: np.ndarray, E: np.ndarray, eta: float, steps: int
                   ) -> np.ndarray:
    """One replicate: ``steps`` GD steps on its own factor; E is the flattened symmetric basis (D, d^2)."""
    d = U0.shape[0]
    U = U0.copy()
    for _ in range(steps):
        diff = E @ (U @ U.T - Xstar).ravel()
        G = (E.T @ (H @ diff)).reshape(d, d)
        U = U - 2.0 * eta * (G @ U)
    return U


def per_replicate_loop(H, Xstar, U0, eta, steps, count: int | None = None) -> np.ndarray:
    count = U0.shape[0] if count is None else count
    E = sym_basis(U0.shape[1]).reshape(-1, U0.shape[1] ** 2)
    return np.stack([loop_replicate(H[r], Xstar[r], U0[r], E, eta, steps) for r in range(count)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--R", type=int, default=256)
    p.add_argument("--T", type=int, default=600)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--m", type=int, default=10**6)
    p.add_argument("--width", type=int, default=5)
    p.add_argument("--alpha", type=float, default=1e-4)
    p.add_argument("--eta", type=float, default=0.02)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.repeats < 5:
        p.error("--repeats must be >= 5")

    threads = pin_threads()
    rng = np.random.default_rng(args.seed)
    lam = 3.0 * 0.5 ** np.arange(3)  # the paper experiment's spectrum (3, 1.5, 0.75)
    _, Xs = ground_truth(rng, args.R, args.d, lam)
    H = wishart_gram(rng, args.R, args.d * (args.d + 1) // 2, args.m)
    U0 = args.alpha * initial_factor(rng, args.R, args.d, args.width)
    print_header("Batched gradient descent on matrix sensing vs per-replicate Python loop",
                 f"R={args.R} T={args.T} d={args.d} m={args.m} width={args.width} alpha={args.alpha} "
                 f"eta={args.eta} spectrum={lam.tolist()}", threads)

    def batched() -> np.ndarray:
        return gradient_descent(H, Xs, U0, args.eta, args.T, None, np).U

    def loop() -> np.ndarray:
        return per_replicate_loop(H, Xs, U0, args.eta, args.T)

    batched()  # warm-up
    per_replicate_loop(H, Xs, U0, args.eta, args.T, count=min(4, args.R))
    times, results = interleaved({"batched": batched, "loop": loop}, args.repeats)
    res_b, res_l = np.asarray(results["batched"]), np.asarray(results["loop"])

    Xb = res_b @ np.swapaxes(res_b, 1, 2)
    Xl = res_l @ np.swapaxes(res_l, 1, 2)
    fit = np.linalg.norm(Xb - Xs, axis=(1, 2)) / np.linalg.norm(Xs, axis=(1, 2))
    ok = print_agreement([("final U U^T: batched vs loop (all replicates)", max_rel_diff(Xb, Xl))], AGREE_RTOL)
    print(f"  (median relative distance of the final U U^T to X*: {np.median(fit):.2e})")
    labels = {"batched": "batched gradient_descent", "loop": "per-replicate loop"}
    report_speedup(times, args.R * args.T, args.repeats, labels, TARGET_SPEEDUP)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
