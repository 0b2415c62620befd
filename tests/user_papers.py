"""Writes small user theorem modules (and their simulations) into a temp folder, loaded by BOUNDLAB_EXTRA_MODULES.

Each paper ``<stem>`` is two files: ``<stem>_thm.py`` (PAPER, CLAIMS: one expectation claim E[Q] <= bound) and
``<stem>_sim.py`` (the measure function, Q = level + 0.1 N(0, 1)). Keyword arguments let a test break one
rule of a declaration; ``edit`` rewrites a file in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

THEOREM = '''"""{doc}"""

import sympy as sp

from boundlab import Budget, Experiment, Expectation, ExpectationClaim, Paper, Relation, grid, quantity, reconstructed
from {stem}_sim import measure

PAPER = Paper("{key}", "A user paper", ("Someone",), "nowhere", 2024, "none")
T, N = sp.symbols("T N", positive=True)
Q = quantity("Q", r"{latex}")
_B = Budget(grid(T=[1, 2]), replicates=100, block={block})
EXPERIMENT = Experiment("{stem}-exp", "Q = level + noise.", {{"quick": _B, "standard": _B, "full": _B}},
                        measure=measure{outputs})
CLAIMS = [
    ExpectationClaim("{claim}", PAPER, Relation(sp.Le(Expectation(Q), {bound})), EXPERIMENT,
                     reconstructed("test"), relative_margin=0.05),
]
{extra}
'''

SIMULATION = '''"""{doc}"""

import numpy as np


def measure(params, rng, n, xp):
    {marker}
    return {{{returns}}}
'''


def write_paper(folder: Path, stem: str, *, key: str | None = None, claim: str = "mean-bounded",
                latex: str = "Q", bound: str = "2", level: float = 1.0, block: int = 50,
                outputs: str | None = '("Q",)', returns: str | None = None,
                marker: Path | None = None, extra: str = "", doc: str = "A user paper.") -> None:
    """Write ``<stem>_thm.py`` and ``<stem>_sim.py`` into ``folder``."""
    returns = returns or f'"Q": {level} + 0.1 * rng.standard_normal(n)'
    write_marker = f"open({str(marker)!r}, 'a').write('ran\\n')" if marker else "pass"
    (folder / f"{stem}_thm.py").write_text(THEOREM.format(
        doc=doc, stem=stem, key=key or stem.replace("_", "-"), latex=latex,
        block=block, outputs="" if outputs is None else f", outputs={outputs}", claim=claim, bound=bound,
        extra=extra))
    (folder / f"{stem}_sim.py").write_text(SIMULATION.format(doc=doc, marker=write_marker, returns=returns))


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur) by ``new`` in the file, and make its mtime change."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))
    os.utime(path, None)


def user_env(folder: Path, *modules: str) -> dict[str, str]:
    """Environment for run_cli: the folder on PYTHONPATH, the modules in BOUNDLAB_EXTRA_MODULES."""
    path = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": path, "BOUNDLAB_EXTRA_MODULES": ",".join(modules)}


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
