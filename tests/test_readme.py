"""`make readme`: the papers table is generated from real results and replaces only the marked block."""

from __future__ import annotations

import pytest

import boundlab
from boundlab.readme import END, START, papers_table, rewrite
from boundlab.registry import Registry
from tests.conftest import SYNTHETIC


def test_table_counts_the_verdicts_it_is_given() -> None:
    results = boundlab.verify("synthetic-calibration/mean-at-most-one", mutants=True, extra_modules=[SYNTHETIC],
                              store=":memory:")
    table = papers_table(results, Registry.load([SYNTHETIC]).papers)
    claim = next(r for r in results if not r.is_mutant)
    assert f"1/1 {claim.verdict}" in table
    refuted = sum(r.verdict == "violated" for r in results if r.is_mutant)
    assert f"{refuted}/{len(results) - 1} refuted" in table
    assert "`mean-at-most-one`" in table and "(`synthetic-calibration`)" in table


def test_rewrite_replaces_only_the_marked_block() -> None:
    text = f"intro\n{START}\nold table\n{END}\noutro\n"
    assert rewrite(text, "new") == f"intro\n{START}\nnew\n{END}\noutro\n"
    with pytest.raises(ValueError):
        rewrite("no markers", "new")
