"""Monte Carlo for *Principled Reinforcement Learning with Human Feedback from Pairwise or K-wise Comparisons*
(Zhu, Jordan, Jiao, ICML 2023).

Three models, every replicate a slice of one batched MLE solve (:mod:`solvers.choice_mle`) over the paper's
parameter set Theta_B = {<1, theta> = 0, ||theta|| <= B}:

* **Random pairwise design** (:func:`measure_btl_error`): each replicate draws theta* uniform on the unit sphere
  of the hyperplane <1, theta> = 0, then n comparisons of two actions with features uniform on the unit sphere
  of R^d (L = 1), labelled by the Bradley-Terry-Luce model. Measured: ||theta_MLE - theta*||_{Sigma_D} with the
  data covariance Sigma_D = (1/n) sum_i x_i x_i^T, x_i = phi(a_1^i) - phi(a_0^i).
* **K-wise rankings** (:func:`measure_kwise_error`): n queries of K items (features as above), each ranked by
  the Plackett-Luce model (Gumbel-max: sort theta*^T phi + Gumbel noise). Measured: the Sigma_D-error of the
  K-wise MLE (MLE_K) and of the MLE that splits each ranking into its K (K - 1) / 2 pairs (MLE_2), with the
  K-wise data covariance Sigma_D = 2 / (K (K - 1) n) sum_i sum_{j < k} (phi_j - phi_k)(phi_j - phi_k)^T.
* **The four-action bandit** (:func:`measure_counterexample`): phi(a1) = (1, 1, 0), phi(a2) = (1, 0, 0),
  phi(a3) = 0, phi(a4) = (0, 1, 0), theta* = (-1, 0.1, 0.9) (a4 optimal, reward 0.1); n - 1 comparisons of
  (a1, a2) and one of (a2, a3). The comparison counts are sufficient statistics, so they are drawn as binomials
  and passed to the solver as weights. Measured: the suboptimality of the greedy policy of the MLE and of the
  pessimistic policy argmax_a theta_hat^T phi(a) - f ||phi(a)||_{(Sigma_D + lam I)^{-1}} (reference v = phi(a3)
  = 0) with the paper's radius f = C sqrt((d + log(1/delta)) / (gamma^2 n) + lam B^2), gamma = 1 / (2 + e^{-LB}
  + e^{LB}), C = 1, lam = 1 / n; and the Theorem 3.2 bound 2 f ||phi(a*) - v||_{(Sigma_D + lam I)^{-1}}.

Random numbers are drawn with NumPy in fixed chunks of comparisons (``CHUNK``), so under common random numbers
replicate r at n comparisons is the prefix of replicate r at every larger n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import to_numpy
from solvers.choice_mle import fit_btl_mle, fit_choice_mle, ranking_events, ranking_pairs, sum_zero_basis

CHUNK = 50
"""Comparisons (or queries) drawn per chunk: every swept n is a multiple of it."""

ACTIONS = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
"""Features of a1..a4 in the four-action bandit."""
THETA_STAR = np.array([-1.0, 0.1, 0.9])
"""Its true parameter: rewards -0.9, -1, 0, 0.1; a4 is optimal, a3 (the reference, phi = 0) loses 0.1."""


def sum_zero_directions(rng: np.random.Generator, count: int, d: int) -> np.ndarray:
    """``count`` unit vectors uniform on the unit sphere of the hyperplane <1, theta> = 0 of R^d."""
    v = rng.standard_normal((count, d))
    v = v - v.mean(axis=1, keepdims=True)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def sphere_features(rng: np.random.Generator, shape: tuple[int, ...], d: int) -> np.ndarray:
    """Features uniform on the unit sphere of R^d (||phi|| = L = 1), array of shape ``shape + (d,)``."""
    v = rng.standard_normal((*shape, d))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def btl_comparisons(rng: np.random.Generator, theta_star: np.ndarray, n: int) -> np.ndarray:
    """n BTL comparisons per replicate: x = phi(winner) - phi(loser), shape (R, n, d), drawn in chunks."""
    R, d = theta_star.shape
    if n % CHUNK:
        raise ValueError(f"n must be a multiple of {CHUNK} (chunked draws), got {n}.")
    out = []
    for _ in range(n // CHUNK):
        phi = sphere_features(rng, (R, CHUNK, 2), d)
        x = phi[:, :, 1] - phi[:, :, 0]
        p1 = 1.0 / (1.0 + np.exp(-np.einsum("rnd,rd->rn", x, theta_star)))   # P(a_1 beats a_0)
        won = rng.random((R, CHUNK)) < p1
        out.append(np.where(won[:, :, None], x, -x))
    return np.concatenate(out, axis=1)


def sigma_norm(xp: Any, differences: Any, delta: Any) -> Any:
    """||delta||_{Sigma_D} with Sigma_D = mean_j x_j x_j^T over ``differences`` (R, m, d): sqrt(mean (x^T delta)^2)."""
    proj = xp.matmul(differences, delta[:, :, None])[:, :, 0]
    return xp.sqrt(xp.mean(proj * proj, axis=1))


def measure_btl_error(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                      ) -> dict[str, np.ndarray]:
    """``err`` = ||theta_MLE - theta*||_{Sigma_D} for ``n`` replicates of N comparisons (param ``n``) in R^d,
    the MLE constrained to Theta_B with B = ``B``."""
    N, d, B = int(params["n"]), int(params["d"]), float(params["B"])
    theta_star = sum_zero_directions(rng, n, d)
    x = xp.asarray(btl_comparisons(rng, theta_star, N))
    fit = fit_btl_mle(x, radius=B, basis=xp.asarray(sum_zero_basis(d)), xp=xp)
    err = sigma_norm(xp, x, fit.theta - xp.asarray(theta_star))
    return {"err": to_numpy(err), "converged": to_numpy(xp.astype(fit.converged, xp.float64))}


def pl_rankings(rng: np.random.Generator, theta_star: np.ndarray, n: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """n Plackett-Luce rankings of K items per replicate: features (R, n, K, d) and rankings (R, n, K), best
    first (Gumbel-max: sorting theta*^T phi + Gumbel noise in decreasing order samples the PL model)."""
    R, d = theta_star.shape
    if n % CHUNK:
        raise ValueError(f"n must be a multiple of {CHUNK} (chunked draws), got {n}.")
    feats, ranks = [], []
    for _ in range(n // CHUNK):
        phi = sphere_features(rng, (R, CHUNK, K), d)
        utility = np.einsum("rnkd,rd->rnk", phi, theta_star) + rng.gumbel(size=(R, CHUNK, K))
        feats.append(phi)
        ranks.append(np.argsort(-utility, axis=2))
    return np.concatenate(feats, axis=1), np.concatenate(ranks, axis=1)


def measure_kwise_error(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                        ) -> dict[str, np.ndarray]:
    """Per replicate: ``err_k`` and ``err_2``, the Sigma_D-errors of MLE_K and of the pairwise-split MLE_2 from
    N = ``n`` rankings of K items, and ``gap_sq`` = err_2^2 - err_k^2 (paired: the same rankings)."""
    N, d, K, B = int(params["n"]), int(params["d"]), int(params["K"]), float(params["B"])
    theta_star = sum_zero_directions(rng, n, d)
    features, rankings = pl_rankings(rng, theta_star, N, K)
    features, rankings = xp.asarray(features), xp.asarray(rankings)
    basis = xp.asarray(sum_zero_basis(d))
    rivals, mask = ranking_events(features, rankings, xp=xp)
    pairs = ranking_pairs(features, rankings, xp=xp)
    fit_k = fit_choice_mle(rivals, mask=mask, radius=B, basis=basis, xp=xp)
    fit_2 = fit_btl_mle(pairs, radius=B, basis=basis, xp=xp)
    ts = xp.asarray(theta_star)
    err_k = sigma_norm(xp, pairs, fit_k.theta - ts)   # the pairs' mean outer product is the K-wise Sigma_D
    err_2 = sigma_norm(xp, pairs, fit_2.theta - ts)
    conv = xp.astype(fit_k.converged & fit_2.converged, xp.float64)
    return {"err_k": to_numpy(err_k), "err_2": to_numpy(err_2), "gap_sq": to_numpy(err_2**2 - err_k**2),
            "converged": to_numpy(conv)}


def pessimism_radius(n: int, d: int, delta: float, lam: float, L: float, B: float, C: float = 1.0) -> float:
    """The confidence radius f = C sqrt((d + log(1/delta)) / (gamma^2 n) + lam B^2), gamma = 1 / (2 + e^{-LB} +
    e^{LB}) (Lemma 3.1 / Theorem 3.2 of the paper; C = 1 here)."""
    gamma = 1.0 / (2.0 + math.exp(-L * B) + math.exp(L * B))
    return C * math.sqrt((d + math.log(1.0 / delta)) / (gamma**2 * n) + lam * B**2)


def counterexample_counts(rng: np.random.Generator, replicates: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sufficient statistics of the data: k = wins of a1 over a2 in n - 1 comparisons, y = 1 if a2 beat a3."""
    r = ACTIONS @ THETA_STAR
    p12 = 1.0 / (1.0 + math.exp(-(r[0] - r[1])))
    p23 = 1.0 / (1.0 + math.exp(-(r[1] - r[2])))
    k = rng.binomial(n - 1, p12, size=replicates).astype(float)
    y = (rng.random(replicates) < p23).astype(float)
    return k, y


