"""Reports: a PDF per paper and an index, with the claims, verdicts and calibration in them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

import boundlab
from boundlab.report import write_reports
from tests.conftest import SYNTHETIC


@pytest.fixture(scope="module")
def report_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for this module's reports: the second test reads what the first computed (units, calibration)."""
    return tmp_path_factory.mktemp("reports") / "r.db"


def test_reports_for_the_synthetic_paper(tmp_path: Path, report_store: Path) -> None:
    paths = write_reports(["synthetic-calibration"], tmp_path / "out", calibration_seeds=1,
                          extra_modules=[SYNTHETIC], store=report_store, progress=False, fidelity="quick")
    names = sorted(p.name for p in paths)
    assert names == ["index.pdf", "synthetic-calibration.pdf"]
    paper = PdfReader(paths[0])
    text = "\n".join(page.extract_text() for page in paper.pages)
    # A title page plus one page per claim.
    assert len(paper.pages) == 1 + 6
    for claim in ("power-law-rate", "product-at-most-one", "distance-to-zero", "mean-at-most-one",
                  "mean-within-hoeffding"):
        assert claim in text
    assert "Mutants" in text and "violated" in text and "consistent" in text
    index = "\n".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "Calibration" in index and "False-violation" in index


def test_second_report_run_reuses_the_store(tmp_path: Path, report_store: Path) -> None:
    """A second run with nothing changed reads every unit and the calibration table from the store (the module's
    store: after the first test, this test's first run already reads it; run alone, it computes them)."""
    from boundlab.calibration_cache import cached_calibration, calibration_key
    from boundlab.store import Store

    store = report_store
    kwargs = {"calibration_seeds": 1, "extra_modules": [SYNTHETIC], "store": store, "progress": False,
              "fidelity": "quick"}
    write_reports(["synthetic-calibration/mean-at-most-one"], tmp_path / "a", **kwargs)
    first = cached_calibration(1, store)
    assert first.cached and first.runtime_s > 0
    with Store(store) as db:  # another seed count is another table: not found in the same store
        assert db.get_artifact(calibration_key(1)) is not None and db.get_artifact(calibration_key(2)) is None
    paths = write_reports(["synthetic-calibration/mean-at-most-one"], tmp_path / "b", **kwargs)
    index = "\n".join(page.extract_text() for page in PdfReader(paths[-1]).pages)
    assert "read from the results store" in index and "compute s" in index
    results = boundlab.verify("synthetic-calibration/mean-at-most-one", mutants=True, extra_modules=[SYNTHETIC],
                              store=store)
    assert all(r.units["cached"] == r.units["total"] > 0 for r in results)
