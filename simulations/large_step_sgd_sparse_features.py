r"""Instances and measurements for *SGD with Large Step Sizes Learns Sparse Features* (Andriushchenko, Varre,
Pillaud-Vivien, Flammarion, ICML 2023): a diagonal linear network beta = u * v trained by single-sample SGD with
a large step for T1 steps, then annealed to an interpolator.

One replicate (the authors' sparse-regression setting of ``diag_nets.py``): X (n, d) with i.i.d. N(0, 1) entries,
an s-sparse ground truth beta* (first s coordinates |N(0, 1)|, normalised to ||beta*|| = 1), noiseless labels
y = X beta*, the loss L(u, v) = ||X (u * v) - y||^2 / (2n), and the initialisation u_0 = alpha 1, v_0 = 0.

The step is chosen per replicate, relative to the instance. eta_ref(beta_BP) (:func:`step_scale`) is the
mean-square stability scale of single-sample SGD at the balanced factorisation of the basis-pursuit interpolator
(between 1 and 1.6 times the exact linear-stability threshold on the instances tested). A run is probed at the
steps c eta_ref, c in ``STEP_GRID``, on the replicate's own sample stream for the whole ``horizon``; the large
step is the largest grid step below which every grid step keeps the run bounded (loss <= 1e6) for the whole
horizon: the "largest step that does not diverge", measured per replicate (a step fixed across instances
diverges on some, as the bounded steps vary by about a factor 2 between instances). The phase of length
T1 <= horizon is a prefix of the probed run, so the run used never diverges, by construction.

Phase 2 (annealing) is taken in its small-step limit: the exact end point of gradient flow from the iterate
after the large-step phase (``solvers.diagonal_networks.gradient_flow_limit``, tested against small-step
gradient descent), so that what differs between T1 values is the large-step phase alone.

``measure_schedule`` returns, per replicate, the relative distances of the annealed interpolators to the
basis-pursuit solution (cvxpy, HiGHS) and to the candidate wrong limits, after T1 and after T1 / ``shorter``
large steps, the small-step interpolator (T1 = 0), and the loss level during the large-step phase.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from boundlab.errors import MeasurementError, UsageError
from solvers.diagonal_networks import (
    balanced_gradients,
    basis_pursuit,
    gradient_flow_limit,
    min_l2_interpolator,
    relative_distance,
    sgd,
)

Array = Any

STEP_GRID = (0.5, 2.0 ** -0.25, 1.0, 2.0 ** 0.25, 2.0 ** 0.5)
"""Multiples of eta_ref(beta_BP) probed; the smallest (0.5) kept every run bounded in trial runs (it is the fallback
that would make a replicate raise if it failed)."""
RECORD_EVERY = 25


def sparse_instances(rng: np.random.Generator, replicates: int, n: int, d: int, s: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, beta*): X (R, n, d) i.i.d. N(0, 1), beta* (R, d) with |N(0, 1)| entries on the first s
    coordinates normalised to unit norm, y = X beta* (R, n)."""
    for name, value in (("replicates", replicates), ("n", n), ("d", d), ("s", s)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}.")
    if not (s <= n < d):
        raise UsageError(f"need s <= n < d (sparse, under-determined), got s = {s}, n = {n}, d = {d}.")
    X = rng.standard_normal((replicates, n, d))
    beta = np.zeros((replicates, d))
    beta[:, :s] = np.abs(rng.standard_normal((replicates, s)))
    beta /= np.linalg.norm(beta, axis=1, keepdims=True)
    return X, np.einsum("rnd,rd->rn", X, beta), beta


def step_scale(X: Array, beta: Array, xp: Any) -> Array:
    """eta_ref(beta) = 2 sum_i ||g_i||^2 / sum_i ||g_i||^4, g_i the per-sample gradients at the balanced
    factorisation of the interpolator beta (``solvers.diagonal_networks.balanced_gradients``), per replicate.

    It is the mean-square stability threshold of single-sample SGD when all g_i are parallel, and between 1 and
    1.6 times the exact threshold of ``solvers.linear_stability.threshold`` on the instances tested, at a
    fraction of its cost (that one solves an n(n+1)/2 eigenvalue problem per replicate)."""
    G = balanced_gradients(X, beta, xp)
    g2 = xp.sum(G * G, axis=2)
    return 2.0 * xp.sum(g2, axis=1) / xp.sum(g2 * g2, axis=1)


def _int_param(params: Mapping[str, Any], name: str, low: int = 1) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def _window_mean(losses: np.ndarray, steps: np.ndarray, low: float, high: float) -> np.ndarray:
    keep = (steps >= low) & (steps <= high)
    if not keep.any():
        raise MeasurementError(f"no loss record in the window [{low:g}, {high:g}].")
    return losses[:, keep].mean(axis=1)


