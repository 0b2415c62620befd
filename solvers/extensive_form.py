"""Two-player zero-sum extensive-form games with chance, as arrays: Kuhn poker, Leduc hold'em and small synthetic
trees, the sequence form, exact best responses and FTRL with weighted dilated entropy, batched over profiles.

Layout (per player p). Information sets are numbered in order of their depth (the number of the player's own
earlier decisions); infoset i owns the ``m`` sequence *slots* 1 + i m .. 1 + i m + m - 1 (m = the most actions any
infoset has; slots of missing actions are padding, always 0 in a realisation plan), slot 0 is the empty sequence.
The slots of the infosets of one depth are therefore contiguous, and every array operation works on a whole depth
at once. ``parent[i]`` is the slot of the player's last action before infoset i.

The payoff is to player 0 (the maximiser); player 1 minimises. ``A`` is the dense sequence-form payoff matrix:
the value of realisation plans x, y is x^T A y. All batched functions take a leading batch axis and an array
namespace ``xp`` (NumPy, CuPy, array-api-strict): they use only take, matmul, concat, reductions and
elementwise operations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

import numpy as np

from boundlab import UsageError

# A game is given by a root state and a function ``expand(state)`` returning one of
#   ("terminal", payoff_to_player_0)
#   ("chance", [(probability, child_state), ...])
#   ("player", p, infoset_key, [(action_label, child_state), ...])
Expand = Callable[[Any], tuple]


@dataclass(frozen=True, eq=False)
class Treeplex:
    """One player's decision structure in slot layout (see the module docstring)."""

    keys: tuple[str, ...]            # infoset keys, in slot order
    n_actions: np.ndarray            # (X,) number of legal actions per infoset
    parent: np.ndarray               # (X,) parent slot of each infoset
    depth: np.ndarray                # (X,) own depth (0: parent is the empty sequence)
    m: int                           # slots per infoset
    labels: tuple[tuple[str, ...], ...]

    @property
    def n_infosets(self) -> int:
        return len(self.keys)

    @property
    def n_slots(self) -> int:
        return 1 + self.n_infosets * self.m

    @property
    def n_sequences(self) -> int:
        """Real sequences: the empty one plus one per (infoset, legal action)."""
        return 1 + int(self.n_actions.sum())

    @property
    def legal(self) -> np.ndarray:
        """(X, m) bool: which slots are real actions."""
        return np.arange(self.m)[None, :] < self.n_actions[:, None]

    @property
    def levels(self) -> tuple[tuple[int, int], ...]:
        """(first infoset, end infoset) of each depth, shallowest first."""
        ends = np.searchsorted(self.depth, np.arange(int(self.depth.max()) + 1), side="right")
        starts = np.concatenate([[0], ends[:-1]])
        return tuple((int(a), int(b)) for a, b in zip(starts, ends, strict=True))

    def slot(self, infoset: int, action: int) -> int:
        return 1 + infoset * self.m + action


@dataclass(frozen=True, eq=False)
class Game:
    """A two-player zero-sum game with chance in sequence form."""

    name: str
    players: tuple[Treeplex, Treeplex]
    leaf_slots: np.ndarray           # (Z, 2) each player's last slot on the way to the leaf
    leaf_chance: np.ndarray          # (Z,) chance probability of the leaf
    leaf_payoff: np.ndarray          # (Z,) payoff to player 0
    A: np.ndarray                    # (n_slots_0, n_slots_1)
    max_payoff: float                # max |payoff|
    horizon: int                     # H: the most decisions (both players) on a path
    expand: Expand = field(repr=False, compare=False)
    root: Any = field(repr=False, compare=False)

    @property
    def total_actions(self) -> tuple[int, int]:
        """(A_X, B_Y): the number of (infoset, action) pairs of each player."""
        return tuple(int(t.n_actions.sum()) for t in self.players)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------- building