def policy_suboptimality(xp: Any, scores: Any) -> Any:
    """Suboptimality of argmax_a scores[:, a] (ties to the lowest index) under theta*."""
    r = xp.asarray(ACTIONS @ THETA_STAR)
    best = xp.argmax(scores, axis=1)
    return xp.max(r) - xp.take(r, best, axis=0)


def measure_counterexample(params: Mapping[str, Any], rng: np.random.Generator, n: int, xp: Any
                           ) -> dict[str, np.ndarray]:
    """Per replicate, with N = ``n`` comparisons: ``subopt_mle`` (greedy policy of the MLE), ``subopt_pe``
    (the pessimistic policy) and ``pe_bound`` (2 f ||phi(a4)||_{(Sigma_D + lam I)^{-1}}, Theorem 3.2's bound
    with C = 1)."""
    N, B, delta = int(params["n"]), float(params["B"]), float(params["delta"])
    k, y = counterexample_counts(rng, n, N)
    rows = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])  # winner - loser
    x = xp.asarray(np.broadcast_to(rows, (n, 4, 3)).copy())
    w = xp.asarray(np.stack([k, (N - 1) - k, y, 1.0 - y], axis=1))
    fit = fit_btl_mle(x, w, radius=B, basis=xp.asarray(sum_zero_basis(3)), xp=xp)
    phi = xp.asarray(ACTIONS)
    estimate = xp.matmul(fit.theta, xp.permute_dims(phi, (1, 0)))                  # (R, 4)
    lam = 1.0 / N
    L = float(np.max(np.linalg.norm(ACTIONS, axis=1)))
    f = pessimism_radius(N, 3, delta, lam, L, B)
    # Sigma_D + lam I = diag(1/N, (N-1)/N, 0) + lam I for every replicate (the design is fixed)
    m_inv = 1.0 / (np.array([1.0 / N, (N - 1.0) / N, 0.0]) + lam)
    width = xp.asarray(np.sqrt(np.sum(ACTIONS**2 * m_inv, axis=1)))                # ||phi(a)||_{M^-1}
    pessimistic = estimate - f * width[None, :]
    bound = 2.0 * f * float(np.sqrt(np.sum(ACTIONS[3] ** 2 * m_inv)))
    return {"subopt_mle": to_numpy(policy_suboptimality(xp, estimate)),
            "subopt_pe": to_numpy(policy_suboptimality(xp, pessimistic)),
            "pe_bound": np.full(n, bound),
            "converged": to_numpy(xp.astype(fit.converged, xp.float64))}
