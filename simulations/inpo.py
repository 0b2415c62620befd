"""Intransitive preference games for INPO (Zhang et al., ICLR 2025): the exact online-mirror-descent dynamics of
the planning problem (solvers.preference_games), its Nash policy and the duality gap.

A game with K responses: scores s (K), an antisymmetric matrix A (entries in [-1, 1]) and a strength kappa give
the preference matrix

    P[i, j] = sigmoid(s_i - s_j + kappa A[i, j]),        so P + P^T = 1 (a general, intransitive preference),

and a reference policy pi_ref with full support. Random draws: s uniform in [-2, 2], A uniform, kappa uniform in
[0, 6], pi_ref ~ Dirichlet(2) (as log-probabilities clipped to the space's logit box [-4, 4]).

Three measurements, all batched over games (the leading axis; Python loops only over OMD iterations):

* :func:`evaluate_contraction` -- T steps of Eq. (5) with a constant eta = r tau, r in [1, 10], from pi_1 = pi_ref;
  ``drift`` = max over t of KL(pi*, pi_{t+1}) - (1 - tau/eta) KL(pi*, pi_t), and ``B`` = the largest
  |log pi_t(y) / pi_ref(y)| over the iterates pi_1 .. pi_{T+1} (Assumption A measured along the trajectory).
* :func:`evaluate_decay` -- T - 1 steps with eta_t = tau (t + 2) / 2 at iteration t = 1 .. T - 1, from pi_1 = pi_ref;
  ``kl_T`` = KL(pi*, pi_T) and ``B`` over pi_1 .. pi_T.
* :func:`measure_averaged_gap` -- T steps with the Theorem 3 step eta = C sqrt(T / D), D = max_pi KL(pi || pi_1) =
  -log min_y pi_ref(y), C = max(B tau, 1) = 1 (checked: a run with B tau > 1 raises, since the step size would then
  not be the theorem's); ``gap`` = DualGap of the uniform mixture pi_bar = (1/T) sum_{t <= T} pi_t.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import Box, MeasurementError, Product, Simplex, to_numpy
from solvers.preference_games import duality_gap, kl, nash, omd_step

SCORE = 2.0  # scores s_i in [-SCORE, SCORE]
KAPPA = 6.0  # intransitive strength kappa in [0, KAPPA]
LOGIT = 4.0  # pi_ref logits in [-LOGIT, LOGIT]
LOG10_TAU = (-1.3, 0.5)  # tau in [0.05, 3.16] for the last-iterate claims
ETA_RATIO = (1.0, 10.0)  # eta / tau for the one-step claim


def preference_matrix(scores: np.ndarray, antisym: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """P (n, K, K) from scores (n, K), the upper triangle of A (n, K(K-1)/2) and kappa (n,) or (n, 1)."""
    n, K = scores.shape
    A = np.zeros((n, K, K))
    iu = np.triu_indices(K, 1)
    A[:, iu[0], iu[1]] = antisym
    A = A - np.transpose(A, (0, 2, 1))
    logits = scores[:, :, None] - scores[:, None, :] + np.reshape(kappa, (n, 1, 1)) * A
    return 1.0 / (1.0 + np.exp(-logits))


def draw_games(rng: np.random.Generator, n: int, K: int) -> dict[str, np.ndarray]:
    """n random games: scores, antisym, kappa and the reference policy's logits (the design's distribution)."""
    return {
        "scores": rng.uniform(-SCORE, SCORE, size=(n, K)),
        "antisym": rng.uniform(-1.0, 1.0, size=(n, K * (K - 1) // 2)),
        "kappa": rng.uniform(0.0, KAPPA, size=(n, 1)),
        "ref": np.clip(np.log(np.maximum(rng.dirichlet(np.full(K, 2.0), size=n), 1e-300)), -LOGIT, LOGIT),
    }


def _space(params: Mapping[str, Any], with_ratio: bool) -> Product:
    K = int(params["K"])
    parts: dict[str, Any] = {
        "scores": Box(-SCORE, SCORE, K),
        "antisym": Box(-1.0, 1.0, K * (K - 1) // 2),
        "kappa": Box(0.0, KAPPA, 1),
        "ref": Simplex(K, -LOGIT, LOGIT),
        "log10_tau": Box(*LOG10_TAU, 1),
    }
    if with_ratio:
        parts["eta_ratio"] = Box(*ETA_RATIO, 1)

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        g = draw_games(rng, n, K)
        cols = [g["scores"], g["antisym"], g["kappa"], g["ref"], rng.uniform(*LOG10_TAU, size=(n, 1))]
        if with_ratio:
            cols.append(rng.uniform(*ETA_RATIO, size=(n, 1)))
        return np.clip(np.concatenate(cols, axis=1), space.low, space.high)

    space = Product(sampler=sample, **parts)
    return space


def contraction_space(params: Mapping[str, Any]) -> Product:
    """(scores, antisym, kappa, ref, log10 tau, eta / tau) for K responses."""
    return _space(params, with_ratio=True)


def decay_space(params: Mapping[str, Any]) -> Product:
    """(scores, antisym, kappa, ref, log10 tau) for K responses."""
    return _space(params, with_ratio=False)


def _game(instances: Mapping[str, np.ndarray], xp: Any) -> tuple[Any, Any, np.ndarray]:
    P = preference_matrix(instances["scores"], instances["antisym"], instances["kappa"])
    log_ref = np.log(instances["ref"])
    tau = 10.0 ** instances["log10_tau"][:, 0]
    return xp.asarray(P), xp.asarray(log_ref), tau


def _log_ratio(log_pi: Any, log_ref: Any, xp: Any) -> Any:
    return xp.max(xp.abs(log_pi - log_ref), axis=-1)


def evaluate_contraction(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                         ) -> dict[str, np.ndarray]:
    """Per game: ``drift`` (the largest KL(pi*, pi_{t+1}) - (1 - tau/eta) KL(pi*, pi_t) over t = 1 .. T), ``B``,
    ``tau``, ``eta``, and ``step_ratio`` (the largest KL(pi*, pi_{t+1}) / ((1 - tau/eta) KL(pi*, pi_t) +
    8 C^2 / eta^2) over t: the whole one-step bound's tightness, a diagnostic)."""
    P, log_ref, tau_np = _game(instances, xp)
    eta_np = tau_np * instances["eta_ratio"][:, 0]
    tau, eta = xp.asarray(tau_np), xp.asarray(eta_np)
    star = nash(P, log_ref, tau, xp)
    log_pi = log_ref
    kl_now = kl(star, log_pi, xp)
    B = _log_ratio(log_pi, log_ref, xp)
    drifts, nows, nexts = [], [], []
    for _ in range(int(params["T"])):
        log_pi = omd_step(P, log_pi, log_ref, tau, eta, xp)
        kl_next = kl(star, log_pi, xp)
        B = xp.maximum(B, _log_ratio(log_pi, log_ref, xp))
        drifts.append(kl_next - (1.0 - tau / eta) * kl_now)
        nows.append(kl_now)
        nexts.append(kl_next)
        kl_now = kl_next
    drift = xp.max(xp.stack(drifts, axis=1), axis=1)
    C = xp.maximum(B * tau, xp.ones_like(B))
    rhs = (1.0 - tau / eta)[:, None] * xp.stack(nows, axis=1) + (8.0 * C**2 / eta**2)[:, None]
    step_ratio = xp.max(xp.stack(nexts, axis=1) / rhs, axis=1)
    return {"drift": to_numpy(drift), "B": to_numpy(B), "tau": tau_np, "eta": eta_np,
            "step_ratio": to_numpy(step_ratio)}


def evaluate_decay(params: Mapping[str, Any], instances: Mapping[str, np.ndarray], xp: Any
                   ) -> dict[str, np.ndarray]:
    """Per game: ``kl_T`` = KL(pi*, pi_T) after the decaying schedule eta_t = tau (t + 2) / 2, ``B``, ``tau``."""
    P, log_ref, tau_np = _game(instances, xp)
    tau = xp.asarray(tau_np)
    star = nash(P, log_ref, tau, xp)
    log_pi = log_ref
    B = _log_ratio(log_pi, log_ref, xp)
    for t in range(1, int(params["T"])):
        log_pi = omd_step(P, log_pi, log_ref, tau, tau * (t + 2) / 2.0, xp)
        B = xp.maximum(B, _log_ratio(log_pi, log_ref, xp))
    return {"kl_T": to_numpy(kl(star, log_pi, xp)), "B": to_numpy(B), "tau": tau_np}


def averaged_gap(P: Any, log_ref: Any, tau: float, T: int, xp: Any) -> tuple[Any, Any, Any]:
    """(DualGap(pi_bar_T), B, D) for T OMD steps with eta = sqrt(T / D) from pi_1 = pi_ref (C = 1, checked)."""
    D = -xp.min(log_ref, axis=-1)
    eta = xp.sqrt(T / D)
    log_pi = log_ref
    total = xp.zeros_like(log_ref)
    B = xp.zeros_like(D)
    for _ in range(T):
        total = total + xp.exp(log_pi)
        B = xp.maximum(B, _log_ratio(log_pi, log_ref, xp))
        log_pi = omd_step(P, log_pi, log_ref, tau, eta, xp)
    if tau > 0 and float(xp.max(B)) * tau > 1.0:
        raise MeasurementError(f"B tau = {float(xp.max(B)) * tau:.3g} > 1 on some game: C = max(B tau, 1) is not 1, "
                               "so eta = sqrt(T / D) is not the Theorem 3 step size.")
    return duality_gap(P, xp.log(total / T), log_ref, tau, xp), B, D


def measure_averaged_gap(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                         ) -> dict[str, np.ndarray]:
    """``gap`` = DualGap(pi_bar_T) on n random games (one per replicate), at horizon T and regularisation tau."""
    g = draw_games(rng, n, int(params["K"]))
    P = xp.asarray(preference_matrix(g["scores"], g["antisym"], g["kappa"]))
    log_ref = xp.asarray(g["ref"] - np.log(np.sum(np.exp(g["ref"]), axis=1, keepdims=True)))
    gap, _, _ = averaged_gap(P, log_ref, float(params["tau"]), int(params["T"]), xp)
    if not math.isfinite(float(xp.max(gap))):
        raise MeasurementError("DualGap is not finite on some game.")
    return {"gap": to_numpy(gap)}
