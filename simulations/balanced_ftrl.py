"""Self-play with trajectory feedback for *Adapting to game trees in zero-sum imperfect information games*
(Fiegel, Ménard, Kozuno, Munos, Perchet, Valko, ICML 2023): Balanced FTRL against uniformly weighted FTRL.

One replicate is one self-play run of T episodes on a fixed game (``solvers.extensive_form``). In episode t both
players' current policies are played once: a leaf is drawn with probability chance(z) x(z) y(z), which is the
distribution of a sampled trajectory. Each player sees its own loss in [0, 1] (the payoff rescaled by the largest
|payoff| M: (M - u) / 2M for player 0, (M + u) / 2M for player 1) on its last sequence of the trajectory, and forms
the implicit-exploration estimate  l / (x_t(s) + gamma(s))  on that sequence only. Both then play FTRL on the
cumulative estimates with a dilated KL regulariser (``solvers.extensive_form.ftrl_policy``):

* balanced:  eta(I) = eta / p*(I), gamma(I) = gamma / p*(I), reference policy pi*(a|I) = A(I, a) / A(I), where
  p*(I) is the balanced transition weight (the share of I's subtree in its parent action's subtree) - as in the
  authors' public code (agents/balanced_ftrl.py, lr_pow_bal = ix_pow_bal = -1);
* uniform:   eta(I) = eta, gamma(I) = gamma, uniform reference policy (the plain dilated entropy).

Both use eta = c / sqrt(H A_X T) for player 0 (B_Y for player 1) and gamma = eta / 2, with the horizon T known in
advance. Measured: the exploitability gap (NashConv) of the average realisation plans after T episodes, exactly
(best responses by backward induction), in units of the payoff and normalised by 2M (loss units).

All replicates advance together: every episode is a handful of batched array operations (no loop over replicates).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from boundlab import UsageError, to_numpy
from solvers import extensive_form as ef

WEIGHTINGS = ("balanced", "uniform")


def game_of(params: Mapping[str, Any]) -> ef.Game:
    """The game of a sweep point: ``game`` = "kuhn", "leduc" or "lopsided" (with ``chain``, ``leaves``)."""
    name = params["game"]
    if name == "kuhn":
        return ef.kuhn()
    if name == "leduc":
        return ef.leduc()
    if name == "lopsided":
        return _lopsided(int(params["chain"]), int(params["leaves"]))
    raise UsageError(f"game must be 'kuhn', 'leduc' or 'lopsided', got {name!r}")


_LOPSIDED: dict[tuple[int, int], ef.Game] = {}


def _lopsided(chain: int, leaves: int) -> ef.Game:
    if (chain, leaves) not in _LOPSIDED:
        _LOPSIDED[(chain, leaves)] = ef.lopsided(chain, leaves, seed=0)
    return _LOPSIDED[(chain, leaves)]


def rates(t: ef.Treeplex, weighting: str, eta: float, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eta per infoset, gamma per slot, log reference policy (X, m)) of one weighting."""
    if weighting not in WEIGHTINGS:
        raise UsageError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if not (eta > 0 and np.isfinite(eta)) or not (gamma >= 0 and np.isfinite(gamma)):
        raise UsageError(f"eta must be > 0 and gamma >= 0 (finite), got eta={eta}, gamma={gamma}")
    if weighting == "balanced":
        ref, p = ef.balanced(t)
    else:
        ref, p = ef.uniform_policy(t), np.ones(t.n_infosets)
    eta_i = eta / p
    gamma_slot = np.concatenate([[0.0], np.repeat(gamma / p, t.m)])
    with np.errstate(divide="ignore"):
        log_ref = np.where(t.legal, np.log(np.where(t.legal, ref, 1.0)), -np.inf)
    return eta_i, gamma_slot, log_ref


