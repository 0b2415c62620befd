"""Benchmark: batched online ridge (FTRL) against a per-replicate Python loop computing the same numbers.

Run ``python benchmarks/bench_ftrl.py`` (``--help`` for options). The experiment: R replicates of online
ridge regression with a Gaussian design x ~ N(0, I/d), unit-norm theta*, y = <x, theta*> + sigma * noise;
at log-spaced checkpoints, the cumulative realised regret, pseudo-regret and regret against the best
fixed least-squares predictor in hindsight.

* batched: ``solvers.online_regression.run_online_ridge`` (all replicates at once);
* loop: for each replicate, a plain NumPy Sherman-Morrison (recursive least squares) loop, then the same
  accumulators (cumulative sums, hindsight OLS from the Gram matrix);
* reference: ``online_ridge_reference`` (``np.linalg.solve`` each step) on a subset of replicates.

Data are generated once, before timing, and served to both as views. BLAS threads are pinned to 1.
Timings are medians over ``--repeats`` interleaved repeats after one warm-up; wall-clock (perf_counter)
is the headline, CPU time (process_time) is also shown because other processes on a shared machine
inflate wall-clock times.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: the fallback when threadpoolctl is missing

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import interleaved, max_rel_diff, pin_threads, report_speedup  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulations.online_glm_regression import gaussian_instance  # noqa: E402
from solvers.online_regression import (  # noqa: E402
    OnlineRidgeResult,
    array_stream,
    online_ridge_reference,
    run_online_ridge,
)

TARGET_SPEEDUP = 50.0
AGREE_RTOL = 1e-8


def make_data(R: int, T: int, d: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, f* from the simulation's generator (simulations.online_glm_regression.gaussian_instance)."""
    return gaussian_instance(np.random.default_rng(seed), R, T, d, sigma)


def log_checkpoints(T: int, k: int) -> list[int]:
    return sorted({int(c) for c in np.unique(np.geomspace(1, T, k).round().astype(int))} | {T})


# ----------------------------------------------------------------------------- per-replicate loop


def rls_predictions(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """One replicate, Sherman-Morrison (recursive least squares), the textbook loop."""
    T, d = x.shape
    P = np.eye(d) / lam
    theta = np.zeros(d)
    yhat = np.empty(T)
    for t in range(T):
        xt = x[t]
        yhat[t] = xt @ theta
        px = P @ xt
        k = px / (1.0 + xt @ px)
        P -= np.outer(k, px)
        theta += k * (y[t] - yhat[t])
    return yhat


def replicate_metrics(x, y, f, yhat, checkpoints: list[int]) -> dict[str, np.ndarray]:
    """Checkpoint accumulators for one replicate, from its predictions (vectorised over time)."""
    idx = np.asarray(checkpoints) - 1
    learner = np.cumsum((yhat - y) ** 2)[idx]
    oracle = np.cumsum((f - y) ** 2)[idx]
    hind = np.empty(len(checkpoints))
    G, b, syy, t0 = np.zeros((x.shape[1],) * 2), np.zeros(x.shape[1]), 0.0, 0
    for j, t in enumerate(checkpoints):
        xs, ys = x[t0:t], y[t0:t]
        G, b, syy, t0 = G + xs.T @ xs, b + xs.T @ ys, syy + ys @ ys, t
        hind[j] = max(syy - b @ np.linalg.lstsq(G, b, rcond=None)[0], 0.0)
    return {"regret": learner - oracle, "pseudo_regret": np.cumsum((yhat - f) ** 2)[idx],
            "hindsight_regret": learner - hind}


def per_replicate_loop(x, y, f, lam: float, checkpoints: list[int], n: int | None = None) -> dict:
    n = x.shape[0] if n is None else n
    preds = np.stack([rls_predictions(x[r], y[r], lam) for r in range(n)])
    rows = [replicate_metrics(x[r], y[r], f[r], preds[r], checkpoints) for r in range(n)]
    return {"predictions": preds} | {k: np.stack([m[k] for m in rows]) for k in rows[0]}


# ----------------------------------------------------------------------------- timing and checks


def check_agreement(x, y, f, args, checkpoints: list[int], batched: OnlineRidgeResult, loop: dict) -> bool:
    full = run_online_ridge(array_stream(x, y, f), args.T, args.lam, checkpoints, method=args.method,
                            return_predictions=True)
    sub = args.ref_subset
    ref = np.stack([online_ridge_reference(x[r], y[r], args.lam) for r in range(sub)])
    rows = [
        ("predictions: batched vs loop (all replicates)", full.predictions, loop["predictions"]),
        (f"predictions: loop vs np.linalg.solve reference ({sub} replicates)", loop["predictions"][:sub], ref),
        (f"predictions: batched vs reference ({sub} replicates)", full.predictions[:sub], ref),
    ] + [(f"{k}: batched vs loop", getattr(batched, k), loop[k])
         for k in ("regret", "pseudo_regret", "hindsight_regret")]
    ok = True
    for label, a, b in rows:
        err = max_rel_diff(a, b)
        ok &= err <= AGREE_RTOL
        print(f"  {label:66s} max rel diff {err:.1e}")
    print(f"  -> {'AGREE' if ok else 'DISAGREE'} (tolerance {AGREE_RTOL:g} relative to max(1, |value|))")
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--R", type=int, default=256)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--T", type=int, default=5000)
    p.add_argument("--lam", type=float, default=1.0)
    p.add_argument("--sigma", type=float, default=1.0)
    p.add_argument("--checkpoints", type=int, default=20, help="number of log-spaced checkpoints")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ref-subset", type=int, default=4, help="replicates checked against np.linalg.solve")
    p.add_argument("--method", default="auto", choices=["auto", "sm", "block"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action="store_true", help="cProfile one batched run and print the top")
    args = p.parse_args(argv)
    if args.repeats < 3:
        p.error("--repeats must be >= 3")

    threads = pin_threads()
    x, y, f = make_data(args.R, args.T, args.d, args.sigma, args.seed)
    cps = log_checkpoints(args.T, args.checkpoints)
    print("Batched online ridge (FTRL) vs per-replicate Python loop")
    print(f"config : R={args.R} d={args.d} T={args.T} lam={args.lam} sigma={args.sigma}; x ~ N(0, I/d), "
          f"||theta*|| = 1; {len(cps)} log-spaced checkpoints; method={args.method}")
    print(f"threads: {threads}")
    print(f"machine: {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"load average at start {os.getloadavg()[0]:.2f}")

    def batched() -> OnlineRidgeResult:
        return run_online_ridge(array_stream(x, y, f), args.T, args.lam, cps, method=args.method)

    def loop() -> dict:
        return per_replicate_loop(x, y, f, args.lam, cps)

    batched()  # warm-up (imports, allocator, einsum paths)
    per_replicate_loop(x, y, f, args.lam, cps, n=min(4, args.R))  # warm-up on a few replicates
    times, results = interleaved({"batched": batched, "loop": loop}, args.repeats)
    res_b, res_l = results["batched"], results["loop"]

    print("agreement:")
    ok = check_agreement(x, y, f, args, cps, res_b, res_l)
    labels = {"batched": "batched run_online_ridge", "loop": "per-replicate SM loop"}
    report_speedup(times, args.R * args.T, args.repeats, labels, TARGET_SPEEDUP)

    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(batched)
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
