"""Benchmark: solvers.smooth_ot (batched Newton: full dual for l2, semi-dual for the entropy; batched Sinkhorn
for the entropy, method='sinkhorn') vs cvxpy (CLARABEL) and POT (ot.smooth.smooth_ot_dual, L-BFGS-B; ot.sinkhorn
for the entropy).

Run ``python benchmarks/bench_smooth_ot.py [--n 200] [--repeats 5] [--batch 64] [--batch-n 50]``.

Accuracy is matched as a user would set it: the target is a plan with marginal gap
||T 1 - a||_1 + ||T^T 1 - b||_1 <= 1e-6, or a regularised objective <T, C> + Omega(T) within 1e-8 relative of the
optimum (the optimum: our dual value at tol 1e-11, a lower bound on every plan's objective, cross-checked against
cvxpy at tolerances 1e-12).  Ours runs with ``tol=1e-6``; POT with the loosest ``stopThr`` of (1e-6, 1e-9, 1e-12,
1e-15) whose run meets the target (``numItermax`` 20000); when none does, the table says so and POT is timed at
its defaults.  cvxpy (CLARABEL, default tolerances) is timed per fresh problem, compilation
(``prob.compilation_time``) and solve (``prob.solver_stats.solve_time``) apart.  Times are medians of interleaved
repeats after one warm-up, BLAS/OpenMP pinned to one thread.  Targets are printed as met or not: nothing asserts
a time.  Instances: C0 uniform in [0, 1]^{n x n} (cost scale 1), a, b softmaxes of logits uniform in [-3, 3]
(simulations.smooth_sparse_ot.instance_space), gamma = 0.05.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import median_walls, pin_threads  # noqa: E402
from simulations.smooth_sparse_ot import instance_space  # noqa: E402
from solvers import smooth_ot  # noqa: E402

GAMMA = 0.05
TARGET_GAP = 1e-6
TARGET_REL = 1e-8
POT_THRESHOLDS = (1e-6, 1e-9, 1e-12, 1e-15)
POT_MAX_ITER = 20000
TARGETS = {"l2 vs cvxpy solve": 20.0, "l2 vs POT": 1.0, "batch vs POT loop": 10.0}


def instances(seed: int, count: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` n x n instances at cost scale 1 (a (B, n), b (B, n), C (B, n, n))."""
    space = instance_space({"m": n, "n": n})
    inst = space.decode(space.sample(np.random.default_rng(seed), count))
    return inst["a"], inst["b"], inst["C"]


def gap(T: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(T.sum(1) - a).sum() + np.abs(T.sum(0) - b).sum())


def objective(T: np.ndarray, C: np.ndarray, reg: str) -> float:
    return float(smooth_ot.primal_value(T[None], C[None], GAMMA, reg)[0])


def optimum(a: np.ndarray, b: np.ndarray, C: np.ndarray, reg: str) -> float:
    return float(smooth_ot.solve(a, b, C, GAMMA, reg, tol=1e-11).dual_value[0])


def accuracy(T: np.ndarray, a: np.ndarray, b: np.ndarray, C: np.ndarray, reg: str, star: float) -> tuple[float, float]:
    """Marginal gap and relative objective error of a plan."""
    return gap(T, a, b), abs(objective(T, C, reg) - star) / max(abs(star), 1e-300)


def meets(g: float, rel: float) -> bool:
    return g <= TARGET_GAP or rel <= TARGET_REL


def pot_dual(a, b, C, reg: str, thr: float | None) -> np.ndarray:
    import ot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if thr is None:
            return ot.smooth.smooth_ot_dual(a, b, C, GAMMA, reg_type=reg)
        return ot.smooth.smooth_ot_dual(a, b, C, GAMMA, reg_type=reg, stopThr=thr, numItermax=POT_MAX_ITER)


def pot_sinkhorn(a, b, C, thr: float | None) -> np.ndarray:
    import ot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if thr is None:
            return ot.sinkhorn(a, b, C, GAMMA)
        return ot.sinkhorn(a, b, C, GAMMA, stopThr=thr, numItermax=POT_MAX_ITER)


def loosest(run: Callable[[float | None], list[np.ndarray]], check: Callable[[list[np.ndarray]], bool]) -> float | None:
    """The loosest POT threshold whose run meets the target on every instance; None if none does."""
    for thr in POT_THRESHOLDS:
        if check(run(thr)):
            return thr
    return None


def cvxpy_l2(a: np.ndarray, b: np.ndarray, C: np.ndarray, **tols: float):
    """A fresh cvxpy problem (so every repeat compiles), solved by CLARABEL; the problem and the plan."""
    import cvxpy as cp

    T = cp.Variable(C.shape, nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(T, C)) + GAMMA / 2 * cp.sum_squares(T)),
                      [cp.sum(T, axis=1) == a, cp.sum(T, axis=0) == b])
    prob.solve(solver="CLARABEL", **tols)
    return prob, np.maximum(np.asarray(T.value), 0.0)