def measure_schedule(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                     ) -> dict[str, np.ndarray]:
    """The schedule "largest stable step for T1 steps, then anneal", per replicate (module docstring).

    Outputs: ``dist_bp`` (annealed after T1 large steps, to beta_BP), ``dist_bp_shorter`` (after T1 / shorter),
    ``dist_bp_small`` (after none: the small-step interpolator), ``dist_l2`` (to the minimum-l2 interpolator),
    ``dist_small`` (to the small-step interpolator), ``dist_bp_scaled`` (to 1.05 beta_BP), the loss of the
    large-step phase averaged over [T1/4, T1/2] (``loss_early``) and [3T1/4, T1] (``loss_late``) with
    ``log_loss_drop`` = log10(loss_late / loss_early), the same drop for the run at the smallest grid step
    0.5 eta_ref on the same stream (``log_loss_drop_small``), that run's loss on [3T1/4, T1]
    (``loss_late_small``) and ``log_loss_gap`` = log10(loss_late / loss_late_small), and the step used
    relative to eta_ref (``step_ratio``) and in absolute terms (``eta``)."""
    T1, horizon, shorter = (_int_param(params, k) for k in ("T1", "horizon", "shorter"))
    size, dim, s = (_int_param(params, k) for k in ("n", "d", "s"))
    alpha = float(params["alpha"])
    if not (alpha > 0 and math.isfinite(alpha)):
        raise UsageError(f"alpha (the initialisation scale) must be a positive number, got {alpha!r}.")
    if T1 > horizon or T1 < 4 * RECORD_EVERY or T1 % shorter:
        raise UsageError(f"need {4 * RECORD_EVERY} <= T1 <= horizon and T1 divisible by shorter, got T1 = {T1}, "
                         f"horizon = {horizon}, shorter = {shorter}.")
    X_np, y_np, _ = sparse_instances(rng, n, size, dim, s)
    rows = rng.integers(0, size, size=(n, horizon))
    X, y = xp.asarray(X_np), xp.asarray(y_np)
    beta_bp = basis_pursuit(X, y, xp)
    beta_l2 = min_l2_interpolator(X, y, xp)
    eta_star = to_numpy(step_scale(X, beta_bp, xp))

    K = len(STEP_GRID)
    grid = np.asarray(STEP_GRID)
    Xb, yb = xp.concat([X] * K, axis=0), xp.concat([y] * K, axis=0)
    rows_b = np.concatenate([rows] * K, axis=0)
    eta_b = xp.asarray(np.reshape(grid[:, None] * eta_star[None, :], (-1,)))
    u = alpha * xp.ones((K * n, dim), dtype=X.dtype)
    v = xp.zeros((K * n, dim), dtype=X.dtype)
    states, losses, steps, diverged = [], [], [], xp.zeros((K * n,), dtype=xp.bool)
    done = 0
    for stop in (T1 // shorter, T1, horizon):
        run = sgd(Xb, yb, u, v, eta_b, rows_b[:, done:stop], xp, every=RECORD_EVERY if stop <= T1 else 0)
        u, v, diverged = run.u, run.v, diverged | run.diverged
        if stop <= T1:
            losses.append(to_numpy(run.losses)[:, :-1])
            steps.append(run.record_steps[:-1] + done)
        states.append((u, v))
        done = stop
    bounded = ~np.reshape(to_numpy(diverged), (K, n))
    prefix = np.cumprod(bounded, axis=0).astype(bool)
    if not prefix[0].all():
        raise MeasurementError(f"{int((~prefix[0]).sum())} replicates diverge even at {grid[0]:g} eta_ref.")
    pick = prefix.sum(axis=0) - 1                                 # the largest grid step below which all stay bounded
    chosen = xp.asarray(pick * n + np.arange(n))

    def select(a: Array) -> Array:
        return xp.take(a, chosen, axis=0)

    starts_u = [alpha * xp.ones((n, dim), dtype=X.dtype)] + [select(st[0]) for st in states[:2]]
    starts_v = [xp.zeros((n, dim), dtype=X.dtype)] + [select(st[1]) for st in states[:2]]
    annealed = gradient_flow_limit(xp.concat([X] * 3, axis=0), xp.concat([y] * 3, axis=0),
                                   xp.concat(starts_u, axis=0), xp.concat(starts_v, axis=0), xp, tol=1e-9)
    beta_end = annealed.beta
    small, mid, end = beta_end[:n, :], beta_end[n:2 * n, :], beta_end[2 * n:, :]
    every_loss = np.concatenate(losses, axis=1)
    record = every_loss[to_numpy(chosen)]
    at = np.concatenate(steps)
    early = _window_mean(record, at, T1 / 4, T1 / 2)
    late = _window_mean(record, at, 3 * T1 / 4, T1)
    smallest = every_loss[:n]                                   # the same stream at the smallest grid step
    late_small = _window_mean(smallest, at, 3 * T1 / 4, T1)
    drop_small = np.log10(late_small / _window_mean(smallest, at, T1 / 4, T1 / 2))
    return {
        "dist_bp": to_numpy(relative_distance(end, beta_bp, xp)),
        "dist_bp_shorter": to_numpy(relative_distance(mid, beta_bp, xp)),
        "dist_bp_small": to_numpy(relative_distance(small, beta_bp, xp)),
        "dist_l2": to_numpy(relative_distance(end, beta_l2, xp)),
        "dist_small": to_numpy(relative_distance(end, small, xp)),
        "dist_bp_scaled": to_numpy(relative_distance(end, 1.05 * beta_bp, xp)),
        "loss_early": early,
        "loss_late": late,
        "log_loss_drop": np.log10(late / early),
        "log_loss_drop_small": drop_small,
        "loss_late_small": late_small,
        "log_loss_gap": np.log10(late / late_small),
        "step_ratio": grid[pick],
        "eta": grid[pick] * eta_star,
    }
