"""PDF reports: one per paper (identity, claims with typeset statements, figures, mutants) and an index."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages

from boundlab.calibration_cache import cached_calibration
from boundlab.costs import compute_cost
from boundlab.engine import verify
from boundlab.registry import Registry
from boundlab.report.pages import claim_page, index_pages, paper_title_page
from boundlab.results import Result
from boundlab.validation import check_output_folder
from boundlab.version import __version__, code_version, git_commit, package_versions


def provenance_footer(results: Sequence[Result], options: dict[str, Any]) -> str:
    """Versions, options and the compute behind ``results`` (measured unit seconds, cached units included)."""
    runtime = compute_cost(results).seconds
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"BoundLab {__version__} · commit {git_commit()} · code {code_version()} · fidelity {options['fidelity']} · "
        f"seed {options['seed']} · backend {options['backend']} · executor {options['executor']} · "
        f"compute {runtime:.1f} s · {stamp}\n{versions}"
    )


def write_reports(
    selectors: Sequence[str] | None,
    output: str | Path,
    *,
    calibration_seeds: int = 200,
    extra_modules: Sequence[str] = (),
    **options: Any,
) -> list[Path]:
    """Verify the selected claims with their mutants, then write ``<paper-key>.pdf`` and ``index.pdf``.

    Units and the calibration table come from the results store when they were computed before (``store``
    option: None uses BOUNDLAB_STORE or .boundlab/results.db), so a second run with nothing changed only
    decides and draws.
    """
    options = {"fidelity": "standard", "seed": 0, "backend": "numpy", "executor": "serial", **options}
    check_output_folder(output)  # before the verification, not after it
    results = verify(selectors, mutants=True, extra_modules=extra_modules, **options)
    registry = Registry.load(extra_modules, selectors)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    by_paper: dict[str, list[Result]] = {}
    for r in results:
        by_paper.setdefault(r.paper, []).append(r)
    paths = []
    for key, paper_results in by_paper.items():
        paper = registry.papers[key]
        footer = provenance_footer(paper_results, options)
        path = out / f"{key}.pdf"
        with PdfPages(path, metadata={"Title": f"BoundLab report: {paper.title}", "Creator": "BoundLab"}) as pdf:
            pdf.savefig(paper_title_page(paper, paper_results, footer))
            for claim in (r for r in paper_results if not r.is_mutant):
                mutants = [m for m in paper_results if m.mutant_of == claim.claim]
                pdf.savefig(claim_page(paper, claim, mutants, footer))
        paths.append(path)
    calibration = (cached_calibration(calibration_seeds, options.get("store"), options.get("cache", True))
                   if calibration_seeds else None)
    index = out / "index.pdf"
    with PdfPages(index, metadata={"Title": "BoundLab verdict index", "Creator": "BoundLab"}) as pdf:
        for page in index_pages(registry, results, calibration, calibration_seeds,
                                provenance_footer(results, options)):
            pdf.savefig(page)
    paths.append(index)
    return paths
