"""Bad input caught before any computation, through the real CLI: one line on stderr, exit 2, no traceback.

Also: a failed run keeps its exit code when stdout is a closed pipe, `claim~mutant` selectors are checked and
run the named mutant, and `--version` prints the version and the code version.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.user_papers import user_env, write_paper

SELECTOR = "online-glm-regression/regret-sigma-squared"


def _one_line_usage_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args, needles", [
    (["--executor", "dask", "--scheduler", "notaurl"], ["--scheduler", "tcp://host:port"]),
    (["--executor", "dask", "--scheduler", "foo://127.0.0.1:59999"], ["--scheduler", "not a scheduler address"]),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1"], ["no valid port"]),
    (["--seed", "9223372036854775808"], ["--seed", "2^63 - 1"]),
    (["--workers", "2"], ["--workers", "serial"]),
])
def test_bad_run_options_exit_2_before_running(args: list[str], needles: list[str], tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    done = run_cli("verify", SELECTOR, "--store", str(store), "--quiet", *args)
    _one_line_usage_error(done, *needles)
    assert not store.exists()  # nothing was computed


def test_report_into_a_file_exits_2_before_verifying(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store = tmp_path / "r.db"
    for output in (blocker, blocker / "sub"):
        done = run_cli("report", SELECTOR, "-o", str(output), "--store", str(store), "--quiet",
                       "--calibration-seeds", "1")
        _one_line_usage_error(done, "-o/--output")
    assert not store.exists()


def test_unknown_mutant_selector_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("verify", f"{SELECTOR}~no-such-mutant", "--store", str(tmp_path / "r.db"), "--quiet")
    _one_line_usage_error(done, "no-such-mutant", "sigma-linear")


def test_mutant_selector_runs_that_mutant(tmp_path: Path) -> None:
    done = run_cli("verify", f"{SELECTOR}~sigma-linear", "--store", str(tmp_path / "r.db"), "--quiet", "--json")
    assert done.returncode == 0, done.stderr
    ids = [line.split('"claim": "', 1)[1].split('"', 1)[0] for line in done.stdout.splitlines()]
    assert ids == [SELECTOR, f"{SELECTOR}~sigma-linear"]


def test_failed_run_into_a_closed_pipe_still_exits_1(tmp_path: Path) -> None:
    write_paper(tmp_path, "pipe_fail", bound="0.5", level=1.0)  # E[Q] = 1 > 0.5: the claim is violated
    env = {**user_env(tmp_path, "pipe_fail_thm")}
    command = [sys.executable, "-m", "boundlab", "verify", "pipe-fail", "--quiet", "--json",
               "--store", str(tmp_path / "r.db")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                               env={**__import__("os").environ, **env})
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the CLI writes
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert b"Traceback" not in stderr


def test_version_names_the_code_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("boundlab ") and "code " in done.stdout