def verdict(name: str, ratio: float) -> str:
    target = TARGETS[name]
    return f"{ratio:7.1f}x  (target >= {target:g}x: {'met' if ratio >= target else 'NOT met'})"


def row(name: str, seconds: float, g: float, rel: float, note: str = "") -> None:
    print(f"  {name:<44s} {seconds:9.4f} s  gap {g:8.1e}  obj rel {rel:8.1e}  "
          f"{'target met' if meets(g, rel) else 'target NOT met':<15s} {note}")


def label(thr: float | None) -> str:
    return "defaults" if thr is None else f"stopThr {thr:g}"


def cvxpy_timed(a: np.ndarray, b: np.ndarray, C: np.ndarray, stats: list[tuple[float, float]]):
    """:func:`cvxpy_l2` at defaults, recording (compile, solve) seconds in ``stats``."""
    prob, plan = cvxpy_l2(a, b, C)
    stats.append((prob.compilation_time or float("nan"), prob.solver_stats.solve_time or float("nan")))
    return prob, plan


def single(n: int, repeats: int) -> None:
    a, b, C = (v[0] for v in instances(0, 1, n))
    for reg in ("l2", "kl"):
        star = optimum(a, b, C, reg)
        print(f"\n== {reg}, one {n} x {n} instance, gamma = {GAMMA}; optimum {star:.12f}")

        def ok(plans: list[np.ndarray], reg: str = reg, star: float = star) -> bool:
            return all(meets(*accuracy(P, a, b, C, reg, star)) for P in plans)

        thr = loosest(lambda t, reg=reg: [pot_dual(a, b, C, reg, t)], ok)
        ours, pot = "ours (tol 1e-6)", f"POT smooth_ot_dual ({label(thr)})"
        runs: dict[str, Callable[[], object]] = {
            ours: lambda reg=reg: smooth_ot.solve(a, b, C, GAMMA, reg, tol=TARGET_GAP),
            pot: lambda reg=reg, thr=thr: pot_dual(a, b, C, reg, thr),
        }
        stats: list[tuple[float, float]] = []
        if reg == "kl":
            sk = loosest(lambda t: [pot_sinkhorn(a, b, C, t)], ok)
            sink = f"POT sinkhorn ({label(sk)})"
            runs[sink] = lambda sk=sk: pot_sinkhorn(a, b, C, sk)
            mine = "ours, method='sinkhorn' (tol 1e-6)"
            runs[mine] = lambda: smooth_ot.solve(a, b, C, GAMMA, "kl", tol=TARGET_GAP, method="sinkhorn")
        else:
            cvx = "cvxpy CLARABEL (defaults), wall"
            runs[cvx] = lambda stats=stats: cvxpy_timed(a, b, C, stats)
        times, res = median_walls(runs, repeats)
        r = res[ours]
        row(ours, times[ours], float(r.marginal_gap[0]), accuracy(np.asarray(r.plan[0]), a, b, C, reg, star)[1],
            f"{int(r.iterations[0])} Newton iterations")
        short = "" if thr else f"; no stopThr in {POT_THRESHOLDS} (numItermax {POT_MAX_ITER}) reaches the target"
        row(pot, times[pot], *accuracy(res[pot], a, b, C, reg, star), short.lstrip("; "))
        if reg == "l2":
            prob, plan = res[cvx]
            comp, solve = (statistics.median(x[k] for x in stats[1:]) for k in (0, 1))  # the timed repeats
            row(cvx, times[cvx], *accuracy(plan, a, b, C, reg, star),
                f"status {prob.status}; compile {comp:.3f} s, CLARABEL solve {solve:.3f} s (medians)")
            print(f"  cvxpy solve / ours                  {verdict('l2 vs cvxpy solve', solve / times[ours])}")
            print(f"  cvxpy compile + solve / ours        {(comp + solve) / times[ours]:7.1f}x")
            print(f"  POT / ours                          {verdict('l2 vs POT', times[pot] / times[ours])}"
                  f"{'  (POT at defaults, short of the target)' if thr is None else ''}")
            tight, _ = cvxpy_l2(a, b, C, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)
            print(f"  cross-check: cvxpy at tolerances 1e-12 ({tight.status}) value {tight.value:.12f}, relative "
                  f"to the optimum {abs(tight.value - star) / abs(star):.1e}")
        else:
            q = res[mine]
            row(mine, times[mine], float(q.marginal_gap[0]),
                accuracy(np.asarray(q.plan[0]), a, b, C, reg, star)[1], f"{int(q.iterations[0])} Sinkhorn iterations")
            row(sink, times[sink], *accuracy(res[sink], a, b, C, reg, star))
            for who in (ours, mine):
                print(f"  POT smooth_ot_dual / {who:<36s} {times[pot] / times[who]:7.2f}x  (no target set)")
                print(f"  POT sinkhorn / {who:<42s} {times[sink] / times[who]:7.2f}x  (no target set)")