def build_game(name: str, root: Any, expand: Expand) -> Game:
    """Walk the tree once and lay it out as arrays (checks perfect recall)."""
    info: list[dict[str, tuple[int, int, int, tuple[str, ...]]]] = [{}, {}]  # key -> (order, parent, depth, labels)
    raw_leaves: list[tuple[tuple[str, int] | None, tuple[str, int] | None, float, float]] = []
    horizon = 0

    def walk(state: Any, prob: float, last: list[tuple[str, int] | None], depth: list[int], length: int) -> None:
        nonlocal horizon
        node = expand(state)
        if node[0] == "terminal":
            raw_leaves.append((last[0], last[1], prob, float(node[1])))
            horizon = max(horizon, length)
            return
        if node[0] == "chance":
            for q, child in node[1]:
                if q > 0:
                    walk(child, prob * q, last, depth, length)
            return
        _, p, key, moves = node
        labels = tuple(str(a) for a, _ in moves)
        parent = last[p]
        record = (len(info[p]), parent, depth[p], labels)
        seen = info[p].setdefault(key, record)
        if seen[1:] != record[1:]:
            raise UsageError(f"game {name!r}: infoset {key!r} of player {p} breaks perfect recall "
                             f"(parent, depth or actions differ between its histories)")
        for a, (_, child) in enumerate(moves):
            nl = list(last)
            nl[p] = (key, a)
            nd = list(depth)
            nd[p] += 1
            walk(child, prob, nl, nd, length + 1)

    walk(root, 1.0, [None, None], [0, 0], 0)
    players = []
    index: list[dict[str, int]] = []
    for p in range(2):
        items = sorted(info[p].items(), key=lambda kv: (kv[1][2], kv[1][0]))
        order = {k: i for i, (k, _) in enumerate(items)}
        m = max(len(v[3]) for _, v in items)

        def slot_of(ref: tuple[str, int] | None, order: dict[str, int] = order, m: int = m) -> int:
            return 0 if ref is None else 1 + order[ref[0]] * m + ref[1]

        players.append(Treeplex(
            keys=tuple(k for k, _ in items),
            n_actions=np.array([len(v[3]) for _, v in items]),
            parent=np.array([slot_of(v[1]) for _, v in items]),
            depth=np.array([v[2] for _, v in items]),
            m=m,
            labels=tuple(v[3] for _, v in items),
        ))
        index.append(order)

    def slot(p: int, ref: tuple[str, int] | None) -> int:
        return 0 if ref is None else players[p].slot(index[p][ref[0]], ref[1])

    leaf_slots = np.array([[slot(0, a), slot(1, b)] for a, b, _, _ in raw_leaves], dtype=np.int64)
    chance = np.array([c for _, _, c, _ in raw_leaves])
    payoff = np.array([u for _, _, _, u in raw_leaves])
    A = np.zeros((players[0].n_slots, players[1].n_slots))
    np.add.at(A, (leaf_slots[:, 0], leaf_slots[:, 1]), chance * payoff)
    return Game(name, (players[0], players[1]), leaf_slots, chance, payoff, A, float(np.max(np.abs(payoff))),
                horizon, expand, root)


# ------------------------------------------------------------------------------------------------------- games

_KUHN_CARDS = "JQK"


def _kuhn_expand(state: tuple) -> tuple:
    cards, history = state
    if len(cards) < 2:
        dealt = [c for c in range(3) if c not in cards]
        return ("chance", [(1.0 / len(dealt), (cards + (c,), history)) for c in dealt])
    p = len(history) % 2
    if history == "cc":
        return ("terminal", 1.0 if cards[0] > cards[1] else -1.0)
    if history == "bb" or history == "cbb":
        return ("terminal", 2.0 if cards[0] > cards[1] else -2.0)
    if history == "bc":      # player 1 folds to a bet
        return ("terminal", 1.0)
    if history == "cbc":     # player 0 folds to a bet
        return ("terminal", -1.0)
    key = f"{_KUHN_CARDS[cards[p]]}:{history}"
    return ("player", p, key, [("c", (cards, history + "c")), ("b", (cards, history + "b"))])


