"""Declarations are checked when a theorem module loads, before anything is computed, and outputs when run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sympy as sp

import boundlab
from boundlab import Asymptotic, Budget, Experiment, Mutant, RateClaim, UsageError, grid, reconstructed
from boundlab.calibration import PAPER, _rate_measure
from boundlab.declarations import check_declarations
from tests.conftest import run_cli
from tests.user_papers import user_env, write_paper

n, Q, Z = sp.symbols("n Q Z", positive=True)


def _experiment(full_points: tuple[dict, ...] = tuple(grid(n=[10, 30, 100, 300]))) -> Experiment:
    quick = Budget(grid(n=[10, 30, 100, 300]), replicates=32)
    return Experiment("e", "test", {"quick": quick, "standard": quick, "full": Budget(full_points, replicates=32)},
                      measure=_rate_measure, outputs=("Q",))


def _rate(experiment: Experiment, statement: Asymptotic | None = None, **kwargs) -> RateClaim:
    return RateClaim("rate", PAPER, statement or Asymptotic(Q, "Theta", sp.sqrt(n)), experiment,
                     reconstructed("test"), variable="n",
                     **{"exponent_margin": 0.1, "mutants": (Mutant("faster", Asymptotic(Q, "Theta", n), "x"),
                                                   Mutant("slower", Asymptotic(Q, "Theta", sp.Integer(1)), "x")),
                        **kwargs})


def test_misspelt_variable_exits_2_before_any_unit_runs(tmp_path: Path) -> None:
    marker = tmp_path / "measured.txt"
    write_paper(tmp_path, "decl_typo", bound="1 + 1 / N", marker=marker)  # the sweep has T, not N
    store = tmp_path / "r.db"
    for selector in (["decl-typo/mean-bounded"], []):
        start = time.perf_counter()
        done = run_cli("verify", *selector, "--store", str(store), "--quiet", env=user_env(tmp_path, "decl_typo_thm"))
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert time.perf_counter() - start < 60
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        line = done.stderr.strip()
        assert str(tmp_path / "decl_typo_thm.py") in line and "decl-typo/mean-bounded" in line
        assert "uses N" in line and "sweep parameter" in line
    assert not marker.exists() and not store.exists()


def test_statement_and_mutant_names_must_be_swept_or_declared() -> None:
    check_declarations(_rate(_experiment()), "paper.py")  # a correct declaration passes
    with pytest.raises(UsageError, match=r"paper\.py: claim synthetic-calibration/rate: the mutant 'wrong' uses Z"):
        check_declarations(_rate(_experiment(), mutants=(Mutant("wrong", Asymptotic(Z, "O", n**0.25), "x"),
                                                         Mutant("slower", Asymptotic(Q, "Omega", n), "x"))),
                           "paper.py")
    # a parameter missing from one fidelity's points does not count as swept
    partial = _experiment(tuple(grid(n=[10, 30, 100, 300], m=1)))
    with pytest.raises(UsageError, match="uses m"):
        check_declarations(_rate(partial, Asymptotic(Q, "O", n * sp.Symbol("m"))), "paper.py")
    with pytest.raises(UsageError, match="diagnostics gap"):
        check_declarations(_rate(_experiment(), diagnostics=("gap",)), "paper.py")


def test_rate_variable_needs_two_values_in_every_fidelity() -> None:
    with pytest.raises(UsageError, match="distinct values of n"):
        check_declarations(_rate(_experiment(tuple(grid(n=[10, 10])))), "paper.py")


def test_outputs_are_required() -> None:
    quick = Budget(grid(n=[10, 100]), replicates=8)
    with pytest.raises(UsageError, match="declare outputs"):
        Experiment("e", "test", {"quick": quick, "standard": quick, "full": quick}, measure=_rate_measure)


def test_measure_returning_other_names_than_declared_is_an_error(tmp_path: Path, monkeypatch) -> None:
    write_paper(tmp_path, "decl_extra", returns='"Q": 1.0 + 0 * rng.standard_normal(n), "Qq": np.zeros(n)')
    monkeypatch.syspath_prepend(str(tmp_path))
    [result] = boundlab.verify("decl-extra", extra_modules=["decl_extra_thm"], store=":memory:")
    assert result.verdict == "error"
    assert "returned the quantities [Q, Qq] but declares outputs [Q]" in result.reason
