"""Losing the Dask scheduler mid-run ends the run in one line with exit 1, and the units finished before are kept
and reused by the next run: a real `dask scheduler` and `dask worker`, the real CLI, the scheduler killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

SLOW = "synthetic-calibration/slow-mean-at-most-one"  # a second per unit at standard fidelity


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stored(store: Path) -> int:
    try:
        with sqlite3.connect(store) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM units").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_lost_scheduler_is_one_line_and_keeps_finished_units(tmp_path: Path) -> None:
    env = {**os.environ, "BOUNDLAB_EXTRA_MODULES": "boundlab.calibration"}
    bindir = Path(sys.executable).parent
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    scheduler = subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)
    worker = subprocess.Popen([str(bindir / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard"],
                              cwd=ROOT, env=env, **quiet)
    store = tmp_path / "r.db"
    try:
        time.sleep(3.0)
        run = subprocess.Popen([sys.executable, "-m", "boundlab", "verify", SLOW, "--fidelity", "standard",
                                "--executor", "dask", "--scheduler", address, "--quiet", "--store", str(store)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _stored(store) < 3 and run.poll() is None:
            time.sleep(0.2)
        kept = _stored(store)
        assert kept >= 3, "no unit finished before the scheduler was to be killed"
        os.killpg(scheduler.pid, signal.SIGKILL)
        _, err = run.communicate(timeout=120)
    finally:
        for process in (scheduler, worker):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    text = err.decode()
    assert run.returncode == 1, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    assert "scheduler was lost" in text and "kept" in text
    assert _stored(store) >= kept
    resumed = subprocess.run([sys.executable, "-m", "boundlab", "verify", SLOW, "--fidelity", "standard", "--json",
                              "--quiet", "--store", str(store)], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[0])["units"]["cached"] >= kept