@cache
def kuhn() -> Game:
    """Kuhn poker: 3 cards, ante 1, one bet of 1; 'c' is check/call-or-fold ('c' facing a bet folds), 'b'
    bet/call. 6 infosets and 13 sequences per player; the value for player 0 is -1/18."""
    return build_game("kuhn", ((), ""), _kuhn_expand)


_LEDUC_DECK = ("J1", "J2", "Q1", "Q2", "K1", "K2")


def _leduc_round(history: str) -> tuple[bool, int, int, bool]:
    """For one round's betting string: (round over, raises, next player offset, last action was a fold)."""
    raises = history.count("r")
    if history.endswith("f"):
        return True, raises, 0, True
    done = len(history) >= 2 and history.endswith("c")
    return done, raises, len(history) % 2, False


def _leduc_expand(state: tuple) -> tuple:
    cards, rounds = state                     # cards: (private 0, private 1, public) dealt so far
    if len(cards) < 2 or (len(cards) == 2 and len(rounds) == 2 and not rounds[0].endswith("f")):
        left = [c for c in range(6) if c not in cards]
        return ("chance", [(1.0 / len(left), (cards + (c,), rounds)) for c in left])
    # pot contributions
    contrib = [1.0, 1.0]
    player = 0
    for r, hist in enumerate(rounds):
        bet = 2.0 if r == 0 else 4.0
        owed = 0.0
        player = 0
        for a in hist:
            if a == "r":
                contrib[player] += owed + bet
                owed = bet
            elif a == "c":
                contrib[player] += owed
                owed = 0.0
            elif a == "f":
                winner = 1 - player
                return ("terminal", contrib[1] if winner == 0 else -contrib[0])
            player = 1 - player
    current = rounds[-1]
    done, raises, offset, _ = _leduc_round(current)
    if done:
        if len(rounds) == 1:
            return _leduc_expand((cards, rounds + ("",)))
        ranks = [_LEDUC_DECK[c][0] for c in cards]
        order = "JQK"
        strength = [(ranks[i] == ranks[2], order.index(ranks[i])) for i in range(2)]
        if strength[0] == strength[1]:
            return ("terminal", 0.0)
        return ("terminal", contrib[1] if strength[0] > strength[1] else -contrib[0])
    p = offset
    public = _LEDUC_DECK[cards[2]] if len(rounds) == 2 else "-"
    key = f"{_LEDUC_DECK[cards[p]]}|{public}|{'/'.join(rounds)}"
    facing = current.endswith("r")
    moves = []
    if facing:
        moves.append(("f", (cards, rounds[:-1] + (current + "f",))))
    moves.append(("c", (cards, rounds[:-1] + (current + "c",))))
    if raises < 2:
        moves.append(("r", (cards, rounds[:-1] + (current + "r",))))
    return ("player", p, key, moves)


@cache
def leduc() -> Game:
    """Leduc hold'em: 6 cards (J, Q, K, two suits each), ante 1, two rounds with at most two raises of 2 then 4,
    one public card; a pair with the public card wins, else the higher card. Cards are distinguished by suit
    (as in OpenSpiel): 468 infosets and A_X = 1092 actions per player."""
    return build_game("leduc", ((), ("",)), _leduc_expand)


