"""Typeset names of measured quantities belong to the module that declared them, not to the process."""

from __future__ import annotations

import json
from pathlib import Path

import sympy as sp

import boundlab
from boundlab.statements import Relation, latex_names, quantity
from tests.conftest import run_cli
from tests.user_papers import user_env, write_paper

LATEX = {"ln_one": r"\mathcal{Q}", "ln_two": r"\widetilde{Q}"}


def _write(folder: Path) -> None:
    for stem, latex in LATEX.items():
        write_paper(folder, stem, latex=latex)


def test_two_papers_naming_the_same_quantity_keep_their_own_latex(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    results = boundlab.verify(["ln-one", "ln-two"], extra_modules=["ln_one_thm", "ln_two_thm"], store=":memory:")
    latex = {r.paper: r.statement["latex"] for r in results}
    assert LATEX["ln_one"] in latex["ln-one"] and LATEX["ln_two"] not in latex["ln-one"]
    assert LATEX["ln_two"] in latex["ln-two"] and LATEX["ln_one"] not in latex["ln-two"]


def test_list_json_keeps_each_papers_latex(tmp_path: Path) -> None:
    _write(tmp_path)
    done = run_cli("list", "--json", "ln-one", "ln-two", env=user_env(tmp_path, "ln_one_thm", "ln_two_thm"))
    assert done.returncode == 0, done.stderr
    latex = {p["key"]: p["claims"][0]["statement"]["latex"] for p in json.loads(done.stdout)["papers"]}
    assert LATEX["ln_one"] in latex["ln-one"] and LATEX["ln_two"] in latex["ln-two"]


def test_latex_names_are_recorded_per_calling_module() -> None:
    q = quantity("Zq_test", r"\zeta")  # recorded for this test module
    statement = Relation(sp.Le(q, 1))
    assert r"\zeta" in statement.latex(latex_names(__name__))
    assert r"\zeta" not in statement.latex()  # no names: sympy's own typesetting
    assert r"\zeta" not in statement.latex(latex_names("boundlab.calibration"))


def test_the_papers_keep_their_typeset_names() -> None:
    from boundlab.registry import Registry

    claim = Registry.load().claims["online-glm-regression/hindsight-regret-log-horizon"]
    assert r"R^{\mathrm{hind}}(T)" in claim.statement.latex(latex_names(claim.module))
