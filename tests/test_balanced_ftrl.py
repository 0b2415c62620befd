"""The extensive-form toolkit and the Balanced FTRL simulation against independent references: the known Kuhn
value, sequence-form LPs (scipy HiGHS), brute force over pure strategies, slow dictionary tree walks, and the FTRL
objective itself; bad inputs; array-api-strict."""

from __future__ import annotations

from fractions import Fraction

import array_api_strict
import numpy as np
import pytest

from boundlab import UsageError
from simulations import balanced_ftrl as bf
from solvers import extensive_form as ef


def random_policy(rng: np.random.Generator, t: ef.Treeplex, n: int, concentration: float = 0.5) -> np.ndarray:
    pol = np.zeros((n, t.n_infosets, t.m))
    for i, k in enumerate(t.n_actions):
        pol[:, i, :k] = rng.dirichlet(np.full(k, concentration), size=n)
    return pol


def profiles(game: ef.Game, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p0, p1 = (random_policy(rng, t, n) for t in game.players)
    x = ef.realisation(p0, game.players[0], np)
    y = ef.realisation(p1, game.players[1], np)
    return p0, p1, x, y


def test_kuhn_structure_and_value() -> None:
    g = ef.kuhn()
    assert [t.n_infosets for t in g.players] == [6, 6]
    assert [t.n_sequences for t in g.players] == [13, 13]
    v0, x, y = ef.sequence_form_lp(g)
    assert abs(v0 - float(Fraction(-1, 18))) < 1e-9
    gap, br0, br1 = ef.exploitability(x[None], y[None], g, np)
    assert abs(gap[0]) < 1e-9 and abs(br0[0] - v0) < 1e-9 and abs(br1[0] - v0) < 1e-9


def test_leduc_structure_and_lp_equilibrium() -> None:
    g = ef.leduc()
    # cards distinguished by suit: 6 * 3 first-round and 5 * 30 * 3 second-round decision points per player
    assert [t.n_infosets for t in g.players] == [468, 468]
    assert g.total_actions == (1092, 1092)
    v0, x, y = ef.sequence_form_lp(g)
    gap, br0, br1 = ef.exploitability(x[None], y[None], g, np)
    assert abs(gap[0]) < 1e-7
    assert abs(ef.values(x[None], y[None], g, np)[0] - v0) < 1e-7
    assert -0.2 < v0 < 0  # the second mover's advantage, as in Kuhn


def test_realisation_plans_are_consistent() -> None:
    g = ef.leduc()
    p0, _, x, _ = profiles(g, 4, 1)
    t = g.players[0]
    for i in range(t.n_infosets):  # sum of children = parent, at every infoset
        kids = x[:, t.slot(i, 0):t.slot(i, 0) + t.n_actions[i]].sum(axis=1)
        np.testing.assert_allclose(kids, x[:, t.parent[i]], atol=1e-12)
    back = ef.behavioural(x, t, np)
    reach = x[:, t.parent]
    np.testing.assert_allclose(back[reach > 1e-12], p0[reach > 1e-12], atol=1e-9)


def test_best_response_equals_brute_force_on_kuhn() -> None:
    g = ef.kuhn()
    _, _, x, y = profiles(g, 64, 2)
    pure0, pure1 = ef.pure_plans(g.players[0]), ef.pure_plans(g.players[1])
    assert pure0.shape[0] == 2 ** 6
    brute0 = np.max(y @ g.A.T @ pure0.T, axis=1)
    brute1 = np.min(x @ g.A @ pure1.T, axis=1)
    _, br0, br1 = ef.exploitability(x, y, g, np)
    np.testing.assert_allclose(br0, brute0, atol=1e-12)
    np.testing.assert_allclose(br1, brute1, atol=1e-12)


@pytest.mark.parametrize("name", ["kuhn", "leduc", "lopsided"])
def test_best_response_and_value_equal_slow_tree_walk(name: str) -> None:
    g = ef.lopsided(3, 4, seed=3) if name == "lopsided" else getattr(ef, name)()
    n = 3 if name == "leduc" else 8
    p0, p1, x, y = profiles(g, n, 4)
    _, br0, br1 = ef.exploitability(x, y, g, np)
    val = ef.values(x, y, g, np)
    for b in range(n):
        d0, d1 = ef.as_dict(p0[b], g.players[0]), ef.as_dict(p1[b], g.players[1])
        assert abs(br0[b] - ef.slow_best_response(g, 0, d1)) < 1e-10
        assert abs(br1[b] - ef.slow_best_response(g, 1, d0)) < 1e-10
        assert abs(val[b] - ef.slow_game_value(g, (d0, d1))) < 1e-10


def test_ftrl_policy_minimises_the_regularised_objective() -> None:
    g = ef.kuhn()
    t = g.players[0]
    rng = np.random.default_rng(5)
    L = np.concatenate([np.zeros((3, 1)), rng.uniform(0, 5, size=(3, t.n_slots - 1))], axis=1)
    ref, p = ef.balanced(t)
    eta = 0.7 / p
    log_ref = np.where(t.legal, np.log(np.where(t.legal, ref, 1.0)), -np.inf)
    pol = ef.ftrl_policy(L, t, eta, log_ref, np)

    def objective(policy: np.ndarray, b: int) -> np.ndarray:
        xs = ef.realisation(policy, t, np, check=False)
        reach = xs[:, t.parent]
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(policy > 0, policy * np.log(policy / np.where(t.legal, ref, 1.0)), 0.0).sum(axis=2)
        return xs @ L[b] + (reach * kl / eta).sum(axis=1)

    for b in range(3):
        best = objective(pol[b:b + 1], b)[0]
        others = random_policy(rng, t, 300, concentration=1.0)
        near = np.clip(pol[b] + 0.02 * rng.standard_normal((300, t.n_infosets, t.m)), 1e-9, None) * t.legal
        near /= near.sum(axis=2, keepdims=True)
        assert best <= objective(others, b).min() + 1e-12
        assert best <= objective(near, b).min() + 1e-12


def test_balanced_policy_and_transitions_on_kuhn() -> None:
    t = ef.kuhn().players[0]        # player 0: root infosets (check/bet), then "x:cb" (fold/call) after check
    pol, p = ef.balanced(t)
    for i, key in enumerate(t.keys):
        if key.endswith(":"):       # A(root, check) = 1 + 2, A(root, bet) = 1, A(root) = 4
            np.testing.assert_allclose(pol[i, :2], [3 / 4, 1 / 4])
            assert p[i] == 1.0
        else:                       # A(J) = 2 of A(parent, check) = 3
            np.testing.assert_allclose(pol[i, :2], [1 / 2, 1 / 2])
            assert abs(p[i] - 2 / 3) < 1e-15


def test_self_play_exploitability_shrinks_and_matches_strict() -> None:
    params = {"game": "kuhn", "T": 60, "c": 10.0}
    a = bf.measure_exploitability(params, np.random.default_rng(6), 4, np)
    b = bf.measure_exploitability(params, np.random.default_rng(6), 4, array_api_strict)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-14)
    g = ef.kuhn()
    uniform = ef.realisation(np.asarray(ef.uniform_policy(g.players[0]))[None], g.players[0], np)
    start = ef.exploitability(uniform, uniform, g, np)[0][0]
    longer = bf.measure_exploitability({**params, "T": 600}, np.random.default_rng(6), 8, np)
    assert np.mean(longer["gap_balanced"]) < 0.8 * start
    assert np.all(longer["gap_balanced"] >= -1e-12)


