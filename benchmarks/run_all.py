"""Run every benchmark script in this folder, one after the other, in fresh processes (`make bench`).

Each script measures its ratios within its own run (batched vs loop, ours vs POT and cvxpy) and prints them;
nothing here asserts a time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, arguments, why). d = 5 is the dimension of the paper's regret-vs-T experiment; d = 10 is harder for
# the batched kernel (its cost grows like d^2 per replicate-step while the loop's Python overhead does not).
RUNS = [
    ("bench_ftrl.py", ["--d", "5"], "FTRL at the regret-vs-T experiment's dimension"),
    ("bench_ftrl.py", ["--d", "10"], "FTRL at a larger dimension"),
    ("bench_sparse_ot.py", [], "sparsity-constrained OT vs POT and cvxpy"),
    ("bench_mdp.py", [], "exact evaluation of 1000 random 10-state, 4-action MDPs"),
    ("bench_group_slope.py", [], "gSLOPE path: strong screening vs none, and vs cvxpy CLARABEL"),
    ("bench_sgd.py", [], "batched SGD + L2 on a scale-invariant model, 1024 replicates, vs a per-replicate loop"),
    ("bench_matrix_sensing.py", [], "batched GD on 256 matrix-sensing replicates vs a per-replicate loop"),
    ("bench_btl_mle.py", [], "batched BTL MLE over 256 datasets vs cvxpy CLARABEL in a loop"),
    ("bench_smooth_ot.py", [], "quadratically and entropically regularised OT vs cvxpy and POT at matched accuracy"),
    ("bench_exploitability.py", [], "exploitability of a batch of Leduc profiles vs a per-infoset Python loop"),
    ("bench_sns.py", [], "Sinkhorn-Newton-Sparse vs Sinkhorn and POT sinkhorn_log at ||grad f||_1 <= 1e-10"),
]


def main() -> int:
    listed = {name for name, _, _ in RUNS}
    unlisted = [p.name for p in sorted(HERE.glob("bench_*.py")) if p.name not in listed]
    runs = RUNS + [(name, [], "") for name in unlisted]
    failures = 0
    for name, args, why in runs:
        print(f"\n=== {name} {' '.join(args)} {('(' + why + ')') if why else ''} ===", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / name), *args], cwd=HERE.parent)
        failures += done.returncode != 0
        print(f"--- {name}: exit {done.returncode}, {time.perf_counter() - start:.1f} s wall", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
