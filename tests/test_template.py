"""The paper template works as documented: copied out of the repository into a user's folder (one theorem file,
one simulation file, no engine file), it loads, lists, and verifies from the CLI, with one claim of each of
the sure, rate, limit and high-probability kinds consistent and every mutant refuted. Discovery skips it
inside the repository."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, run_cli
from tests.user_papers import json_lines, user_env

KEY = "template-concentration"


def _copy_template(folder: Path) -> None:
    theorem = (ROOT / "theorems" / "_template.py").read_text()
    assert "from simulations._template import" in theorem
    (folder / "my_paper.py").write_text(theorem.replace("from simulations._template import",
                                                        "from my_paper_sim import"))
    (folder / "my_paper_sim.py").write_text((ROOT / "simulations" / "_template.py").read_text())


def test_template_is_not_discovered() -> None:
    listed = run_cli("list")
    assert listed.returncode == 0, listed.stderr
    assert KEY not in listed.stdout


def test_template_copied_to_a_user_folder_verifies(tmp_path: Path) -> None:
    _copy_template(tmp_path)
    env = user_env(tmp_path, "my_paper")
    listed = run_cli("list", KEY, env=env)
    assert listed.returncode == 0, listed.stderr
    run = run_cli("verify", KEY, "--mutants", "--fidelity", "quick", "--json", "--store", str(tmp_path / "r.db"),
                  env=env)
    assert run.returncode == 0, run.stderr
    rows = json_lines(run.stdout)
    claims = {r["claim"]: r for r in rows if "~" not in r["claim"]}
    mutants = [r for r in rows if "~" in r["claim"]]
    assert {r["kind"] for r in claims.values()} == {"sure", "rate", "limit", "high-probability"}
    assert all(r["verdict"] == "consistent" for r in claims.values()), {c: r["reason"] for c, r in claims.items()}
    assert len(mutants) >= 4
    assert all(r["verdict"] == "violated" for r in mutants), [(r["claim"], r["verdict"]) for r in mutants]
    # every result says how sharp its check was
    assert all(r["resolution"] for r in rows)