def test_exploitability_on_array_api_strict() -> None:
    g = ef.leduc()
    _, _, x, y = profiles(g, 3, 7)
    a = ef.exploitability(x, y, g, np)[0]
    b = ef.exploitability(array_api_strict.asarray(x), array_api_strict.asarray(y), g, array_api_strict)[0]
    np.testing.assert_allclose(a, np.asarray(b), atol=1e-12)


def test_bad_inputs() -> None:
    g = ef.kuhn()
    t = g.players[0]
    p0, _, x, y = profiles(g, 2, 8)
    with pytest.raises(UsageError, match="x must have shape"):
        ef.exploitability(x[:, :5], y, g, np)
    with pytest.raises(UsageError, match="same batch size"):
        ef.exploitability(x[:1], y, g, np)
    bad = x.copy()
    bad[0, 3] = np.nan
    with pytest.raises(UsageError, match="finite"):
        ef.exploitability(bad, y, g, np)
    with pytest.raises(UsageError, match="sum to 1"):
        ef.realisation(p0 * 0.5, t, np)
    with pytest.raises(UsageError, match="shape"):
        ef.realisation(p0[:, :3], t, np)
    neg = p0.copy()
    neg[0, 0, :2] = [1.5, -0.5]
    with pytest.raises(UsageError, match="nonnegative"):
        ef.realisation(neg, t, np)
    with pytest.raises(UsageError, match="chain and leaves"):
        ef.lopsided(0, 3)
    with pytest.raises(UsageError, match="player must be 0 or 1"):
        ef.slow_best_response(g, 2, {})
    with pytest.raises(UsageError, match="T and count"):
        bf.self_play(g, 0, "balanced", 1.0, np.random.default_rng(0), 2, np)
    with pytest.raises(UsageError, match="c .* must be > 0"):
        bf.self_play(g, 5, "balanced", -1.0, np.random.default_rng(0), 2, np)
    with pytest.raises(UsageError, match="weighting must be"):
        bf.rates(t, "cubic", 0.1, 0.05)
    with pytest.raises(UsageError, match="eta must be > 0"):
        bf.rates(t, "balanced", 0.0, 0.05)
    with pytest.raises(UsageError, match="game must be"):
        bf.game_of({"game": "chess"})


def test_perfect_recall_is_checked() -> None:
    def expand(state: str) -> tuple:
        if state == "":
            return ("player", 0, "a", [("l", "l"), ("r", "r")])
        if state in ("l", "r"):            # player 0 forgets its own move: same key after either action
            return ("player", 0, "forgot", [("x", state + "x"), ("y", state + "y")])
        return ("terminal", 1.0)
    with pytest.raises(UsageError, match="perfect recall"):
        ef.build_game("amnesia", "", expand)
