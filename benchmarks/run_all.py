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


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    failures = 0
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        failures += done.returncode != 0
        print(f"--- {script.name}: exit {done.returncode}, {time.perf_counter() - start:.1f} s wall", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
