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


def test_calibration_table_lists_every_row_with_its_interval() -> None:
    from boundlab.calibration import calibrate
    from boundlab.readme import CALIBRATION_END, CALIBRATION_START, calibration_table

    rows = calibrate(5)
    table = calibration_table(rows, 5, 0)
    for row in rows["false_violation"] + rows["power"]:
        assert f"| {row['name']} | {row['rate']:.3f} |" in table
    text = f"a\n{CALIBRATION_START}\nold\n{CALIBRATION_END}\nb\n"
    assert rewrite(text, table, CALIBRATION_START, CALIBRATION_END).count(table) == 1
    # a row measured above nominal (its interval above the level) is marked, one at nominal is not
    high = {"name": "liberal", "rate": 0.2, "ci": [0.15, 0.25], "nominal": 0.05, "trials": 200}
    fine = {"name": "fine", "rate": 0.05, "ci": [0.03, 0.08], "nominal": 0.05, "trials": 200}
    marked = calibration_table({"false_violation": [high, fine], "power": []}, 200, 0)
    assert "| liberal [ABOVE NOMINAL] |" in marked and "| fine |" in marked


def test_example_output_is_the_cli_table_of_a_run() -> None:
    from boundlab.readme import example_output

    results = boundlab.verify("synthetic-calibration/mean-at-most-one", mutants=True, extra_modules=[SYNTHETIC],
                              store=":memory:")
    block = example_output(results, paper="synthetic-calibration")
    assert block.startswith("```console\n$ .venv/bin/boundlab verify synthetic-calibration --mutants\n")
    assert all(r.claim.split("~")[-1].split("/")[-1] in block for r in results)
    assert "1 claim(s): " in block
