"""The declaration helpers of boundlab.declare: budgets written once, mutant helpers, bad input named."""

from __future__ import annotations

import pytest
import sympy as sp

from boundlab import (
    Asymptotic,
    Limit,
    Relation,
    UsageError,
    at,
    budgets,
    dropped_term,
    faster,
    quantity,
    scaled_bound,
    slower,
    wrong_limit,
)

T, d = sp.symbols("T d", positive=True)
Q = quantity("Q")
RATE = Asymptotic(Q, "O", d * sp.log(T))
BOUND = Relation(sp.Le(Q, 2 * T + 1))


def test_budgets_override_axes_and_cut_blocks() -> None:
    out = budgets({"T": [10, 100], "d": 5}, block=128, quick=at(replicates=64), standard=at(replicates=256, d=7),
                  full=at(replicates=512, points=({"T": 1, "d": 1},)))
    assert [dict(p) for p in out["quick"].points] == [{"T": 10, "d": 5}, {"T": 100, "d": 5}]
    assert out["quick"].block == 64 and out["standard"].block == 128
    assert {p["d"] for p in out["standard"].points} == {7}
    assert out["full"].points == ({"T": 1, "d": 1},) and out["full"].replicates == 512


@pytest.mark.parametrize("call, parameter", [
    (lambda: at(replicates=0), "replicates"),
    (lambda: budgets({"T": [1, 2]}, block=0, quick=at(1), standard=at(1), full=at(1)), "block"),
    (lambda: budgets({"T": [1, 2]}, block=8, quick={"replicates": 1}, standard=at(1), full=at(1)), "quick"),
    (lambda: slower(RATE, 3), "by"),
    (lambda: faster(BOUND, T), "statement"),
    (lambda: scaled_bound(BOUND, 1), "factor"),
    (lambda: scaled_bound(RATE, 2), "relation"),
    (lambda: dropped_term(BOUND, T), "term"),
    (lambda: wrong_limit(Limit(Q, 1, T, sp.oo), 1), "target"),
    (lambda: slower(RATE, T, name="Not Kebab"), "name"),
])
def test_bad_input_names_the_parameter(call, parameter: str) -> None:
    with pytest.raises(UsageError, match=parameter):
        call()


def test_mutant_helpers_build_the_stated_error() -> None:
    s = slower(RATE, sp.sqrt(sp.log(T)))
    assert s.statement.shape == d * sp.sqrt(sp.log(T)) and s.statement.order == "O"
    f = faster(RATE, T, order="Omega")
    assert f.statement.shape == d * T * sp.log(T) and f.statement.order == "Omega"
    b = scaled_bound(BOUND, 0.5)
    assert sp.simplify(b.statement.relation.rhs - (T + sp.Rational(1, 2))) == 0
    assert dropped_term(BOUND, 1).statement.relation.rhs == 2 * T
    w = wrong_limit(Limit(Q, 1, T, sp.oo), 0)
    assert w.statement.target == 0
    mutants = [s, f, b, dropped_term(BOUND, 1), w, faster(RATE, sp.sqrt(sp.log(T))), scaled_bound(BOUND, 2)]
    names = [m.name for m in mutants]
    assert len(set(names)) == len(names)
    assert all(m.description and "instead of" in m.description for m in mutants)
    assert slower(RATE, T, name="my-name", why="Because.").description.endswith("Because.")


def test_a_search_states_its_size() -> None:
    from boundlab import Box, Experiment, InstanceSearch

    with pytest.raises(UsageError, match="evaluations"):
        budgets({"T": [1]}, block=8, restarts=2, quick=at(replicates=8), standard=at(replicates=8),
                 full=at(replicates=8))
    unsearched = budgets({"T": [1]}, block=8, quick=at(replicates=8), standard=at(replicates=8),
                         full=at(replicates=8))
    search = InstanceSearch(Box(0.0, 1.0, shape=2), lambda params, z, xp: {"Q": z.sum(axis=1)})
    with pytest.raises(UsageError, match="needs a search budget at every fidelity"):
        Experiment("e", "e", unsearched, search=search, outputs=("Q",))
    searched = budgets({"T": [1]}, block=8, restarts=1, evaluations=5, quick=at(replicates=8),
                       standard=at(replicates=8), full=at(replicates=8, restarts=3, evaluations=9))
    assert Experiment("e", "e", searched, search=search, outputs=("Q",)).budget("full").evaluations == 9
