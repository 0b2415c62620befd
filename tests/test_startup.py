"""`boundlab list` stays cheap: listing papers imports no solver stack, and closures import nothing.

The heavy packages (cvxpy, POT, SCIP, the scipy.stats/optimize machinery, Dask) are imported when a paper's
units run, not when its theorem module loads. This checks the imports, not a wall-clock time.
"""

from __future__ import annotations

import json
import subprocess
import sys

from boundlab.registry import Registry
from tests.conftest import ROOT

HEAVY = ("cvxpy", "ot", "pyscipopt", "highspy", "clarabel", "dask", "scipy.stats", "scipy.optimize",
         "solvers.ot_references")

_PROBE = f"""
import contextlib, io, json, sys
from boundlab.cli import main
reports = []
for args in ([], ["--json"]):  # one process: the second listing adds only what its own code imports
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(["list", *args])
    reports.append({{"args": args, "code": code, "lines": len(out.getvalue().splitlines()),
                    "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}})
print(json.dumps(reports))
"""


def test_list_imports_no_solver_stack() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)
    for report in json.loads(done.stdout.strip().splitlines()[-1]):
        assert report["code"] == 0 and report["lines"] > 0
        assert report["heavy"] == [], f"`boundlab list {' '.join(report['args'])}` imported {report['heavy']}"


def test_closure_walk_imports_nothing() -> None:
    probe = ("import sys, json; from boundlab.closure import module_closure; "
             "files = module_closure('theorems.sparsity_constrained_ot'); "
             "print(json.dumps([sorted(files), [m for m in ('solvers.ot_references', 'cvxpy', 'ot', "
             "'theorems.sparsity_constrained_ot') if m in sys.modules]]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)
    files, imported = json.loads(done.stdout)
    assert "solvers.ot_references" in files  # an import inside a function still keys the closure
    assert imported == []


def _theorem_modules_loaded_by(*selectors: str) -> list[str]:
    probe = ("import sys, json; from boundlab.registry import Registry; "
             f"r = Registry.load(selectors={list(selectors)!r}); "
             "print(json.dumps([sorted(m for m in sys.modules if m.startswith('theorems.')), sorted(r.papers)]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)
    return json.loads(done.stdout)


def test_selecting_papers_imports_only_their_theorem_modules() -> None:
    """Verifying one paper imports that paper's module, not the other papers' (nor checks their declarations)."""
    modules, papers = _theorem_modules_loaded_by("hoag", "trpo/theorem-1-tv-form~*")
    assert modules == ["theorems.hoag", "theorems.trpo"] and papers == ["hoag", "trpo"]
    # a glob, or a name no module is named after, loads everything, so matching and its errors stay those of a
    # full load (in this process: the modules are imported once per test worker anyway)
    everything = sorted(Registry.load().papers)
    for selectors in (("ho*",), ("hoag", "no-such-paper"), ("hoag/no-such-claim",)):
        assert sorted(Registry.load(selectors=selectors).papers) == everything, selectors
