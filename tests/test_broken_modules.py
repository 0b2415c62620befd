"""A theorem module that fails to import or to declare must not take the other papers down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boundlab.errors import UsageError
from boundlab.registry import Registry
from tests.conftest import run_cli
from tests.user_papers import json_lines, user_env, write_paper

BROKEN = {
    "bm_raises": ("import numpy\nraise RuntimeError('simulated failure at import\\nsecond line')\n",
                  "RuntimeError: simulated failure at import"),
    "bm_missing": ("X = 1\n", "must define PAPER"),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_paper(tmp_path, "bm_good")
    write_paper(tmp_path, "bm_badname", claim="Not_Kebab")  # the claim constructor raises a UsageError
    for stem, (text, _) in BROKEN.items():
        (tmp_path / f"{stem}.py").write_text(text)
    return tmp_path


def _env(folder: Path) -> dict[str, str]:
    return user_env(folder, "bm_good_thm", "bm_raises", "bm_missing", "bm_badname_thm")


def test_registry_records_broken_modules(folder: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(folder))
    registry = Registry.load(["bm_good_thm", "bm_raises", "bm_missing", "bm_badname_thm"])
    assert "bm-good/mean-bounded" in registry.claims
    assert set(registry.broken) == {"bm_raises", "bm_missing", "bm_badname_thm"}
    assert registry.broken["bm_raises"] == "RuntimeError: simulated failure at import"
    assert "kebab-case" in registry.broken["bm_badname_thm"]
    assert registry.files["bm_missing"] == str(folder / "bm_missing.py")
    assert [c.id for c in registry.select(["bm-good"])] == ["bm-good/mean-bounded"]
    with pytest.raises(UsageError, match="bm_raises.py"):
        registry.select(None)


def test_list_shows_broken_modules_and_the_good_ones(folder: Path) -> None:
    done = run_cli("list", env=_env(folder))
    assert done.returncode == 0, done.stderr
    assert "bm-good/mean-bounded" in done.stdout and "online-glm-regression" in done.stdout
    broken_lines = [line for line in done.stdout.splitlines() if line.startswith("BROKEN")]
    assert len(broken_lines) == 3
    assert any(str(folder / "bm_raises.py") in line and "simulated failure at import" in line
               for line in broken_lines)
    listed = json.loads(run_cli("list", "--json", env=_env(folder)).stdout)
    assert "bm-good" in {p["key"] for p in listed["papers"]}
    broken = {b["module"]: b for b in listed["broken"]}
    assert set(broken) == {"bm_raises", "bm_missing", "bm_badname_thm"}
    assert broken["bm_missing"]["file"] == str(folder / "bm_missing.py")
    assert "must define PAPER" in broken["bm_missing"]["error"]


def test_verify_of_other_papers_is_unaffected(folder: Path) -> None:
    done = run_cli("verify", "bm-good", "--json", "--quiet", "--store", ":memory:", env=_env(folder))
    assert done.returncode == 0, done.stderr
    assert [d["verdict"] for d in json_lines(done.stdout)] == ["consistent"]


@pytest.mark.parametrize("selector", [None, "bm-badname", "bm-badname/not-kebab"])
def test_verify_of_everything_or_of_the_broken_paper_exits_2(folder: Path, selector: str | None) -> None:
    args = ["verify", "--store", ":memory:", "--quiet"] + ([selector] if selector else [])
    done = run_cli(*args, env=_env(folder))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(folder / "bm_badname_thm.py") in done.stderr and "kebab-case" in done.stderr