def self_play(game: ef.Game, T: int, weighting: str, c: float, rng: np.random.Generator, count: int, xp: Any
              ) -> tuple[Any, Any]:
    """``count`` independent self-play runs of T episodes; returns the average realisation plans (x_bar, y_bar)."""
    if T < 1 or count < 1:
        raise UsageError(f"T and count must be >= 1, got T={T}, count={count}")
    if not (c > 0 and np.isfinite(c)):
        raise UsageError(f"c (the learning-rate constant) must be > 0, got {c}")
    trees = game.players
    H = game.horizon
    setup = []
    for p, t in enumerate(trees):
        eta = c / np.sqrt(H * game.total_actions[p] * T)
        eta_i, gamma_slot, log_ref = rates(t, weighting, eta, eta / 2)
        setup.append((xp.asarray(eta_i), xp.asarray(gamma_slot), xp.asarray(log_ref)))
    M = game.max_payoff
    seq = [xp.asarray(game.leaf_slots[:, p]) for p in range(2)]
    chance = xp.asarray(game.leaf_chance)
    payoff = xp.asarray(game.leaf_payoff)
    slots = [xp.asarray(np.arange(t.n_slots)) for t in trees]
    L = [xp.zeros((count, t.n_slots), dtype=xp.float64) for t in trees]
    total = [xp.zeros((count, t.n_slots), dtype=xp.float64) for t in trees]
    uniforms = rng.uniform(size=(T, count))
    for step in range(T):
        plans = []
        for p, t in enumerate(trees):
            eta_i, _, log_ref = setup[p]
            pol = ef.ftrl_policy(L[p], t, eta_i, log_ref, xp)
            plans.append(ef.realisation(pol, t, xp, check=False))
        prob = chance[None, :] * xp.take(plans[0], seq[0], axis=1) * xp.take(plans[1], seq[1], axis=1)
        cum = xp.cumulative_sum(prob, axis=1)
        u = xp.asarray(uniforms[step])[:, None] * cum[:, -1:]
        leaf = xp.sum(xp.astype(cum < u, xp.int64), axis=1)
        leaf = xp.minimum(leaf, xp.asarray(prob.shape[1] - 1))
        u_z = xp.take(payoff, leaf)
        losses = ((M - u_z) / (2 * M), (M + u_z) / (2 * M))
        for p in range(2):
            s = xp.take(seq[p], leaf)
            hit = xp.astype(slots[p][None, :] == s[:, None], xp.float64)
            reach = xp.sum(plans[p] * hit, axis=1)
            est = losses[p] / (reach + xp.take(setup[p][1], s))
            L[p] = L[p] + hit * est[:, None]
            total[p] = total[p] + plans[p]
    return total[0] / T, total[1] / T


def measure_exploitability(params: Mapping[str, Any], rng: np.random.Generator, count: int, xp: Any
                           ) -> dict[str, np.ndarray]:
    """Per replicate, for each weighting run on its own random stream: the exploitability gap of the average
    profile after T episodes (``gap_balanced``, ``gap_uniform``, payoff units; ``ngap_*`` divided by 2M) and the
    ratio ``ratio`` = gap_balanced / gap_uniform of the pair. ``weightings``: "both" (default) or one of them."""
    game = game_of(params)
    T, c = int(params["T"]), float(params["c"])
    out: dict[str, np.ndarray] = {}
    which = params.get("weightings", "both")
    if which not in ("both",) + WEIGHTINGS:
        raise UsageError(f"weightings must be 'both', 'balanced' or 'uniform', got {which!r}")
    for weighting in WEIGHTINGS if which == "both" else (which,):
        x, y = self_play(game, T, weighting, c, rng, count, xp)
        gap = to_numpy(ef.exploitability(x, y, game, xp, check=False)[0])
        out[f"gap_{weighting}"] = gap
        out[f"ngap_{weighting}"] = gap / (2 * game.max_payoff)
    if "gap_balanced" in out and "gap_uniform" in out:
        out["ratio"] = out["gap_balanced"] / out["gap_uniform"]
    return out
