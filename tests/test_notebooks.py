"""Every notebook in notebooks/ runs top to bottom without error, against the session store.

A notebook named after a paper loads that paper's quick verification from the store (its kernel inherits
BOUNDLAB_STORE from tests/conftest.py); the paper is verified once per run before its notebook starts, so the
kernel reads cached units instead of computing them again.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT, paper_results

# Reverse alphabetical order: tests/test_papers.py verifies the papers in alphabetical order on the other xdist
# worker, so the two meet in the middle, each computing half, instead of this one waiting on each paper's lock.
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"), reverse=True)


def test_there_is_a_notebook_per_paper() -> None:
    from boundlab.registry import Registry

    keys = set(Registry.load().papers)
    names = {p.stem for p in NOTEBOOKS}
    assert keys <= names, f"papers without a notebook: {sorted(keys - names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from boundlab.registry import Registry

    if path.stem in Registry.load().papers:
        paper_results(path.stem)  # computed once per run (or already), so the kernel's verify hits the cache
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    if path.stem in Registry.load().papers:
        text = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                       for o in cell.get("outputs", []))
        found = re.search(r"(\d+) of (\d+) measurement units read from the results store", text)
        assert found, "the notebook does not say how many units it read from the store"
        assert found.group(1) == found.group(2) != "0", f"the notebook recomputed units: {found.group(0)}"
