"""Unwritable places through the real CLI, made with the immutable bit (chattr +i, which binds root too): an output
folder that cannot be written is a one-line usage error (exit 2) before anything runs, and a store that stops
accepting writes mid-run (its file and write-ahead log made immutable, as a full disk would) ends the run in one
line with exit 1, keeping every unit stored before."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0


def _immutable_supported(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    if not _chattr("+i", probe):
        return False
    try:
        (probe / "x").write_text("")
        return False  # the bit does not stop writes here
    except OSError:
        return True
    finally:
        _chattr("-i", probe)


def _stored(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM units").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_unwritable_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    if not _immutable_supported(tmp_path):
        pytest.skip("chattr +i is not available or not enforced on this filesystem")
    out = tmp_path / "out"
    out.mkdir()
    _chattr("+i", out)
    try:
        done = run_cli("report", "synthetic-calibration/mean-at-most-one", "--fidelity", "quick", "--quiet",
                       "--store", str(tmp_path / "r.db"), "-o", str(out), "--calibration-seeds", "2",
                       env={"BOUNDLAB_EXTRA_MODULES": "boundlab.calibration"})
    finally:
        _chattr("-i", out)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "-o/--output" in lines[0] and "not writable" in lines[0]
    assert not (tmp_path / "r.db").exists()  # nothing ran


def test_store_that_becomes_unwritable_mid_run(tmp_path: Path) -> None:
    if not _immutable_supported(tmp_path):
        pytest.skip("chattr +i is not available or not enforced on this filesystem")
    store = tmp_path / "r.db"
    env = {**os.environ, "BOUNDLAB_EXTRA_MODULES": "boundlab.calibration"}
    run = subprocess.Popen([sys.executable, "-m", "boundlab", "verify", "synthetic-calibration/slow-mean-at-most-one",
                            "--quiet", "--store", str(store)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    wal = Path(f"{store}-wal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (_stored(store) < 2 or not wal.exists()) and run.poll() is None:
        time.sleep(0.1)
    assert _chattr("+i", store, wal)
    try:
        kept = _stored(store)
        _, err = run.communicate(timeout=120)
    finally:
        _chattr("-i", store, wal)
    text = err.decode()
    assert run.returncode == 1, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    assert "cannot write" in text and "kept" in text
    assert kept >= 2 and _stored(store) >= kept
