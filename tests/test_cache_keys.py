"""Cache keys: a unit is keyed by its experiment's own code (import closure), never by other papers' files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from boundlab.closure import closure_hash_uncached, is_installed, module_closure
from boundlab.store import Store, UnitKey, UnitRecord
from tests.conftest import ROOT, run_cli
from tests.user_papers import edit, json_lines, user_env, write_paper


def _units(stdout: str) -> dict[str, tuple[int, int, str]]:
    """paper -> (cached units, total units, verdict) of its one claim."""
    return {d["paper"]: (d["units"]["cached"], d["units"]["total"], d["verdict"]) for d in json_lines(stdout)}


def test_closure_of_each_paper_excludes_the_other_paper() -> None:
    from simulations.online_glm_regression import measure_regret
    from simulations.sparsity_constrained_ot import measure_structure

    online = {p.resolve() for p in module_closure(measure_regret.__module__).values()}
    sparse = {p.resolve() for p in module_closure(measure_structure.__module__).values()}
    assert ROOT / "simulations" / "online_glm_regression.py" in online
    assert ROOT / "solvers" / "online_regression.py" in online
    assert ROOT / "solvers" / "sparse_ot" / "api.py" in sparse  # `from solvers.sparse_ot import ...`, transitively
    assert ROOT / "solvers" / "sparse_ot" / "_arrays.py" in sparse  # relative imports inside the package
    for files, other in ((online, "sparse"), (sparse, "online")):
        assert not any(p.is_relative_to(ROOT / "theorems") for p in files)  # measures are not defined there
        assert not any(p.is_relative_to(ROOT / "boundlab") for p in files)  # engine files are keyed by name
        assert not any(other in p.name for p in files)
    assert not any(is_installed(p) for p in online | sparse)
    assert not any(p.name == "numpy" or "numpy" in p.parts for p in online | sparse)


def test_closure_hash_follows_imports_of_user_modules(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ck_helper.py").write_text("SCALE = 1.0\n")
    (tmp_path / "ck_pkg").mkdir()
    (tmp_path / "ck_pkg" / "__init__.py").write_text("")
    (tmp_path / "ck_pkg" / "inner.py").write_text("OFFSET = 0.0\n")
    (tmp_path / "ck_sim.py").write_text(
        "import numpy as np\nfrom ck_pkg import inner\n\n\ndef measure(params, rng, n, xp):\n"
        "    from ck_helper import SCALE\n    return {'Q': SCALE + inner.OFFSET + np.zeros(n)}\n"
    )
    (tmp_path / "ck_unrelated.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import ck_sim

    names = set(module_closure("ck_sim"))
    assert names == {"ck_sim", "ck_helper", "ck_pkg", "ck_pkg.inner"}
    before = closure_hash_uncached(ck_sim.measure)
    (tmp_path / "ck_unrelated.py").write_text("X = 2\n")
    assert closure_hash_uncached(ck_sim.measure) == before
    (tmp_path / "ck_pkg" / "inner.py").write_text("OFFSET = 1.0\n")
    assert closure_hash_uncached(ck_sim.measure) != before


def test_editing_one_paper_keeps_the_others_cache_and_invalidates_its_own(tmp_path: Path) -> None:
    write_paper(tmp_path, "cache_a", level=1.0)
    write_paper(tmp_path, "cache_b", level=1.0)
    env = user_env(tmp_path, "cache_a_thm", "cache_b_thm")
    args = ("verify", "cache-a", "cache-b", "--json", "--quiet", "--store", str(tmp_path / "r.db"))

    def run() -> dict[str, tuple[int, int, str]]:
        done = run_cli(*args, env=env)
        assert done.returncode in (0, 1), done.stderr
        return _units(done.stdout)

    first = run()
    assert first["cache-a"][0] == 0 and first["cache-a"][2] == "consistent"
    # B's theorem docstring: no measurement depends on it, so both papers are fully cached
    edit(tmp_path / "cache_b_thm.py", "A user paper.", "A user paper, reworded.")
    second = run()
    assert all(cached == total for cached, total, _ in second.values()), second
    # B's simulation: B recomputes, A keeps every hit
    edit(tmp_path / "cache_b_sim.py", "1.0 + 0.1", "1.0 + 0.2")
    third = run()
    assert third["cache-a"][0] == third["cache-a"][1]
    assert third["cache-b"][0] == 0
    # A's measure function changes its numbers: no stale verdict may be served
    edit(tmp_path / "cache_a_sim.py", "1.0 + 0.1", "3.0 + 0.1")
    fourth = run()
    assert fourth["cache-a"][0] == 0 and fourth["cache-a"][2] == "violated"
    assert fourth["cache-b"][0] == fourth["cache-b"][1]


def test_changing_the_block_size_recomputes(tmp_path: Path) -> None:
    write_paper(tmp_path, "block_a", block=50)
    env = user_env(tmp_path, "block_a_thm")
    args = ("verify", "block-a", "--json", "--quiet", "--store", str(tmp_path / "r.db"))
    first = _units(run_cli(*args, env=env).stdout)["block-a"]
    assert first[:2] == (0, 4)  # 2 points x 2 blocks of 50
    edit(tmp_path / "block_a_thm.py", "block=50", "block=60")  # blocks of 60 and 40 now
    second = _units(run_cli(*args, env=env).stdout)["block-a"]
    assert second[:2] == (0, 4)


def test_store_written_before_block_sizes_were_keyed_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE units (key TEXT PRIMARY KEY, scope TEXT NOT NULL, statement TEXT NOT NULL, params TEXT "
            "NOT NULL, fidelity TEXT NOT NULL, seed INTEGER NOT NULL, code_version TEXT NOT NULL, backend TEXT NOT "
            "NULL, block INTEGER NOT NULL, arrays BLOB, meta TEXT, runtime_s REAL NOT NULL, created REAL NOT NULL)"
        )
    key = UnitKey("s", "", "{}", "quick", 0, "abc", "numpy", 0, 64)
    with Store(path) as store:
        store.put(key, UnitRecord({}, {"ok": 1}, 0.5))
        assert store.get(key) is not None
        assert store.get(UnitKey("s", "", "{}", "quick", 0, "abc", "numpy", 0, 32)) is None