def batch(count: int, n: int, repeats: int) -> None:
    A, B, CC = instances(1, count, n)
    for reg in ("l2", "kl"):
        print(f"\n== {reg}, a batch of {count} instances of {n} x {n}, gamma = {GAMMA}: one batched call vs a POT loop")
        stars = smooth_ot.solve(A, B, CC, GAMMA, reg, tol=1e-11).dual_value

        def acc(plans: list[np.ndarray], reg: str = reg, stars: np.ndarray = stars) -> list[tuple[float, float]]:
            return [accuracy(np.asarray(P), A[i], B[i], CC[i], reg, float(stars[i])) for i, P in enumerate(plans)]

        def loop(thr: float | None, reg: str = reg) -> list[np.ndarray]:
            return [pot_dual(A[i], B[i], CC[i], reg, thr) for i in range(count)]

        thr = loosest(loop, lambda plans: all(meets(*x) for x in acc(plans)))
        ours, pot = "ours, one batched call (tol 1e-6)", f"POT smooth_ot_dual loop ({label(thr)})"
        runs = {ours: lambda reg=reg: smooth_ot.solve(A, B, CC, GAMMA, reg, tol=TARGET_GAP),
                pot: lambda thr=thr: loop(thr)}
        if reg == "kl":  # the same problem by POT's Sinkhorn, the peer a user would call for the entropy

            def sinkhorn_loop(thr: float | None) -> list[np.ndarray]:
                return [pot_sinkhorn(A[i], B[i], CC[i], thr) for i in range(count)]

            sk = loosest(sinkhorn_loop, lambda plans: all(meets(*x) for x in acc(plans)))
            sink = f"POT sinkhorn loop ({label(sk)})"
            runs[sink] = lambda sk=sk: sinkhorn_loop(sk)
            batched_sk = "ours, method='sinkhorn', one batched call"
            runs[batched_sk] = lambda: smooth_ot.solve(A, B, CC, GAMMA, "kl", tol=TARGET_GAP, method="sinkhorn")
        times, res = median_walls(runs, repeats)
        r = res[ours]
        mine = acc(list(r.plan))
        row(ours, times[ours], max(x[0] for x in mine), max(x[1] for x in mine),
            f"worst instance; Newton iterations max {int(np.max(r.iterations))}, "
            f"mean {float(np.mean(r.iterations)):.1f}")
        peer_row(pot, "POT loop", times, ours, acc(res[pot]), thr)
        if reg == "kl":
            q = res[batched_sk]
            theirs = acc(list(q.plan))
            row(batched_sk, times[batched_sk], max(x[0] for x in theirs), max(x[1] for x in theirs),
                f"worst instance; Sinkhorn iterations max {int(np.max(q.iterations))}")
            peer_row(sink, "POT sinkhorn loop", times, ours, acc(res[sink]), sk)
            print(f"  {'POT sinkhorn loop / ours (sinkhorn)':<36s}"
                  f"{verdict('batch vs POT loop', times[sink] / times[batched_sk])}")
            print(f"  {'POT loop / ours (sinkhorn)':<36s}"
                  f"{verdict('batch vs POT loop', times[pot] / times[batched_sk])}")


def peer_row(name: str, short: str, times: dict[str, float], ours: str, theirs: list[tuple[float, float]],
             thr: float | None) -> None:
    """A peer's row over a batch (its worst instance) and its time against our batched call."""
    count = len(theirs)
    row(name, times[name], max(x[0] for x in theirs), max(x[1] for x in theirs),
        f"worst instance; {sum(meets(*x) for x in theirs)}/{count} meet the target"
        + ("" if thr else f"; no stopThr in {POT_THRESHOLDS} reaches it"))
    print(f"  {short + ' / ours batched':<36s}{verdict('batch vs POT loop', times[name] / times[ours])}"
          f"{'  (POT at defaults, short of the target)' if thr is None else ''}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batch-n", type=int, default=50)
    args = parser.parse_args()
    import cvxpy
    import ot

    print(__doc__.strip().splitlines()[0])
    print(pin_threads())
    print(f"numpy {np.__version__}, POT {ot.__version__}, cvxpy {cvxpy.__version__}; medians of {args.repeats} "
          f"interleaved repeats after 1 warm-up; load average at start {os.getloadavg()[0]:.2f}")
    single(args.n, args.repeats)
    batch(args.batch, args.batch_n, args.repeats)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f} (the machine is shared: times are noisy)")


if __name__ == "__main__":
    main()