def lopsided(chain: int, leaves: int, seed: int = 0) -> Game:
    """A synthetic lopsided game: player 1 picks one of 2 hidden actions, then player 0 picks at its root among
    ``leaves`` shallow actions (each ending the game) and one action that starts a chain of ``chain`` binary
    infosets; along the chain chance reveals one of two signals that player 0 observes, and one chain action
    stops while the other continues. Payoffs are uniform in [-1, 1], fixed by ``seed``."""
    if chain < 1 or leaves < 1:
        raise UsageError(f"lopsided: chain and leaves must be >= 1, got chain={chain}, leaves={leaves}")
    rng = np.random.default_rng(seed)
    table: dict[str, float] = {}

    def pay(key: str) -> float:
        if key not in table:
            table[key] = float(rng.uniform(-1.0, 1.0))
        return table[key]

    def expand(state: tuple) -> tuple:
        kind, path = state
        if kind == "p1":
            return ("player", 1, "o", [(str(b), ("root", path + str(b))) for b in range(2)])
        hidden, rest = path[0], path[1:]
        if kind == "root":
            moves = [(f"s{i}", ("leaf", path + f"s{i}")) for i in range(leaves)]
            moves.append(("deep", ("signal", path + "d")))
            return ("player", 0, "root", moves)
        if kind == "signal":
            return ("chance", [(0.5, ("chain", path + "0")), (0.5, ("chain", path + "1"))])
        if kind == "chain":
            level = rest.count("d")
            key = "chain:" + rest
            if level >= chain:
                return ("player", 0, key, [("x", ("leaf", path + "x")), ("y", ("leaf", path + "y"))])
            return ("player", 0, key, [("stop", ("leaf", path + "t")), ("go", ("signal", path + "d"))])
        return ("terminal", pay(hidden + rest))

    return build_game(f"lopsided-{chain}-{leaves}-{seed}", ("p1", ""), expand)


# -------------------------------------------------------------------------------------------- validation helpers

def _check_player(player: int) -> None:
    if player not in (0, 1):
        raise UsageError(f"player must be 0 or 1, got {player!r}")


def _check_batch(name: str, arr: Any, n: int, xp: Any) -> None:
    if len(arr.shape) != 2 or arr.shape[1] != n:
        raise UsageError(f"{name} must have shape (batch, {n}), got {tuple(arr.shape)}")
    if not bool(xp.all(xp.isfinite(arr))):
        raise UsageError(f"{name} must be finite (no NaN or inf)")


def _check_policy(name: str, policy: Any, t: Treeplex, xp: Any) -> None:
    if len(policy.shape) != 3 or tuple(policy.shape[1:]) != (t.n_infosets, t.m):
        raise UsageError(f"{name} must have shape (batch, {t.n_infosets}, {t.m}), got {tuple(policy.shape)}")
    if not bool(xp.all(xp.isfinite(policy))) or bool(xp.any(policy < 0)):
        raise UsageError(f"{name} must be finite and nonnegative")
    legal = xp.asarray(t.legal, dtype=policy.dtype)
    if bool(xp.any(policy * (1 - legal) != 0)):
        raise UsageError(f"{name} puts probability on illegal (padding) actions")
    if bool(xp.any(xp.abs(xp.sum(policy, axis=2) - 1) > 1e-9)):
        raise UsageError(f"{name}: each infoset's action probabilities must sum to 1")


# ------------------------------------------------------------------------------------------ batched array code

def realisation(policy: Any, t: Treeplex, xp: Any, check: bool = True) -> Any:
    """Behavioural policy (B, X, m) -> sequence-form realisation plan (B, n_slots), top-down by depth."""
    if check:
        _check_policy("policy", policy, t, xp)
    B = policy.shape[0]
    x = xp.ones((B, 1), dtype=policy.dtype)
    for a, b in t.levels:
        reach = xp.take(x, xp.asarray(t.parent[a:b]), axis=1)
        block = reach[:, :, None] * policy[:, a:b, :]
        x = xp.concat([x, xp.reshape(block, (B, (b - a) * t.m))], axis=1)
    return x


def behavioural(x: Any, t: Treeplex, xp: Any) -> Any:
    """Realisation plan (B, n_slots) -> behavioural policy (B, X, m); uniform where the infoset is unreached."""
    B = x.shape[0]
    reach = xp.take(x, xp.asarray(t.parent), axis=1)[:, :, None]
    block = xp.reshape(x[:, 1:], (B, t.n_infosets, t.m))
    legal = xp.asarray(t.legal, dtype=x.dtype)
    uniform = legal / xp.asarray(t.n_actions[:, None], dtype=x.dtype)
    safe = xp.where(reach > 0, reach, xp.ones_like(reach))
    return xp.where(reach > 0, block / safe, uniform[None, :, :] * xp.ones_like(block))


