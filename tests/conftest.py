"""Shared fixtures: one results store per test run, each paper's quick verification, a throw-away store.

The session store. Every test run gets one results store, exported as BOUNDLAB_STORE so that subprocesses
(``run_cli``) and notebook kernels use it too. With pytest-xdist (``-n 2 --dist loadfile``) each worker is its own
pytest session, so the store lives in a folder shared by the workers: the controller (or a run without xdist)
creates it and exports its path in BOUNDLAB_TEST_DIR, which the worker processes inherit; a worker started
without it falls back to a folder derived from PYTEST_XDIST_TESTRUNUID under the system temp dir. The store is
SQLite in WAL mode, so the workers write to it concurrently.

Each paper is verified once per run (quick fidelity, with mutants) through :func:`paper_results`: a file lock
per paper makes the worker that comes second wait and then read every unit from the store, instead of computing
the same units a second time. The paper tests, the notebooks and the README table all read those cached units.
The compute time of each paper's verification (the measured unit runtimes, see boundlab.costs) is written next
to the store and printed in the terminal summary; no test asserts a wall-clock time.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC = "boundlab.calibration"
_DIR_ENV = "BOUNDLAB_TEST_DIR"
_COSTS = "costs"
_OWNED = pytest.StashKey[Path]()  # the session folder this process created (and removes at the end)


def session_dir() -> Path:
    """The folder of this test run's shared store (see the module docstring)."""
    if os.environ.get(_DIR_ENV):
        return Path(os.environ[_DIR_ENV])
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not uid:
        raise RuntimeError("tests/conftest.py: pytest_configure has not set up the session store")
    return Path(tempfile.gettempdir()) / f"boundlab-tests-{uid}"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and not os.environ.get(_DIR_ENV):
        os.environ[_DIR_ENV] = tempfile.mkdtemp(prefix="boundlab-tests-")
        config.stash[_OWNED] = Path(os.environ[_DIR_ENV])
    folder = session_dir()
    (folder / _COSTS).mkdir(parents=True, exist_ok=True)
    os.environ["BOUNDLAB_STORE"] = str(folder / "results.db")


def pytest_unconfigure(config: pytest.Config) -> None:
    owned = config.stash.get(_OWNED, None)
    if owned is not None:
        shutil.rmtree(owned, ignore_errors=True)


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """An exclusive lock shared by every worker of this run (released when the block ends)."""
    with open(session_dir() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def paper_results(paper: str) -> list:
    """The paper's quick verification with mutants, from the session store (computed by the first caller)."""
    import boundlab
    from boundlab.costs import compute_cost

    with _locked(paper):
        results = boundlab.verify(paper, fidelity="quick", mutants=True)
        cost = compute_cost(results)
        record = session_dir() / _COSTS / f"{paper}.json"
        if not record.exists():
            record.write_text(json.dumps({"paper": paper, "seconds": cost.seconds, "largest": cost.largest_name,
                                          "largest_seconds": cost.largest_seconds,
                                          "units": sum(r.units["total"] for r in results),
                                          "cached": sum(r.units["cached"] for r in results)}))
    return results


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each paper's quick-verification compute time (measured unit runtimes) and the largest one."""
    if not os.environ.get(_DIR_ENV) and not os.environ.get("PYTEST_XDIST_TESTRUNUID"):
        return
    rows = [json.loads(p.read_text()) for p in sorted((session_dir() / _COSTS).glob("*.json"))]
    if not rows:
        return
    terminalreporter.section("BoundLab: quick-verification compute per paper (measured unit runtimes)")
    for row in rows:
        terminalreporter.write_line(f"{row['paper']:<32} {row['seconds']:8.1f} s   largest part {row['largest']} "
                                    f"({row['largest_seconds']:.1f} s)")
    worst = max(rows, key=lambda row: row["seconds"])
    total = sum(row["seconds"] for row in rows)
    terminalreporter.write_line(f"{'total':<32} {total:8.1f} s   largest paper {worst['paper']} "
                                f"({worst['seconds']:.1f} s); verified once per run, shared by every test")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A throw-away store, for tests of the store itself (cache, resume, --no-cache)."""
    return tmp_path / "results.db"


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m boundlab`` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "boundlab", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )
