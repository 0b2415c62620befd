"""The engine: seeds, executors, the results store (cache, --no-cache, resume), and the JSON contract."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import boundlab
from boundlab.errors import UsageError
from tests.conftest import ROOT, SYNTHETIC, run_cli

FAST = "synthetic-calibration/power-law-rate"
VOLATILE = {"runtime_s", "executor", "units"}


def _numbers(results: list[boundlab.Result]) -> list[dict]:
    return [{k: v for k, v in r.to_dict().items() if k not in VOLATILE} for r in results]


def _verify(selectors, store, **options):
    return boundlab.verify(selectors, extra_modules=[SYNTHETIC], store=store, **options)


def test_contract_fields_present(store: Path) -> None:
    results = _verify("synthetic-calibration", store, mutants=True)
    required = {"claim", "paper", "kind", "mutant_of", "verdict", "statement", "points", "exponent", "tightness",
                "counterexample", "fidelity", "seed", "backend", "executor", "runtime_s", "code_version"}
    kinds = {r.kind for r in results}
    assert kinds == {"sure", "expectation", "rate", "limit", "high-probability"}
    for r in results:
        d = json.loads(r.to_json())
        assert required <= set(d)
        assert set(d["statement"]) >= {"latex", "text", "provenance", "source"}
        for point in d["points"]:
            assert set(point) >= {"params", "replicates", "estimate", "ci", "bound", "ratio"}
    rate = next(r for r in results if r.claim == FAST)
    assert set(rate.exponent) >= {"variable", "claimed", "estimate", "ci"}


def test_synthetic_truths_and_mutants(store: Path) -> None:
    results = {r.claim: r for r in _verify("synthetic-calibration", store, mutants=True)}
    for claim_id, r in results.items():
        if "slow" in claim_id:
            continue
        expected = "violated" if r.is_mutant else "consistent"
        assert r.verdict == expected, (claim_id, r.reason)
    sure_mutant = results["synthetic-calibration/product-at-most-one~bound-too-small"]
    assert sure_mutant.counterexample is not None and "theta" in sure_mutant.counterexample
    # Random draws never reach the corner (1, 1): the adversarial search found the violation...
    assert "adversarial search" in sure_mutant.counterexample["found_by"]
    assert results["synthetic-calibration/product-at-most-one"].points[0]["searched"] > 0
    # ...while a statement that random draws already refute is not searched at all.
    obvious = results["synthetic-calibration/product-at-most-one~bound-far-too-small"]
    assert obvious.verdict == "violated" and obvious.points[0]["searched"] == 0


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path: Path) -> None:
    a = _verify(FAST, tmp_path / "a.db", seed=3)
    b = _verify(FAST, tmp_path / "b.db", seed=3)
    c = _verify(FAST, tmp_path / "c.db", seed=4)
    assert _numbers(a) == _numbers(b)
    assert a[0].points[0]["estimate"] != c[0].points[0]["estimate"]


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_executors_give_identical_numbers(tmp_path: Path, executor: str) -> None:
    selectors = ["synthetic-calibration/power-law-rate", "synthetic-calibration/product-at-most-one"]
    serial = _verify(selectors, tmp_path / "serial.db", mutants=True)
    other = _verify(selectors, tmp_path / f"{executor}.db", mutants=True, executor=executor, workers=2)
    assert _numbers(serial) == _numbers(other)
    assert {r.executor for r in other} == {executor}


def test_cache_reuse_and_no_cache(store: Path) -> None:
    first = _verify(FAST, store)
    assert first[0].units["cached"] == 0
    second = _verify(FAST, store)
    assert second[0].units["cached"] == second[0].units["total"] > 0
    assert _numbers(first) == _numbers(second)
    third = _verify(FAST, store, cache=False)
    assert third[0].units["cached"] == 0
    assert _numbers(first) == _numbers(third)


def test_resume_after_kill(tmp_path: Path) -> None:
    """Kill a run halfway; the rerun reuses what finished and gives the same numbers as an uninterrupted run."""
    store = tmp_path / "killed.db"
    env = {**os.environ, "BOUNDLAB_EXTRA_MODULES": SYNTHETIC}
    selector = "synthetic-calibration/slow-mean-at-most-one"
    proc = subprocess.Popen([sys.executable, "-m", "boundlab", "verify", selector, "--store", str(store), "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline:
        if store.exists():
            try:
                with sqlite3.connect(store) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM units").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 4:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert done >= 4, "the run stored nothing before it was killed"
    resumed = run_cli("verify", selector, "--store", str(store), "--json", "--quiet",
                      env={"BOUNDLAB_EXTRA_MODULES": SYNTHETIC})
    assert resumed.returncode in (0, 1), resumed.stderr
    result = json.loads(resumed.stdout.splitlines()[0])
    assert 4 <= result["units"]["cached"] < result["units"]["total"]
    fresh = _verify(selector, tmp_path / "fresh.db")
    assert result["points"] == json.loads(fresh[0].to_json())["points"]


def test_unknown_selector_and_bad_options(store: Path) -> None:
    with pytest.raises(UsageError, match="nope"):
        _verify("nope", store)
    with pytest.raises(UsageError, match="fidelity"):
        _verify(FAST, store, fidelity="fast")
    with pytest.raises(UsageError, match="seed"):
        _verify(FAST, store, seed=-1)
    with pytest.raises(UsageError, match="executor"):
        _verify(FAST, store, executor="threads")
    with pytest.raises(UsageError, match="Unknown option"):
        _verify(FAST, store, mutant=True)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["verify", "no-such-paper"], "no-such-paper"),
        (["verify", "--fidelity", "fast"], "--fidelity"),
        (["verify", "--seed", "-3"], "--seed"),
        (["verify", "--workers", "0"], "--workers"),
        (["verify", "--backend", "cupy", FAST], "cupy"),
        (["verify", "--scheduler", "tcp://127.0.0.1:1", FAST], "--scheduler"),
        (["report", "--fidelity", "huge"], "--fidelity"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_cli_usage_errors_exit_2(args: list[str], needle: str) -> None:
    env = {"BOUNDLAB_EXTRA_MODULES": SYNTHETIC}
    done = run_cli(*args, "--store", ":memory:", env=env) if args[0] != "frobnicate" else run_cli(*args, env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert needle in done.stderr


def test_cli_verify_exit_codes_and_json(store: Path) -> None:
    env = {"BOUNDLAB_EXTRA_MODULES": SYNTHETIC}
    ok = run_cli("verify", FAST, "--mutants", "--json", "--store", str(store), env=env)
    assert ok.returncode == 0, ok.stderr
    lines = [json.loads(line) for line in ok.stdout.splitlines()]
    assert [d["verdict"] for d in lines] == ["consistent", "violated", "violated"]
    assert lines[1]["mutant_of"] == FAST
    # A mutant verified as if it were a claim is violated, so the run fails with exit code 1.
    bad = run_cli("verify", "synthetic-calibration/slow-mean-at-most-one", "--store", str(store), env=env)
    assert bad.returncode in (0, 1)
    text = run_cli("verify", FAST, "--store", str(store), env=env)
    assert "consistent" in text.stdout and "1 claim(s)" in text.stdout


def test_cli_list_json_gives_paper_identity() -> None:
    done = run_cli("list", "--json", env={"BOUNDLAB_EXTRA_MODULES": SYNTHETIC})
    assert done.returncode == 0, done.stderr
    papers = {p["key"]: p for p in json.loads(done.stdout)["papers"]}
    synthetic = papers["synthetic-calibration"]
    assert {"title", "authors", "venue", "year", "arxiv", "claims"} <= set(synthetic)
    assert any(c["mutants"] for c in synthetic["claims"])


def test_cli_output_into_a_closed_pipe_is_quiet() -> None:
    # `boundlab list | head -1`: the reader is gone; no traceback, exit 0. The read end is closed before the
    # CLI writes, so its first write fails (a pipe buffer would otherwise absorb the whole listing).
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "boundlab.cli", "list"], cwd=ROOT, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_unusable_store_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_cli("verify", FAST, "--store", str(blocker / "results.db"), env={"BOUNDLAB_EXTRA_MODULES": SYNTHETIC})
    assert done.returncode == 2 and "store" in done.stderr


def test_runtime_is_this_runs_time_and_cached_compute_has_its_own_field(tmp_path: Path) -> None:
    """A rerun from the store reports the compute it read (units.cached_s, equal to the first run's compute) apart
    from its own runtime_s, which no longer counts the 24 units of a quarter second each that it did not run."""
    selector = "synthetic-calibration/slow-mean-at-most-one"
    store = tmp_path / "r.db"
    first = boundlab.verify(selector, extra_modules=[SYNTHETIC], store=store)[0]
    again = boundlab.verify(selector, extra_modules=[SYNTHETIC], store=store)[0]
    assert first.units["cached"] == 0 and first.units["cached_s"] == 0
    assert first.runtime_s >= first.units["measure_s"] >= 24 * 0.25
    assert again.units["cached"] == again.units["total"] == first.units["total"]
    assert again.units["cached_s"] == first.units["measure_s"] == again.units["measure_s"]
    assert again.runtime_s < 24 * 0.25  # the sleeps were not run again