def _child_matrices(t: Treeplex) -> list[np.ndarray]:
    """For each depth d >= 1: the 0/1 matrix (infosets of depth d) x (slots of depth d - 1 block) mapping each
    infoset to its parent slot; for depth 0, the column of the empty sequence."""
    out = []
    levels = t.levels
    for d, (a, b) in enumerate(levels):
        if d == 0:
            out.append(np.ones((b - a, 1)))
            continue
        pa, pb = levels[d - 1]
        M = np.zeros((b - a, (pb - pa) * t.m))
        M[np.arange(b - a), t.parent[a:b] - (1 + pa * t.m)] = 1.0
        out.append(M)
    return out


@lru_cache(maxsize=64)
def _cached_children(t: Treeplex) -> tuple[np.ndarray, ...]:
    return tuple(_child_matrices(t))


def backward(g: Any, t: Treeplex, xp: Any, reduce: Callable[[Any, int, int], tuple[Any, Any]]) -> tuple[Any, Any]:
    """Backward induction over the treeplex. ``g`` (B, n_slots): the immediate value of every slot.
    ``reduce(q, a, b)`` turns the slot values q (B, b - a, m) of infosets a..b into (infoset values (B, b - a),
    policy (B, b - a, m)). Returns (root value g[0] + sum of depth-0 infoset values, policy (B, X, m))."""
    B = g.shape[0]
    children = _cached_children(t)
    levels = t.levels
    carry = None                    # values added to the slots of the current depth by the depth below
    policies: list[Any] = [None] * len(levels)
    for d in range(len(levels) - 1, -1, -1):
        a, b = levels[d]
        q = g[:, 1 + a * t.m:1 + b * t.m]
        if carry is not None:
            q = q + carry
        q = xp.reshape(q, (B, b - a, t.m))
        values, pol = reduce(q, a, b)
        policies[d] = pol
        carry = values @ xp.asarray(children[d], dtype=g.dtype)
    root = g[:, 0] + carry[:, 0]
    return root, xp.concat(policies, axis=1)


def best_response_value(g: Any, t: Treeplex, xp: Any, maximise: bool) -> Any:
    """max (or min) over pure policies of <x, g>: (B,) for g (B, n_slots)."""
    legal = xp.asarray(t.legal)
    fill = -xp.inf if maximise else xp.inf

    def reduce(q: Any, a: int, b: int) -> tuple[Any, Any]:
        masked = xp.where(legal[a:b, :][None, :, :], q, xp.asarray(fill, dtype=q.dtype))
        v = xp.max(masked, axis=2) if maximise else xp.min(masked, axis=2)
        return v, xp.zeros_like(q)

    return backward(g, t, xp, reduce)[0]


def values(x: Any, y: Any, game: Game, xp: Any) -> Any:
    """x^T A y per profile: (B,)."""
    A = xp.asarray(game.A, dtype=x.dtype)
    return xp.sum((x @ A) * y, axis=1)


def exploitability(x: Any, y: Any, game: Game, xp: Any, check: bool = True) -> tuple[Any, Any, Any]:
    """(gap, br0, br1) for realisation plans x (B, n_slots_0), y (B, n_slots_1): br0 = max_x' x'^T A y (player 0's
    best-response value), br1 = min_y' x^T A y' and gap = br0 - br1 >= 0 (NashConv; 0 exactly at equilibria)."""
    t0, t1 = game.players
    if check:
        _check_batch("x", x, t0.n_slots, xp)
        _check_batch("y", y, t1.n_slots, xp)
        if x.shape[0] != y.shape[0]:
            raise UsageError(f"x and y must have the same batch size, got {x.shape[0]} and {y.shape[0]}")
    A = xp.asarray(game.A, dtype=x.dtype)
    br0 = best_response_value(y @ xp.permute_dims(A, (1, 0)), t0, xp, maximise=True)
    br1 = best_response_value(x @ A, t1, xp, maximise=False)
    return br0 - br1, br0, br1


