"""Benchmark: batched SGD with L2 penalty on the scale-invariant logistic model against a per-replicate Python loop
computing the same numbers.

Run ``python benchmarks/bench_sgd.py`` (``--help`` for options). The experiment is one cell of the paper's
equilibrium grid: R replicates of SGD on the logistic loss of s <w / ||w||, x> (n = 200, d = 20, minibatches of
8, data from ``simulations.scale_invariant_weight_decay.logistic_data``) with penalty (lam / 2)||w||^2, from
unit-norm random directions, for T steps, recording ||w_t||^2 at every step.

* batched: ``solvers.sgd.run`` (all replicates at once, one array operation per step);
* loop: for each replicate, the same update with NumPy on that replicate's d-vector (gather its minibatch,
  gradient in the direction, tangent projection, decay), the natural way to write it without a batch axis.

Minibatch indices and initial points are drawn once, before timing, and shared. BLAS threads are pinned to 1.
Timings are medians over ``--repeats`` interleaved repeats after one warm-up; wall-clock (perf_counter) is the
headline, CPU time (process_time) is shown too because other processes on a shared machine inflate wall-clock.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: the fallback when threadpoolctl is missing

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import interleaved, max_rel_diff, pin_threads, report_speedup  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulations.scale_invariant_weight_decay import logistic_data  # noqa: E402
from solvers.sgd import OptimizerConfig, ScaleInvariantLogistic, initial_state, run  # noqa: E402

TARGET_SPEEDUP = 30.0
AGREE_RTOL = 1e-10


def loop_replicate(X: np.ndarray, y: np.ndarray, s: float, w0: np.ndarray, rows: np.ndarray, eta: float,
                   lam: float) -> tuple[np.ndarray, np.ndarray]:
    """One replicate: T steps of SGD + L2 on its own d-vector; returns the final w and ||w_t||^2 per step."""
    w = w0.copy()
    norms = np.empty(rows.shape[0])
    for t in range(rows.shape[0]):
        norm_sq = float(w @ w)
        norms[t] = norm_sq
        norm = np.sqrt(norm_sq)
        u = w / norm
        Xb, yb = X[rows[t]], y[rows[t]]
        margin = s * yb * (Xb @ u)
        G = -s * ((yb / (1.0 + np.exp(margin))) @ Xb) / rows.shape[1]
        g = (G - (G @ u) * u) / norm
        w = w - eta * (g + lam * w)
    return w, norms


def per_replicate_loop(X, y, s, w0, batches, eta, lam, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    count = w0.shape[0] if count is None else count
    outs = [loop_replicate(X, y, s, w0[r], batches[:, r], eta, lam) for r in range(count)]
    return np.stack([o[0] for o in outs]), np.stack([o[1] for o in outs], axis=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--R", type=int, default=1024)
    p.add_argument("--T", type=int, default=200)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--d", type=int, default=20)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--eta", type=float, default=0.1)
    p.add_argument("--lam", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.repeats < 5:
        p.error("--repeats must be >= 5")

    threads = pin_threads()
    rng = np.random.default_rng(args.seed)
    X, y = logistic_data(rng, args.n, args.d)
    model = ScaleInvariantLogistic(X, y, 1.0)
    w0 = rng.standard_normal((args.R, args.d))
    w0 /= np.linalg.norm(w0, axis=1, keepdims=True)
    batches = rng.integers(0, args.n, size=(args.T, args.R, args.batch))
    opt = OptimizerConfig("sgd", args.eta, l2=args.lam)
    print("Batched SGD + L2 on a scale-invariant logistic model vs per-replicate Python loop")
    print(f"config : R={args.R} T={args.T} n={args.n} d={args.d} batch={args.batch} eta={args.eta} lam={args.lam}")
    print(f"threads: {threads}")
    print(f"machine: {os.cpu_count()} CPUs, numpy {np.__version__}, load average at start {os.getloadavg()[0]:.2f}")

    def batched() -> tuple[np.ndarray, np.ndarray]:
        state, kept = run(model, initial_state(w0), batches, opt, keep=("norm_sq",))
        return state.w, kept["norm_sq"]

    def loop() -> tuple[np.ndarray, np.ndarray]:
        return per_replicate_loop(X, y, 1.0, w0, batches, args.eta, args.lam)

    batched()  # warm-up
    per_replicate_loop(X, y, 1.0, w0, batches, args.eta, args.lam, count=min(4, args.R))
    times, results = interleaved({"batched": batched, "loop": loop}, args.repeats)
    res_b, res_l = results["batched"], results["loop"]

    print("agreement:")
    ok = True
    for label, a, b in (("final w: batched vs loop (all replicates)", res_b[0], res_l[0]),
                        ("||w_t||^2 at every step: batched vs loop", res_b[1], res_l[1])):
        err = max_rel_diff(np.asarray(a), np.asarray(b))
        ok &= err <= AGREE_RTOL
        print(f"  {label:50s} max rel diff {err:.1e}")
    print(f"  -> {'AGREE' if ok else 'DISAGREE'} (tolerance {AGREE_RTOL:g} relative to max(1, |value|))")
    labels = {"batched": "batched solvers.sgd.run", "loop": "per-replicate loop"}
    report_speedup(times, args.R * args.T, args.repeats, labels, TARGET_SPEEDUP)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
