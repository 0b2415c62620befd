"""Reports: a PDF per paper and an index, with the claims, verdicts and calibration in them."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader

from boundlab.report import write_reports
from tests.conftest import SYNTHETIC


def test_reports_for_the_synthetic_paper(tmp_path: Path) -> None:
    paths = write_reports(["synthetic-calibration"], tmp_path / "out", calibration_seeds=10,
                          extra_modules=[SYNTHETIC], store=tmp_path / "r.db", progress=False)
    names = sorted(p.name for p in paths)
    assert names == ["index.pdf", "synthetic-calibration.pdf"]
    paper = PdfReader(paths[0])
    text = "\n".join(page.extract_text() for page in paper.pages)
    # A title page plus one page per claim.
    assert len(paper.pages) == 1 + 5
    for claim in ("power-law-rate", "product-at-most-one", "distance-to-zero", "mean-at-most-one"):
        assert claim in text
    assert "Mutants" in text and "violated" in text and "consistent" in text
    index = "\n".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "Calibration" in index and "False-violation" in index