def ftrl_policy(L: Any, t: Treeplex, eta: Any, log_ref: Any, xp: Any) -> Any:
    """FTRL on the treeplex with a weighted dilated KL regulariser: the minimiser over realisation plans x of
    <x, L> + sum_I x(parent I) / eta_I KL(pi(.|I) || ref(.|I)). Solved exactly by a soft backward induction
    (pi(a|I) propto ref(a|I) exp(-eta_I Q(I, a)), V_I = -log sum_a ref exp(-eta_I Q) / eta_I). ``L`` (B, n_slots)
    cumulative losses, ``eta`` (X,) positive, ``log_ref`` (X, m) with -inf on padding. Returns (B, X, m)."""
    eta = xp.asarray(eta, dtype=L.dtype)
    log_ref = xp.asarray(log_ref, dtype=L.dtype)

    def reduce(q: Any, a: int, b: int) -> tuple[Any, Any]:
        e = eta[a:b][None, :, None]
        z = log_ref[a:b, :][None, :, :] - e * q
        zmax = xp.max(z, axis=2, keepdims=True)
        w = xp.exp(z - zmax)
        s = xp.sum(w, axis=2, keepdims=True)
        pol = w / s
        v = -(xp.log(s) + zmax)[:, :, 0] / eta[a:b][None, :]
        return v, pol

    return backward(L, t, xp, reduce)[1]


# ----------------------------------------------------------------------------------------- balanced structure

def subtree_actions(t: Treeplex) -> tuple[np.ndarray, np.ndarray]:
    """(A(I) per infoset, A(I, a) per (infoset, slot)): the number of the player's (infoset, action) pairs in the
    subtree of I, and in the subtree after (I, a) counting (I, a) itself (0 on padding)."""
    AI = np.zeros(t.n_infosets)
    AIa = t.legal.astype(float)
    for i in range(t.n_infosets - 1, -1, -1):
        AI[i] = AIa[i].sum()
        if t.parent[i] > 0:
            j, a = divmod(int(t.parent[i]) - 1, t.m)
            AIa[j, a] += AI[i]
    return AI, AIa


def balanced(t: Treeplex) -> tuple[np.ndarray, np.ndarray]:
    """(balanced policy (X, m), balanced transition weights p* (X,)): pi*(a|I) = A(I, a) / A(I), and p*(I) = 1 at
    depth 0, p*(J) = p*(I) A(J) / A(I, a) for J after (I, a): each infoset's share of its parent action's subtree."""
    AI, AIa = subtree_actions(t)
    policy = AIa / AI[:, None]
    p = np.ones(t.n_infosets)
    for i in range(t.n_infosets):
        if t.parent[i] > 0:
            j, a = divmod(int(t.parent[i]) - 1, t.m)
            p[i] = p[j] * AI[i] / AIa[j, a]
    return policy, p


def uniform_policy(t: Treeplex) -> np.ndarray:
    return t.legal / t.n_actions[:, None]


# ------------------------------------------------------------------------------------------------- references

def sequence_form_lp(game: Game) -> tuple[float, np.ndarray, np.ndarray]:
    """The game value and an equilibrium (x, y) from the sequence-form LPs (von Stengel 1996), scipy HiGHS:
    max_{x, q} q_0 s.t. F^T q <= A^T x, E x = e, x >= 0 (and the mirror LP for y)."""
    from scipy.optimize import linprog

    def constraints(t: Treeplex) -> np.ndarray:
        E = np.zeros((1 + t.n_infosets, t.n_slots))
        E[0, 0] = 1.0
        for i in range(t.n_infosets):
            E[1 + i, t.parent[i]] = -1.0
            E[1 + i, t.slot(i, 0):t.slot(i, 0) + t.n_actions[i]] = 1.0
        return E

    def solve(A: np.ndarray, tx: Treeplex, ty: Treeplex) -> tuple[float, np.ndarray]:
        E, F = constraints(tx), constraints(ty)
        nx, nq = tx.n_slots, F.shape[0]
        c = np.zeros(nx + nq)
        c[nx] = -1.0                                   # maximise q_0
        A_ub = np.hstack([-A.T, F.T])                  # F^T q - A^T x <= 0
        A_eq = np.hstack([E, np.zeros((E.shape[0], nq))])
        b_eq = np.zeros(E.shape[0])
        b_eq[0] = 1.0
        pad = np.concatenate([[True], tx.legal.ravel()])
        bounds = [(0, None) if ok else (0, 0) for ok in pad] + [(None, None)] * nq
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(A.shape[1]), A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                      method="highs")
        if res.status != 0:
            raise RuntimeError(f"sequence-form LP failed: {res.message}")
        return -res.fun, res.x[:nx]

    v0, x = solve(game.A, game.players[0], game.players[1])
    v1, y = solve(-game.A.T, game.players[1], game.players[0])
    return v0, x, y


def pure_plans(t: Treeplex) -> np.ndarray:
    """Every pure realisation plan (one action at every infoset): (prod of action counts, n_slots)."""
    choices = itertools.product(*[range(k) for k in t.n_actions])
    plans = []
    for c in choices:
        pol = np.zeros((1, t.n_infosets, t.m))
        pol[0, np.arange(t.n_infosets), np.array(c)] = 1.0
        plans.append(realisation(pol, t, np, check=False)[0])
    return np.array(plans)


def slow_best_response(game: Game, player: int, opponent: dict[str, Sequence[float]]) -> float:
    """Best-response value of ``player`` against the opponent's behavioural policy (infoset key -> action
    probabilities), by walking the game tree with dictionaries, one infoset at a time (no sequence form):
    value(I) = best over a of [sum over histories h in I of pi_-p(h) u(h a) + sum of value(J), J after (I, a)].
    The payoff is to player 0; player 1's best response minimises it."""
    _check_player(player)
    immediate: dict[tuple[str, int], float] = {}
    kids: dict[tuple[str, int] | None, set[str]] = {}
    actions: dict[str, int] = {}

    def walk(state: Any, reach: float, last: tuple[str, int] | None) -> None:
        node = game.expand(state)
        if node[0] == "terminal":
            immediate[last] = immediate.get(last, 0.0) + reach * node[1]  # type: ignore[index]
            return
        if node[0] == "chance":
            for q, child in node[1]:
                walk(child, reach * q, last)
            return
        _, p, key, moves = node
        if p == player:
            kids.setdefault(last, set()).add(key)
            actions[key] = len(moves)
            for a, (_, child) in enumerate(moves):
                walk(child, reach, (key, a))
        else:
            probs = opponent[key]
            for a, (_, child) in enumerate(moves):
                if probs[a] > 0:
                    walk(child, reach * probs[a], last)

    walk(game.root, 1.0, None)
    pick = max if player == 0 else min

    def value(key: str) -> float:
        return pick(immediate.get((key, a), 0.0) + sum(value(j) for j in kids.get((key, a), ()))
                    for a in range(actions[key]))

    return immediate.get(None, 0.0) + sum(value(k) for k in kids.get(None, ()))  # type: ignore[arg-type]


def slow_game_value(game: Game, policies: tuple[dict[str, Sequence[float]], dict[str, Sequence[float]]]) -> float:
    """Expected payoff to player 0 of a behavioural profile, by a recursive tree walk."""
    def walk(state: Any) -> float:
        node = game.expand(state)
        if node[0] == "terminal":
            return node[1]
        if node[0] == "chance":
            return sum(q * walk(c) for q, c in node[1])
        _, p, key, moves = node
        return sum(pr * walk(c) for pr, (_, c) in zip(policies[p][key], moves, strict=True) if pr > 0)
    return walk(game.root)


def as_dict(policy: np.ndarray, t: Treeplex) -> dict[str, list[float]]:
    """One behavioural policy (X, m) as infoset key -> action probabilities."""
    return {k: [float(v) for v in policy[i, :t.n_actions[i]]] for i, k in enumerate(t.keys)}


def kuhn_value() -> Fraction:
    """The known value of Kuhn poker for the first player (Kuhn 1950)."""
    return Fraction(-1, 18)

